from __future__ import annotations

import copy
from typing import Any

MINI: dict[str, Any] = {
    "name": "mini",
    "horizon": {"start": "2025Q1", "end": "2027Q4"},
    "regions": ["us"],
    "roadmap": [{"accelerator": "h100-sxm", "available": "2025Q1"}, {"accelerator": "b200", "available": "2025Q3"}],
    "demand": {
        "inference": [{"name": "svc", "model": "llama-3.1-70b", "tokens_per_day": 5.0e11, "tpot_ms": 50,
                       "region": "us"}],
        "uncertainty": {"paths": 200, "leaves": 4, "branch_quarters": ["2026Q1"], "seed": 1},
    },
    "provider": {
        "economics": {"revenue_usd_per_h100e_hour": {"training": 2.0, "inference": 2.5},
                      "third_party_usd_per_h100e_hour": {"training": 2.6, "inference": 2.8}},
        "projects": [
            {"id": "live-1", "region": "us", "power_mw": 50, "ownership": "owned", "stage": "live"},
            {"id": "shell-1", "region": "us", "power_mw": 100, "ownership": "owned", "stage": "shell"},
            {"id": "land-1", "region": "us", "power_mw": 200, "ownership": "leased", "stage": "land",
             "lease": {"rent_usd_per_kw_month": 150}},
        ],
        "evaluation": {"paths": 60, "perfect_foresight_paths": 2},
    },
}


def mini(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(MINI)
    raw.update(changes)
    return raw
