"""Benchmark: the run list with 1,000 stored runs stays fast (page and API), against 10 runs.

Runs are stored with realistic metrics, tables and a chart each; the page and the JSON list are timed
with FastAPI's test client (median of five loads). Target: the page in under 0.5 s.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from pacer.store import RunStore
from pacer.web import create_app

TARGET_S = 0.5
FIGURE = json.dumps({"data": [{"x": list(range(32)), "y": list(range(32)), "type": "scatter"}], "layout": {}})


def _fill(store: RunStore, n: int) -> None:
    table = pd.DataFrame({"quarter": [f"2025Q{q % 4 + 1}" for q in range(32)], "mw": range(32)})
    for i in range(n):
        store.save("plan" if i % 3 else "simulate", scenario_name=f"scenario-{i % 7}", scenario_path=None,
                   scenario_text=f"name: scenario-{i % 7}", parameters={"leaves": 8},
                   metrics={"objective_usd": 1e9 + i, "gap": 0.0, "solve_seconds": 50.0},
                   result={"status": "optimal", "decisions": [{"project": "p", "node": k} for k in range(50)]},
                   tables={"decisions": table}, figures=[("chart", "a chart", FIGURE)], seconds=60.0)


def _median_seconds(client: Any, url: str) -> float:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200
    return statistics.median(times)


def main_bench() -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    out: dict[str, Any] = {"benchmark": "web_runs"}
    with tempfile.TemporaryDirectory() as folder:
        for n in (10, 1000):
            store = RunStore(Path(folder) / f"runs-{n}.duckdb")
            start = time.perf_counter()
            _fill(store, n)
            fill = time.perf_counter() - start
            client = TestClient(create_app(store))
            out[f"runs_{n}"] = {
                "store_seconds_per_run": round(fill / n, 4),
                "page_seconds": round(_median_seconds(client, "/runs"), 4),
                "api_seconds": round(_median_seconds(client, "/api/runs?limit=1000"), 4),
                "page_bytes": len(client.get("/runs").content),
            }
    big, small = out["runs_1000"], out["runs_10"]
    out |= {"target_page_seconds": TARGET_S, "meets_target": big["page_seconds"] < TARGET_S,
            "page_time_ratio_1000_over_10": round(big["page_seconds"] / small["page_seconds"], 2)}
    return out


if __name__ == "__main__":
    json.dump(main_bench(), sys.stdout, indent=2)
    print()
