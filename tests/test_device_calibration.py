"""Device calibration: the standalone timing script on a CPU with tiny shapes, and the fit recovering
known efficiencies from synthetic timings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pacer.catalog import get_accelerator
from pacer.errors import InputError
from pacer.sizing.device_fit import fit_measurements, load_device_fits, load_run, write_fit

torch = pytest.importorskip("torch")


def test_timing_script_runs_on_cpu_with_tiny_shapes(tmp_path):
    from pacer.sizing import device_timing

    device_timing.main(["--out", str(tmp_path), "--tiny", "--budget-ms", "1"])
    table, info = load_run(tmp_path)
    assert set(table.op) == {"gemm", "attention_prefill", "attention_decode", "decode_step"}
    assert (table.seconds > 0).all() and (table.flops > 0).all() and (table.bytes > 0).all()
    assert info["device"] == "cpu" and info["rows"] == len(table)
    fit = fit_measurements(table, "h100-sxm", info)
    assert fit.gemm_mfu["bf16"] > 0 and np.isfinite(fit.step_mbu)
    out = write_fit(fit, tmp_path, target=tmp_path / "device")
    assert (out / "fit.yaml").is_file() and (out / "measurements.csv").is_file()
    assert load_device_fits(tmp_path / "device")[0]["accelerator"] == "h100-sxm"


def test_fit_recovers_known_efficiencies_from_synthetic_timings():
    spec = get_accelerator("h200")
    peak, bandwidth = spec.peak_tflops("bf16") * 1e12, spec.hbm_tbps * 1e12
    m = np.array([1, 8, 64, 512, 4096, 16384], dtype=float)
    k = n = 8192.0
    flops, nbytes = 2 * m * k * n, 2 * (m * k + k * n + m * n)
    gemm = pd.DataFrame({"op": "gemm", "dtype": "bf16", "flops": flops, "bytes": nbytes,
                         "seconds": np.maximum(flops / (peak * 0.7), nbytes / (bandwidth * 0.85)) + 5e-6})
    batch = np.tile([1.0, 16, 64, 256, 512], 2)
    context = np.repeat([512.0, 8192], 5)  # two context lengths set bytes and FLOPs apart
    step_flops, step_bytes = batch * 2e10, 1.6e10 + batch * context * 3e4
    steps = pd.DataFrame({"op": "decode_step", "dtype": "bf16", "flops": step_flops, "bytes": step_bytes,
                          "layers": 8, "seconds": step_bytes / (bandwidth * 0.9) + step_flops / (peak * 0.6) + 8e-4})
    fit = fit_measurements(pd.concat([gemm, steps], ignore_index=True), "h200")
    assert fit.gemm_mfu["bf16"] == pytest.approx(0.7, rel=0.02)
    assert fit.gemm_mbu["bf16"] == pytest.approx(0.85, rel=0.02)
    assert fit.step_mbu == pytest.approx(0.9, rel=0.03)
    assert fit.step_mfu == pytest.approx(0.6, rel=0.05)
    assert fit.layer_overhead_s == pytest.approx(1e-4, rel=0.1)


def test_measured_tables_are_kept_with_date_and_device():
    fits = load_device_fits()
    assert {f["accelerator"] for f in fits} >= {"h100-sxm", "h200"}
    for f in fits:
        assert f["device"].startswith("NVIDIA") and f["date"] and f["torch"]
        # Measured GEMMs reach a plausible share of the datasheet peak and bandwidth.
        assert 0.4 < f["gemm_mfu"]["bf16"] < 0.95 and 0.5 < f["attention_decode_mbu"] < 1.0


def test_bad_measurements_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match=r"measurements\.csv"):
        load_run(tmp_path)
    with pytest.raises(InputError, match="seconds"):
        fit_measurements(pd.DataFrame({"op": ["gemm"], "dtype": ["bf16"], "seconds": [0.0], "flops": [1.0],
                                       "bytes": [1.0]}), "h200")
