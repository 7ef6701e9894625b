"""Per-operation efficiencies fitted to timings measured on a real accelerator.

``python -m pacer.sizing.device_fit MEASUREMENTS_DIR --accelerator h200`` reads what
:mod:`pacer.sizing.device_timing` wrote on the lent GPU and fits, against the catalog's peaks:

* GEMMs: ``t = max(flops / (peak * gemm_mfu), bytes / (bandwidth * gemm_mbu)) + launch_s`` per
  precision (least squares on log time), so one curve covers one decode token to a long prefill;
* prefill attention: achieved share of the bf16 peak (``attention_prefill_mfu``);
* decode attention: achieved share of HBM bandwidth streaming the KV cache (``attention_decode_mbu``);
* whole decode steps: ``t = bytes / (bandwidth * step_mbu) + flops / (peak * step_mfu) + layers *
  layer_overhead_s``, the same sum of rooflines the sizing model uses for a decode step.

``--write`` keeps the measurements and the fit as data in ``catalog/device/`` (named by date and
accelerator), with the device name and torch version, so the tables can be compared with the
efficiencies fitted to published figures (docs/sizing.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy.optimize import least_squares

from pacer.catalog import get_accelerator
from pacer.catalog.loader import CATALOG_DIR
from pacer.errors import InputError

DEVICE_DIR = CATALOG_DIR / "device"


@dataclass(frozen=True)
class DeviceFit:
    """Fitted per-operation efficiencies (shares of the catalog's dense peak and HBM bandwidth)."""

    accelerator: str
    device: str
    date: str
    torch: str
    gemm_mfu: dict[str, float]
    gemm_mbu: dict[str, float]
    gemm_launch_s: dict[str, float]
    attention_prefill_mfu: float
    attention_decode_mbu: float
    step_mbu: float
    step_mfu: float
    layer_overhead_s: float
    median_abs_error: dict[str, float]


def _fit_roofline(flops: np.ndarray, nbytes: np.ndarray, seconds: np.ndarray, peak: float, bandwidth: float,
                  additive: bool) -> tuple[np.ndarray, float]:
    """Fit (mfu, mbu, fixed seconds) of a max- or sum-of-rooflines time model; returns them and the
    median absolute relative error."""

    def model(x: np.ndarray) -> np.ndarray:
        mfu, mbu, fixed = np.exp(x)
        compute, memory = flops / (peak * mfu), nbytes / (bandwidth * mbu)
        return (compute + memory if additive else np.maximum(compute, memory)) + fixed

    start = np.log([0.6, 0.7, max(float(np.min(seconds)) * 0.3, 1e-7)])
    low, high = np.log([1e-4, 1e-4, 1e-9]), np.log([1.2, 1.2, 1.0])
    fit = least_squares(lambda x: np.log(model(x) / seconds), np.clip(start, low, high), bounds=(low, high))
    error = float(np.median(np.abs(model(fit.x) / seconds - 1.0)))
    return np.exp(fit.x), error


def fit_measurements(table: pd.DataFrame, accelerator: str, info: dict[str, str] | None = None) -> DeviceFit:
    """Fit the per-operation efficiencies of ``table`` (``measurements.csv``) on catalog ``accelerator``."""
    spec = get_accelerator(accelerator)
    need = {"op", "dtype", "seconds", "flops", "bytes"}
    if missing := need - set(table.columns):
        raise InputError("measurements", sorted(missing), "columns missing from measurements.csv")
    if (table.seconds <= 0).any() or table.seconds.isna().any():
        raise InputError("measurements.seconds", float(table.seconds.min()), "must be > 0")
    bandwidth = spec.hbm_tbps * 1e12
    bf16_peak = spec.peak_tflops("bf16") * 1e12
    errors: dict[str, float] = {}
    gemm_mfu, gemm_mbu, launch = {}, {}, {}
    for dtype, rows in table[table.op == "gemm"].groupby("dtype"):
        peak = spec.peak_tflops(str(dtype)) * 1e12
        if peak <= 0:
            continue
        (mfu, mbu, fixed), err = _fit_roofline(rows.flops.to_numpy(float), rows.bytes.to_numpy(float),
                                               rows.seconds.to_numpy(float), peak, bandwidth, additive=False)
        gemm_mfu[str(dtype)], gemm_mbu[str(dtype)], launch[str(dtype)] = float(mfu), float(mbu), float(fixed)
        errors[f"gemm_{dtype}"] = err
    prefill = table[table.op == "attention_prefill"]
    decode = table[table.op == "attention_decode"]
    prefill_mfu = float(np.median(prefill.flops / prefill.seconds / bf16_peak)) if len(prefill) else float("nan")
    decode_mbu = float(np.median(decode.bytes / decode.seconds / bandwidth)) if len(decode) else float("nan")
    steps = table[table.op == "decode_step"]
    step_mfu = step_mbu = overhead = float("nan")
    if len(steps) >= 3:
        layers = steps.layers.to_numpy(float)
        (step_mfu, step_mbu, fixed), err = _fit_roofline(
            steps.flops.to_numpy(float), steps.bytes.to_numpy(float), steps.seconds.to_numpy(float), bf16_peak,
            bandwidth, additive=True)
        overhead = float(fixed / np.median(layers))
        errors["decode_step"] = err
        # The same steps with compute and memory overlapped (max instead of sum), for comparison.
        errors["decode_step_overlapped"] = _fit_roofline(
            steps.flops.to_numpy(float), steps.bytes.to_numpy(float), steps.seconds.to_numpy(float), bf16_peak,
            bandwidth, additive=False)[1]
    info = info or {}
    return DeviceFit(
        accelerator=accelerator, device=str(info.get("device", "")), date=str(info.get("date", "")),
        torch=str(info.get("torch", "")), gemm_mfu=gemm_mfu, gemm_mbu=gemm_mbu, gemm_launch_s=launch,
        attention_prefill_mfu=prefill_mfu, attention_decode_mbu=decode_mbu, step_mbu=float(step_mbu),
        step_mfu=float(step_mfu), layer_overhead_s=overhead, median_abs_error=errors,
    )


def load_run(folder: Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """``measurements.csv`` and ``device.json`` of one timing run."""
    path = folder / "measurements.csv"
    if not path.is_file():
        raise InputError("measurements", str(path), "no measurements.csv in this folder")
    info_path = folder / "device.json"
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    return pd.read_csv(path), info


def write_fit(fit: DeviceFit, folder: Path, target: Path = DEVICE_DIR) -> Path:
    """Keep the measurements and the fit under ``catalog/device/<date>-<accelerator>``."""
    out = target / f"{fit.date or 'undated'}-{fit.accelerator}"
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(folder / "measurements.csv", out / "measurements.csv")
    (out / "fit.yaml").write_text(yaml.safe_dump(_rounded(asdict(fit)), sort_keys=False))
    return out


def _rounded(value: object) -> object:
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def load_device_fits(target: Path = DEVICE_DIR) -> list[dict[str, object]]:
    """Every fit kept in ``catalog/device/``, newest first."""
    fits = [yaml.safe_load(p.read_text()) for p in sorted(target.glob("*/fit.yaml"), reverse=True)]
    return [f for f in fits if isinstance(f, dict)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder with measurements.csv and device.json")
    parser.add_argument("--accelerator", required=True, help="catalog id of the timed accelerator (h100-sxm, h200)")
    parser.add_argument("--write", action="store_true", help="keep measurements and fit in catalog/device/")
    args = parser.parse_args(argv)
    table, info = load_run(args.folder)
    fit = fit_measurements(table, args.accelerator, info)
    print(yaml.safe_dump(_rounded(asdict(fit)), sort_keys=False))
    if args.write:
        print(f"wrote {write_fit(fit, args.folder)}")


if __name__ == "__main__":
    main()
