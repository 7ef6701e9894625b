"""The fitted model generalises: figures it was never fitted to (tests/validation/holdout.csv)."""

import statistics
from pathlib import Path

import pytest
from benchmarks.validation import error_of, estimate

from pacer.sizing.calibration import load_targets

ROWS = [r for r in load_targets(Path(__file__).with_name("holdout.csv")).to_dict("records")
        if not (r["kind"] == "training" and r["metric"] == "tflops_per_gpu" and r["train_tokens"] != r["train_tokens"])]


@pytest.mark.validation
def test_holdout_throughput_median_error():
    rows = [r for r in ROWS if r["metric"] == "max_output_tokens_per_s"]
    errors = [abs(error_of(r, estimate(r))) for r in rows]
    assert len(rows) >= 10
    assert statistics.median(errors) <= 0.15


@pytest.mark.validation
@pytest.mark.parametrize("row", [r for r in ROWS if r["metric"] == "fits"], ids=lambda r: r["id"])
def test_holdout_fits(row):
    assert estimate(row) == float(row["value"])
