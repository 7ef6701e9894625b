"""Benchmark: sample 10,000 demand paths over 32 quarters and reduce them to a 50-leaf tree.

Reports time of each step, peak memory (tracemalloc) and how well the tree keeps the sampled mean.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

from pacer.demand import forecast, reduce_to_tree, sample_growth_paths

SEED = Path(__file__).resolve().parents[1] / "examples" / "seed-2025" / "scenario.yaml"


def main_bench() -> dict[str, Any]:
    tracemalloc.start()
    start = time.perf_counter()
    paths = sample_growth_paths(10_000, 32, [0.6, 1.2], [0.3, 0.5], shock_probability_per_year=[0.2, 0.2],
                                shock_size=[-0.4, -0.3], seed=0)
    sampled_s = time.perf_counter() - start
    start = time.perf_counter()
    tree = reduce_to_tree(paths, [4, 8, 12], 50, drivers=["training", "inference"])
    reduced_s = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    mean_error = np.abs(tree.expected().to_numpy() / paths.mean(axis=0) - 1).max()
    forecast(SEED, paths=100, leaves=5)  # warm the sizing caches
    tracemalloc.start()
    start = time.perf_counter()
    seed = forecast(SEED, paths=10_000, leaves=50)
    forecast_s = time.perf_counter() - start
    _, forecast_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "benchmark": "scenario_tree",
        "paths": paths.shape[0],
        "quarters": paths.shape[1],
        "leaves": tree.n_leaves,
        "nodes": len(tree.nodes),
        "sample_s": round(sampled_s, 4),
        "reduce_s": round(reduced_s, 4),
        "peak_memory_mb": round(peak / 1e6, 1),
        "max_relative_mean_error": float(mean_error),
        "seed_forecast_10k_paths_50_leaves_s": round(forecast_s, 3),
        "seed_forecast_peak_memory_mb": round(forecast_peak / 1e6, 1),
        "seed_forecast_nodes": len(seed.tree.nodes),
    }


if __name__ == "__main__":
    print(json.dumps(main_bench(), indent=2))
