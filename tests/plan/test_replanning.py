"""Re-planning policies (rolling_stochastic, rolling_deterministic) and the evaluation's statistics."""

from __future__ import annotations

import numpy as np
import pytest

from pacer.plan import plan
from pacer.scenario import parse_scenario

from .conftest import mini


def _certain(tmp_path) -> dict:
    """mini with one demand scenario known in advance (a table with probability 1)."""
    quarters = [f"{y}Q{q}" for y in (2025, 2026, 2027) for q in (1, 2, 3, 4)]
    rows = ["scenario,probability,quarter,region,workload,gpus_h100e"]
    for i, q in enumerate(quarters):
        rows.append(f"only,1.0,{q},us,inference,{8000 * 1.3 ** i:.0f}")
        rows.append(f"only,1.0,{q},us,training,{3000 + 500 * i}")
    (tmp_path / "demand.csv").write_text("\n".join(rows) + "\n")
    raw = mini()
    raw["demand"] = {"table": "demand.csv", "uncertainty": {"paths": 50, "leaves": 1}}
    return raw


def test_replanning_with_a_certain_future_changes_nothing(tmp_path):
    """Bellman: with the future known, re-solving from the state reached keeps the plan's value, so both
    re-planning policies score what the one-shot deterministic plan scores. Any slip in carrying the
    state (shares, stage progress, GPUs, book value, drops) between epochs breaks the equality."""
    s = parse_scenario(_certain(tmp_path), tmp_path)
    ev = plan(s, perfect_foresight_paths=0, evaluation_paths=3, rolling_paths=2).evaluation
    once = ev["rolling_same_paths_mean_npv_usd"]["deterministic"]
    assert ev["rolling_deterministic"]["mean_npv_usd"] == pytest.approx(once, rel=1e-6)
    assert ev["rolling_stochastic"]["mean_npv_usd"] == pytest.approx(once, rel=1e-6)
    assert ev["rolling_value_of_stochastic_solution_usd"] == pytest.approx(0, abs=1e-6 * abs(once))


def test_replanning_policies_are_reported_with_standard_errors():
    ev = plan(parse_scenario(mini()), perfect_foresight_paths=2, evaluation_paths=20, rolling_paths=3).evaluation
    for name in ("stochastic", "deterministic", "build_all", "never_build", "rolling_stochastic",
                 "rolling_deterministic"):
        assert {"mean_npv_usd", "cvar_npv_usd", "mean_npv_stderr_usd"} <= set(ev[name]), name
        assert ev[name]["mean_npv_stderr_usd"] > 0, name  # paths differ, so the mean is uncertain
        assert ev[name]["cvar_npv_usd"] <= ev[name]["mean_npv_usd"] + 1e-6
    assert ev["rolling_stochastic"]["paths"] == 3
    assert ev["value_of_stochastic_solution_stderr_usd"] > 0
    assert np.isfinite(ev["expected_value_of_perfect_information_stderr_usd"])
    assert np.isfinite(ev["rolling_value_of_stochastic_solution_stderr_usd"])
