"""A small market: three providers, two tenants, twelve quarters (solves in seconds)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

ECONOMICS = {
    "revenue_usd_per_h100e_hour": {"training": 2.2, "inference": 2.6},
    "third_party_usd_per_h100e_hour": {"training": 2.8, "inference": 2.8},
    "unserved_penalty_usd_per_h100e_hour": {"training": 0.5, "inference": 0.5},
}

SMALL: dict[str, Any] = {
    "name": "small-market",
    "horizon": {"start": "2025Q1", "end": "2027Q4"},
    "regions": ["us"],
    "roadmap": [{"accelerator": "h100-sxm", "available": "2025Q1"}, {"accelerator": "b200", "available": "2025Q3"}],
    "demand": {
        "training": [{"name": "lab training", "model": "llama-3.1-70b", "train_flops": 2.0e24, "start": "2025Q1",
                      "duration_quarters": 1, "repeat_every_quarters": 1, "region": "us", "tenant": "lab"}],
        "inference": [{"name": "lab api", "model": "llama-3.1-70b", "tokens_per_day": 2.0e10, "region": "us",
                       "tenant": "lab"}],
        "uncertainty": {"paths": 100, "leaves": 1},
    },
    "market": {
        "replan_every_quarters": 4,
        "realised": {"quantile": 0.5, "paths": 60, "seed": 3},
        "providers": [
            {"name": "big", "kind": "hyperscaler", "ask_usd_per_h100e_hour": 2.0, "absorbs": False,
             "economics": ECONOMICS, "fleet": [{"accelerator": "h100-sxm", "region": "us", "gpus": 5000,
                                                "bought": "2025Q1"}],
             "projects": [
                 {"id": "big-live", "region": "us", "power_mw": 20, "ownership": "owned", "stage": "live"},
                 {"id": "big-land-1", "region": "us", "power_mw": 300, "ownership": "owned", "stage": "land"},
                 {"id": "big-land-2", "region": "us", "power_mw": 300, "ownership": "leased", "stage": "land",
                  "lease": {"rent_usd_per_kw_month": 150}},
             ]},
            {"name": "rival", "kind": "cloud", "ask_usd_per_h100e_hour": 2.2, "economics": ECONOMICS,
             "fleet": [{"accelerator": "h100-sxm", "region": "us", "gpus": 2000, "bought": "2025Q1"}],
             "projects": [{"id": "rival-live", "region": "us", "power_mw": 5, "ownership": "owned",
                           "stage": "live"}]},
            {"name": "neo", "kind": "neocloud", "ask_usd_per_h100e_hour": 2.4, "economics": ECONOMICS,
             "fleet": [{"accelerator": "h100-sxm", "region": "us", "gpus": 2000, "bought": "2025Q1"}],
             "projects": [{"id": "neo-live", "region": "us", "power_mw": 5, "ownership": "leased", "stage": "live",
                           "lease": {"rent_usd_per_kw_month": 160}}]},
        ],
        "tenants": [
            {"name": "lab", "demand_tenant": "lab", "bid_usd_per_h100e_hour": 3.0},
            {"name": "startup", "bid_usd_per_h100e_hour": 3.0,
             "demand": {"start_kh100e": 2.0, "annual_growth": 2.0, "region": "us"}},
        ],
        "contracts": [
            {"type": "exclusivity", "tenant": "lab", "provider": "big", "start": "2025Q1", "end": "2025Q4",
             "exceptions": [{"provider": "neo", "cap_kh100e": 1.0}]},
            {"type": "rofr", "tenant": "lab", "holder": "big", "window_quarters": 1, "start": "2026Q1"},
            {"type": "take_or_pay", "tenant": "startup", "provider": "neo", "volume_kh100e": 1.5,
             "price_usd_per_h100e_hour": 2.5, "start": "2025Q1"},
        ],
    },
}


@pytest.fixture
def small_market() -> dict[str, Any]:
    return copy.deepcopy(SMALL)
