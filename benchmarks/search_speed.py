"""Speed benchmark of the vectorised configuration search.

Times :func:`pacer.size_search` (one numpy call over every accelerator x precision x layout x batch)
against evaluating the same configurations one layout at a time in a Python loop, in the same run,
and reports the ratio, configurations per second and peak memory (tracemalloc).
"""

from __future__ import annotations

import json
import time
import tracemalloc
from typing import Any

from pacer import size_search
from pacer.catalog import get_accelerator, load_catalog, load_efficiency
from pacer.sizing.hardware import PRECISIONS, default_kv_precision
from pacer.sizing.inference import evaluate_grid, layouts


def _best_of(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def looped(model: str) -> int:
    """The same grid, one (accelerator, precision, layout) row at a time."""
    eff = load_efficiency()
    n = 0
    for acc_id in load_catalog().accelerators:
        spec = get_accelerator(acc_id)
        for precision in PRECISIONS:
            if spec.peak_tflops(precision) <= 0 or precision == "fp16":
                continue
            grid = layouts(spec, None)
            for i in range(len(grid)):
                n += len(evaluate_grid(model, spec, grid.iloc[[i]], precision, default_kv_precision(precision),
                                       1000, 1000, eff))
    return n


def main_bench() -> dict[str, Any]:
    model = "llama-3.1-70b"
    size_search(model)  # warm caches
    configurations = len(size_search(model).configurations)
    vectorised_s = _best_of(lambda: size_search(model))
    looped_s = _best_of(lambda: looped(model), repeats=1)
    tracemalloc.start()
    size_search(model)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "benchmark": "search_speed",
        "model": model,
        "configurations": configurations,
        "vectorised_s": round(vectorised_s, 4),
        "looped_s": round(looped_s, 4),
        "speedup_vs_loop": round(looped_s / vectorised_s, 2),
        "configurations_per_s": round(configurations / vectorised_s),
        "peak_memory_mb": round(peak / 1e6, 1),
    }


if __name__ == "__main__":
    print(json.dumps(main_bench(), indent=2))
