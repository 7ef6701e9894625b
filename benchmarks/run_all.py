"""Run every benchmark and print one JSON object keyed by benchmark name."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import (
    market_scale,
    plan_scaling,
    replanning,
    scenario_tree,
    search_speed,
    sizing_calibration,
    validation,
    web_runs,
)

if __name__ == "__main__":
    results = {}
    for module in (validation, sizing_calibration, search_speed, scenario_tree, plan_scaling, replanning,
                   market_scale, web_runs):
        data = module.main_bench()
        results[data.pop("benchmark")] = data
    print(json.dumps(results, indent=2))
