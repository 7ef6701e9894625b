"""Sizing fidelity across vendors and stacks: leave-one-source-out cross-validated error of the calibration.

For each section (inference throughput, training throughput and GPU-hours) the calibration is refitted
with each source (publication) of ``tests/validation/calibration/`` left out in turn, and that source's
rows are predicted with the refit: the error a new, unseen source should expect. Printed as one JSON
object: cross-validated and in-sample median absolute errors overall, per vendor and per stack, against
the targets (10% overall, 15% for every vendor), and the size of the set. Takes about three minutes on
two cores.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pacer.sizing.calibration import cross_validate, error_summary, fit, load_targets, section_of

TARGET_OVERALL = 0.10
TARGET_PER_VENDOR = 0.15


def main_bench() -> dict[str, Any]:
    started = time.perf_counter()
    table = load_targets()
    used = table[[section_of(r) is not None for r in table.to_dict("records")]]
    reports, in_sample = [], []
    out: dict[str, Any] = {"benchmark": "sizing_calibration", "rows": len(used),
                           "accelerators": int(used.accelerator.nunique()), "vendors": int(used.vendor.nunique()),
                           "sources": int(used.source_group.nunique())}
    for section in ("inference", "training"):
        cv = cross_validate(section, table)
        fitted = fit(section, table).report
        reports.append(cv.assign(section=section))
        in_sample.append(fitted.assign(section=section))
        out[section] = {"cross_validated": error_summary(cv), "in_sample": error_summary(fitted)}
        print(f"[{section}] cross-validated by source:\n"
              + cv.assign(abs_error=cv.relative_error.abs()).groupby("source_group").abs_error.median()
              .sort_values().to_string(), file=sys.stderr)
    both = pd.concat(reports, ignore_index=True)
    overall = error_summary(both)
    out["overall"] = {"cross_validated": overall, "in_sample": error_summary(pd.concat(in_sample, ignore_index=True))}
    out["targets"] = {
        "overall": TARGET_OVERALL, "per_vendor": TARGET_PER_VENDOR,
        "overall_met": overall["median_abs_error"] <= TARGET_OVERALL,
        "per_vendor_met": {v: e <= TARGET_PER_VENDOR for v, e in overall["per_vendor"].items()},
    }
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


if __name__ == "__main__":
    print(json.dumps(main_bench(), indent=2))
