"""Benchmark: planner model build and solve time against size (projects x tree nodes), and memory.

Sizes replicate the seed example's pipeline (40 projects) and grow its tree, up to 200 projects and
about 500 nodes. Targets for the seed size: build < 2 s, solve < 60 s on 2 cores. Larger sizes run with
a solve time limit and report the status reached.
"""

from __future__ import annotations

import copy
import json
import resource
import sys
import time
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

import yaml

from pacer.demand import forecast
from pacer.plan import build_problem
from pacer.plan.model import build_model
from pacer.plan.solve import solve_problem
from pacer.scenario import parse_scenario

SEED = Path(__file__).resolve().parents[1] / "examples" / "seed-2025" / "scenario.yaml"
#: (projects, leaves, solve time limit in s); leaves 24 with the seed's branching gives 528 nodes.
SIZES = ((10, 4, 60), (40, 8, 120), (100, 16, 180), (200, 24, 240))


def scenario_of(projects: int) -> Any:
    raw = yaml.safe_load(SEED.read_text())
    base = raw["provider"]["projects"]
    out = []
    for i in range(projects):
        p = copy.deepcopy(base[i % len(base)])
        p["id"] = f"{p['id']}-{i // len(base)}"
        out.append(p)
    raw["provider"]["projects"] = out
    return parse_scenario(raw, SEED.parent)


def main_bench(sizes: tuple[tuple[int, int, int], ...] = SIZES) -> dict[str, Any]:
    rows = []
    for projects, leaves, limit in sizes:
        s = scenario_of(projects)
        problem = build_problem(s, forecast(s, leaves=leaves))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            pm = build_model(problem)
            build_s = time.perf_counter() - start  # timed without tracemalloc, which slows allocation
            del pm
            tracemalloc.start()
            pm = build_model(problem)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        rows_count = int(pm.model.constraints.ncons)
        cols_count = int(pm.model.variables.nvars)
        del pm
        try:
            outcome = solve_problem(problem, time_limit_s=limit)
            status, solve_s, gap = outcome.status, outcome.solve_seconds, outcome.mip_gap
        except Exception as exc:  # a time-out before any plan is a result here
            status, solve_s, gap = f"no plan: {str(exc)[:80]}", float(limit), None
        rows.append({"projects": projects, "nodes": len(problem.nodes), "constraints": rows_count,
                     "variables": cols_count, "build_s": round(build_s, 2), "solve_s": round(solve_s, 1),
                     "status": status, "gap": gap, "build_peak_memory_mb": round(peak / 1e6, 1)})
        print(json.dumps(rows[-1]), file=sys.stderr)
    seed = next(r for r in rows if r["projects"] == 40)
    return {"benchmark": "plan_scaling", "sizes": rows,
            "seed_build_s": seed["build_s"], "seed_solve_s": seed["solve_s"],
            "seed_targets_met": seed["build_s"] < 2 and seed["solve_s"] < 60,
            "process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, 1)}


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    print(json.dumps(main_bench(SIZES[:2] if quick else SIZES), indent=2))
