"""The one place where the sizing model's efficiency factors are fitted to published measurements.

``python -m pacer.sizing.calibration`` fits every factor marked ``fitted: true`` in
``catalog/efficiency.yaml`` to the targets in ``catalog/calibration_targets.csv`` by least squares on
log errors, with a weak pull of each factor toward a physically plausible prior (so that a handful
of measurements cannot drive a factor to a nonsensical value that would not generalise). ``--write``
stores the fitted values in ``efficiency.yaml``.

:func:`predict` turns one row of a published-figures table into pacer's estimate of the same metric;
the validation tests and ``make bench`` use it too, so all three judge the same code path.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from pacer.catalog import Efficiency, get_accelerator, get_model, load_efficiency, load_facilities
from pacer.catalog.loader import CATALOG_DIR
from pacer.errors import InputError
from pacer.sizing.inference import size_inference
from pacer.sizing.training import size_training

TARGETS_PATH = CATALOG_DIR / "calibration_targets.csv"


@dataclass(frozen=True)
class Prior:
    """Plausible value and log-scale spread of a fitted factor, and hard bounds."""

    value: float
    log_sd: float
    low: float
    high: float


#: Priors of the fitted factors: what engineers expect before looking at the targets.
PRIORS: dict[str, dict[str, Prior]] = {
    "inference": {
        "prefill_mfu": Prior(0.6, 0.3, 0.2, 0.95),
        "decode_mfu": Prior(0.6, 0.3, 0.2, 0.95),
        "decode_mbu": Prior(0.8, 0.2, 0.3, 0.98),
        "scaleup_link_efficiency": Prior(0.7, 0.3, 0.2, 0.98),
        "collective_latency_s": Prior(1e-5, 0.7, 1e-6, 1e-4),
        "fp4_gemm_efficiency": Prior(0.7, 0.3, 0.2, 1.0),
        "moe_efficiency": Prior(0.7, 0.3, 0.2, 1.0),
        "software_efficiency_amd": Prior(0.6, 0.5, 0.1, 1.0),
    },
    "training": {
        "mfu_max": Prior(0.55, 0.3, 0.2, 0.8),
        "hidden_size_knee": Prior(4000.0, 1.0, 100.0, 50000.0),
        "cluster_penalty_per_doubling": Prior(0.03, 0.7, 0.001, 0.3),
        "goodput": Prior(0.85, 0.1, 0.5, 1.0),
    },
}


def load_targets(path: Path | str = TARGETS_PATH) -> pd.DataFrame:
    """A published-figures table (columns of ``shared/validation/published.csv``)."""
    return pd.read_csv(path, comment="#", dtype={"id": str})


def _opt(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) or value == "" else value


def predict(row: Mapping[Any, Any], efficiency: Efficiency | None = None) -> float:
    """pacer's estimate of the metric in one row of a published-figures table."""
    kind, metric = row["kind"], row["metric"]
    accelerator = _opt(row.get("accelerator"))
    count = _opt(row.get("count"))
    count = int(count) if count is not None else None
    precision = _opt(row.get("precision")) or "bf16"
    if kind == "power":
        spec = get_accelerator(accelerator or "h100-sxm")
        if metric == "server_power_kw":
            return spec.server_power_kw * (count or spec.server_accelerators) / spec.server_accelerators
        if metric == "all_in_it_power_w":
            overhead = load_facilities().network_storage_overhead.value
            return spec.server_power_per_accelerator_w * (1.0 + overhead)
    if kind == "training":
        trained = size_training(row["model"], float(row["train_tokens"]), accelerator or "h100-sxm",
                                count, precision, efficiency=efficiency)
        if metric in ("gpu_hours", "tflops_per_gpu", "train_flops"):
            return float(getattr(trained, metric))
    if kind == "inference":
        model = get_model(row["model"])
        inp = _opt(row.get("input_tokens"))
        out = _opt(row.get("output_tokens"))
        if metric == "fits" and inp is None:
            # A full-length request: the model's whole context window.
            inp, out = model.max_context - 1, 1
        result = size_inference(row["model"], accelerator, count, precision, int(inp), int(out),
                                efficiency=efficiency)
        if metric == "fits":
            return float(result.fits)
        if metric == "max_output_tokens_per_s":
            return result.max_output_tokens_per_s
    raise InputError("metric", metric, f"is not a metric pacer estimates for kind {kind!r}")


def _section_of(row: Mapping[Any, Any]) -> str | None:
    if row["kind"] == "inference" and row["metric"] == "max_output_tokens_per_s":
        return "inference"
    if row["kind"] == "training" and row["metric"] in ("gpu_hours", "tflops_per_gpu"):
        return "training"
    return None


def fit(
    section: Literal["inference", "training"],
    targets: pd.DataFrame | None = None,
    efficiency: Efficiency | None = None,
) -> tuple[Efficiency, pd.DataFrame]:
    """Fit one section's factors; returns the new efficiency and a table of errors per target."""
    base = efficiency or load_efficiency()
    table = load_targets() if targets is None else targets
    rows = [r for r in table.to_dict("records") if _section_of(r) == section]
    priors = PRIORS[section]
    names = list(priors)
    log_low = np.log([priors[n].low for n in names])
    log_high = np.log([priors[n].high for n in names])

    def efficiency_at(x: np.ndarray) -> Efficiency:
        return base.with_values(section, **dict(zip(names, np.exp(x).tolist(), strict=True)))

    def residuals(x: np.ndarray) -> np.ndarray:
        eff = efficiency_at(x)
        errors = [math.log(max(predict(r, eff), 1e-30) / float(r["value"])) for r in rows]
        pulls = [(x[i] - math.log(priors[n].value)) / priors[n].log_sd for i, n in enumerate(names)]
        return np.array(errors + [0.1 * p for p in pulls])

    start = np.clip(np.log([getattr(getattr(base, section), n).value for n in names]), log_low, log_high)
    solution = least_squares(residuals, start, bounds=(log_low, log_high), diff_step=1e-3, xtol=1e-6)
    fitted = efficiency_at(solution.x)
    report = pd.DataFrame(
        [{"id": r["id"], "value": float(r["value"]), "estimate": predict(r, fitted)} for r in rows]
    )
    report["relative_error"] = report.estimate / report.value - 1.0
    return fitted, report


def write_efficiency(efficiency: Efficiency, path: Path = CATALOG_DIR / "efficiency.yaml") -> None:
    """Store fitted values in ``efficiency.yaml``, keeping its comments and layout."""
    text = path.read_text()
    for section in ("inference", "training"):
        for name, factor in getattr(efficiency, section):
            if not factor.fitted:
                continue
            pattern = re.compile(rf"(\n  {name}:\n    value: )([^\n]+)")
            if not pattern.search(text):
                raise InputError("efficiency.yaml", name, "factor not found")
            rounded = float(f"{factor.value:.3g}")
            text = pattern.sub(lambda m: f"{m.group(1)}{rounded!r}", text)  # noqa: B023
    path.write_text(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="store the fitted values in efficiency.yaml")
    args = parser.parse_args(argv)
    eff = load_efficiency()
    sections: tuple[Literal["inference", "training"], ...] = ("inference", "training")
    for section in sections:
        eff, report = fit(section, efficiency=eff)
        print(f"[{section}]")
        for name, factor in getattr(eff, section):
            if factor.fitted:
                print(f"  {name} = {factor.value:.4g}")
        print(report.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if args.write:
        write_efficiency(eff)


if __name__ == "__main__":
    main()
