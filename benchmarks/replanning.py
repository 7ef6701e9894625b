"""Benchmark: judge the seed's plan the way planners use it, re-planning every year.

Runs the seed's evaluation with the re-planning policies (``rolling_stochastic`` on a 4-leaf tree,
``rolling_deterministic`` on the mean) on ``--paths`` fresh demand paths, and prints each policy's mean
NPV with its standard error, and the paired difference of the two re-planning policies with its
standard error (the question: does planning on a tree beat planning to the mean when both re-plan?).

``python benchmarks/replanning.py [--paths N] [--workers W]`` prints JSON.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import Any

SEED = Path(__file__).resolve().parents[1] / "examples" / "seed-2025" / "scenario.yaml"


def main_bench(paths: int = 24, workers: int = 2) -> dict[str, Any]:
    from pacer.plan import plan
    from pacer.scenario import load_scenario

    warnings.simplefilter("ignore")
    start = time.perf_counter()
    ev = plan(load_scenario(SEED), perfect_foresight_paths=0, evaluation_paths=max(paths, 50), rolling_paths=paths,
              workers=workers).evaluation
    bn = lambda v: round(v / 1e9, 2)  # noqa: E731
    same = ev["rolling_same_paths_mean_npv_usd"]
    return {
        "benchmark": "replanning", "paths": paths, "workers": workers,
        "seconds": round(time.perf_counter() - start, 1),
        "mean_npv_usd_bn": {k: bn(v) for k, v in same.items()},
        "stderr_usd_bn": {k: bn(ev[k]["mean_npv_stderr_usd"]) for k in ("rolling_stochastic", "rolling_deterministic")},
        "rolling_stochastic_minus_deterministic_usd_bn": bn(ev["rolling_value_of_stochastic_solution_usd"]),
        "paired_stderr_usd_bn": bn(ev["rolling_value_of_stochastic_solution_stderr_usd"]),
        "beyond_standard_error": ev["rolling_value_of_stochastic_solution_usd"]
        > ev["rolling_value_of_stochastic_solution_stderr_usd"],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--paths", type=int, default=24)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(main_bench(args.paths, args.workers), indent=2))
