from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

SEED = Path(__file__).resolve().parents[2] / "examples" / "seed-2025" / "scenario.yaml"
_RAW = yaml.safe_load(SEED.read_text())


@pytest.fixture
def seed_raw() -> dict[str, Any]:
    """A fresh, mutable copy of the seed example as plain data (without its market, facts and calibration
    record: demand tests edit the workloads the market's tenants refer to, and the horizon facts lie in)."""
    raw = copy.deepcopy(_RAW)
    for section in ("market", "facts", "calibrated"):
        raw.pop(section, None)
    return raw


def small(raw: dict[str, Any], paths: int = 200, leaves: int = 8) -> dict[str, Any]:
    raw = copy.deepcopy(raw)
    raw["demand"]["uncertainty"].update(paths=paths, leaves=leaves)
    return raw
