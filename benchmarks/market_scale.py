"""Benchmark: a 32-quarter market with 6 providers and 4 tenants (target: under 30 s on 2 cores).

Providers have five projects each (live to land), their own fleets and prices; tenants have growing
demand, two under exclusivity then a right of first refusal, one with a take-or-pay contract. Runs with
the default executor (a process pool: the providers' re-plans of a quarter run in parallel) and with the
local one, reports both times, whether the results are identical, re-plans, and peak memory.

``seed_replan_trees``: the seed market with providers re-planning on small trees (3 leaves, the default)
against one expected path (``market.replan_leaves: 1``), timed in one run: the ratio says what the trees
cost.
"""

from __future__ import annotations

import copy
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from pacer.market import simulate
from pacer.scenario import parse_scenario

SEED = Path(__file__).resolve().parents[1] / "examples" / "seed-2025" / "scenario.yaml"
TARGET_S = 30.0
STAGES = ("live", "fit-out", "power", "shell", "land")


def market_scenario(n_providers: int = 6, n_tenants: int = 4) -> dict[str, Any]:
    raw = yaml.safe_load(SEED.read_text())
    economics = raw["market"]["providers"][1]["economics"]
    providers = []
    for i in range(n_providers):
        projects = [{"id": f"p{i}-{stage}", "region": "us" if k % 2 == 0 else "eu", "power_mw": 80 + 40 * k,
                     "ownership": "owned" if (i + k) % 2 == 0 else "leased", "stage": stage}
                    for k, stage in enumerate(STAGES)]
        for p in projects:
            if p["ownership"] == "leased":
                p["lease"] = {"rent_usd_per_kw_month": 150}
        providers.append({"name": f"provider-{i}", "kind": "cloud", "ask_usd_per_h100e_hour": 2.2 + 0.05 * i,
                          "economics": copy.deepcopy(economics), "projects": projects,
                          "fleet": [{"accelerator": "h100-sxm", "region": "us", "gpus": 20000 + 5000 * i,
                                     "bought": "2023Q1"}]})
    tenants = [{"name": f"tenant-{j}", "bid_usd_per_h100e_hour": 3.0,
                "demand": {"start_kh100e": 15 + 10 * j, "annual_growth": 0.8 + 0.2 * j, "region": "us"}}
               for j in range(n_tenants)]
    contracts = [
        {"type": "exclusivity", "tenant": "tenant-0", "provider": "provider-0", "start": "2023Q1", "end": "2024Q4",
         "exceptions": [{"provider": "provider-1", "cap_kh100e": 10}]},
        {"type": "rofr", "tenant": "tenant-0", "holder": "provider-0", "window_quarters": 2, "start": "2025Q1"},
        {"type": "exclusivity", "tenant": "tenant-1", "provider": "provider-2", "start": "2023Q1", "end": "2025Q4"},
        {"type": "rofr", "tenant": "tenant-1", "holder": "provider-2", "window_quarters": 1, "start": "2026Q1"},
        {"type": "take_or_pay", "tenant": "tenant-2", "provider": "provider-3", "volume_kh100e": 20,
         "price_usd_per_h100e_hour": 2.4, "start": "2024Q1", "end": "2028Q4"},
    ]
    raw["market"] = {"providers": providers, "tenants": tenants, "contracts": contracts,
                     "realised": {"quantile": 0.5, "paths": 400, "seed": 5}}
    raw.pop("provider")
    return raw


def seed_replan_trees() -> dict[str, Any]:
    raw = yaml.safe_load(SEED.read_text())
    times = {}
    for leaves in (1, 3):
        raw["market"]["replan_leaves"] = leaves
        start = time.perf_counter()
        simulate(parse_scenario(copy.deepcopy(raw), SEED.parent), executor="processes")
        times[leaves] = time.perf_counter() - start
    return {"seconds_one_path": round(times[1], 1), "seconds_trees_3_leaves": round(times[3], 1),
            "trees_over_one_path": round(times[3] / times[1], 2)}


def main_bench() -> dict[str, Any]:
    scenario = parse_scenario(market_scenario(), SEED.parent)
    runs = {}
    for executor in ("processes", "local"):
        start = time.perf_counter()
        result = simulate(scenario, executor=executor)
        runs[executor] = (time.perf_counter() - start, result)
    seconds, result = runs["processes"]
    counts: dict[str, int] = {}
    for e in result.events:
        counts[e["type"]] = counts.get(e["type"], 0) + 1
    same = runs["local"][1].events == result.events and runs["local"][1].providers.equals(result.providers)
    return {
        "benchmark": "market_scale",
        "quarters": len(result.quarters),
        "providers": len(result.provider_names),
        "tenants": len(result.tenant_names),
        "seconds": round(seconds, 2),
        "target_seconds": TARGET_S,
        "seconds_over_target": round(seconds / TARGET_S, 3),
        "meets_target": seconds < TARGET_S,
        "seconds_local_executor": round(runs["local"][0], 2),
        "speedup_processes_over_local": round(runs["local"][0] / seconds, 2),
        "identical_results_across_executors": bool(same),
        "replans": int(result.timings["solves"]),
        "planning_cpu_seconds": round(result.timings["solve_seconds"], 2),
        "events": counts,
        "checks": result.checks(),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "seed_replan_trees": seed_replan_trees(),
    }


if __name__ == "__main__":
    json.dump(main_bench(), sys.stdout, indent=2)
    print()
