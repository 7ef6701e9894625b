"""Every published figure in ../shared/validation/published.csv, run through the CLI, within tolerance.

Tolerances are stated per metric: measurements of real systems with real software, judged by
relative error. Training GPU-hours carry the widest band because reported hours include restarts,
ablations and post-training that vary between labs (Llama 3.1 8B is the outlier: its reported hours
imply about half the utilisation of the 405B run on the same cluster).
"""

from __future__ import annotations

import statistics

import pytest
from benchmarks.validation import error_of, estimate, published_rows

TOLERANCE = {
    "max_output_tokens_per_s": 0.15,
    "tflops_per_gpu": 0.15,
    "gpu_hours": 0.25,
    "train_flops": 0.05,
    "fits": 0.0,
    "server_power_kw": 0.02,
    "all_in_it_power_w": 0.05,
}

ROWS = published_rows().to_dict("records")
#: Rows known to disagree with the calibrated model, each with the reason. Strict: if one starts to pass,
#: the test says so and the entry goes.
KNOWN_OFF = {
    "T3": "Llama 3.1 8B's reported GPU-hours imply about 14% MFU, a third of what Meta's 405B run on the same "
          "cluster and every published 8B throughput measurement in the calibration set (NeMo, torchtitan, "
          "MLPerf Training) reach; pacer sizes a run at the measured utilisation.",
}


def _marked(row):
    reason = KNOWN_OFF.get(row["id"])
    return pytest.param(row, id=row["id"], marks=pytest.mark.xfail(reason=reason, strict=True)) if reason else \
        pytest.param(row, id=row["id"])


@pytest.mark.validation
@pytest.mark.parametrize("row", [_marked(r) for r in ROWS])
def test_row_within_tolerance(row):
    value = estimate(row)
    error = error_of(row, value)
    assert abs(error) <= TOLERANCE[row["metric"]], f"{row['id']}: estimate {value:.4g} vs {row['value']}"


@pytest.mark.validation
def test_median_error_at_most_5_percent():
    """The project's published figures stay within 5% median while the fit spans every vendor and stack."""
    rows = [r for r in ROWS if r["kind"] in ("training", "inference")]
    errors = [abs(error_of(r, estimate(r))) for r in rows]
    assert len(errors) >= 10
    assert statistics.median(errors) <= 0.05


@pytest.mark.validation
def test_command_a_two_h100_fp8_fits_bf16_does_not():
    row = {"id": "x", "kind": "inference", "model": "command-a", "accelerator": "h100-sxm", "count": 2,
           "input_tokens": None, "output_tokens": None, "metric": "fits", "value": 1}
    assert estimate(row | {"precision": "fp8"}) == 1.0
    assert estimate(row | {"precision": "bf16"}) == 0.0
