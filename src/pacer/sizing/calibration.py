"""The one place where the sizing model's efficiency factors are fitted to published measurements.

``python -m pacer.sizing.calibration`` fits, section by section (inference, training):

* the **physical factors** marked ``fitted: true`` in ``catalog/efficiency.yaml`` (shares of peak
  FLOP/s and bandwidth that a tuned stack reaches, collective latency, 4-bit and weight-only GEMM
  derating, MoE overhead), by robust least squares on log errors with a weak pull toward a plausible
  prior, and
* the **stack factors** of ``catalog/stacks.yaml``, one per (stack, vendor): the share of the tuned
  reference each software stack reaches on each vendor's accelerators. Because a stack factor scales
  every step time, it multiplies throughput exactly, so for given physical factors the stack factors
  have a closed form: the mean log error of their rows, shrunk toward the vendor's mean (a stack with
  few rows borrows from its vendor's other stacks). They are profiled out of the least squares.

The targets are the calibration set in ``tests/validation/calibration/*.csv`` (every row a sourced
public measurement: MLPerf results of every submitter, vendor documentation, framework pages, papers).
:func:`cross_validate` refits with each source (publication) left out in turn and predicts its rows,
which is how ``make bench`` reports the error a new, unseen source should expect. ``--write`` stores
the fitted values in ``efficiency.yaml`` and ``stacks.yaml``.

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
from pacer.catalog.loader import CATALOG_DIR, StackKind
from pacer.errors import InputError, PacerError
from pacer.sizing.inference import max_output_tokens_per_s, size_inference
from pacer.sizing.roofline import ModelShape, training_flops
from pacer.sizing.training import achieved_mfu, size_training

Section = Literal["inference", "training"]
#: The calibration set: public measurements, one CSV per gathering (kept with the tests).
CALIBRATION_DIR = Path(__file__).resolve().parents[3] / "tests" / "validation" / "calibration"
COLUMNS = ["id", "kind", "model", "accelerator", "count", "precision", "input_tokens", "output_tokens",
           "train_tokens", "metric", "value", "unit", "source"]
#: Columns of the calibration set that other published-figures tables may leave out (then: the vendor's
#: default stack, the file as its own source, no date, the best layout and batch). ``tensor_parallel`` and
#: ``max_batch`` hold the configuration a source states it ran (degree; requests at once over the deployment);
#: ``global_batch`` a training run's sequences per optimiser step.
OPTIONAL_COLUMNS = ["stack", "source_group", "date", "tensor_parallel", "max_batch", "global_batch"]
STACK_KIND: dict[Section, StackKind] = {"inference": "serving", "training": "training"}
#: The (stack, vendor) whose factor is 1 by definition: the efficiencies are a tuned NVIDIA stack's.
REFERENCE: dict[Section, tuple[str, str]] = {"inference": ("tuned", "nvidia"), "training": ("megatron", "nvidia")}
#: Ridge shrinkage (in rows) of the stack and vendor effects, and of their interaction, toward 0.
MAIN_EFFECT_SHRINK_ROWS = 0.3
INTERACTION_SHRINK_ROWS = 10.0
#: Most objective evaluations of one fit (each predicts every row once).
MAX_EVALUATIONS = 150
#: Robust loss scale (log error): rows further off than about this count linearly, not quadratically.
LOSS_SCALE = 0.25


@dataclass(frozen=True)
class Prior:
    """Plausible value and log-scale spread of a fitted factor, and hard bounds."""

    value: float
    log_sd: float
    low: float
    high: float


#: Priors of the fitted physical factors: what engineers expect before looking at the targets.
PRIORS: dict[Section, dict[str, Prior]] = {
    "inference": {
        "prefill_mfu": Prior(0.6, 0.3, 0.2, 0.95),
        "decode_mfu": Prior(0.6, 0.3, 0.2, 0.95),
        "decode_mbu": Prior(0.8, 0.2, 0.3, 0.95),
        "scaleup_link_efficiency": Prior(0.7, 0.3, 0.2, 0.98),
        "fp4_gemm_efficiency": Prior(0.7, 0.3, 0.2, 1.0),
        "weight_only_gemm_efficiency": Prior(0.8, 0.3, 0.2, 1.0),
        "moe_efficiency": Prior(0.7, 0.3, 0.2, 1.0),
        "moe_expert_width_knee": Prior(1000.0, 1.0, 10.0, 50000.0),
        "decode_step_overhead_s": Prior(0.002, 1.0, 1e-5, 0.02),
        "software_gain_per_year": Prior(0.15, 0.7, 0.005, 0.6),
    },
    "training": {
        "mfu_max": Prior(0.55, 0.3, 0.2, 0.8),
        "hidden_size_knee": Prior(4000.0, 1.0, 100.0, 50000.0),
        "cluster_penalty_per_doubling": Prior(0.03, 0.7, 0.001, 0.3),
        "fp8_training_efficiency": Prior(0.75, 0.3, 0.3, 1.0),
        "moe_training_efficiency": Prior(0.6, 0.4, 0.1, 1.0),
        "moe_expert_width_knee": Prior(1000.0, 1.0, 10.0, 50000.0),
        "attention_training_efficiency": Prior(0.6, 0.4, 0.15, 1.0),
        "software_gain_per_year": Prior(0.1, 0.7, 0.005, 0.6),
        "goodput": Prior(0.85, 0.1, 0.5, 1.0),
        "step_overhead_s": Prior(0.05, 1.0, 0.001, 2.0),
    },
}


def _opt(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) or value == "" else value


def load_targets(path: Path | str | None = None) -> pd.DataFrame:
    """The calibration set: every CSV in ``path`` (a folder) or one CSV, with a ``vendor`` column."""
    where = Path(path) if path is not None else CALIBRATION_DIR
    files = sorted(where.glob("*.csv")) if where.is_dir() else [where]
    if not files:
        raise PacerError(f"calibration: no CSV files in {where}")
    frames = []
    for f in files:
        table = pd.read_csv(f, comment="#", dtype={"id": str})
        missing = [c for c in COLUMNS if c not in table.columns]
        if missing:
            raise InputError(f"calibration[{f.name}]", missing, "columns missing")
        for column in OPTIONAL_COLUMNS:
            if column not in table.columns:
                table[column] = f.stem if column == "source_group" else None
        frames.append(table.assign(file=f.name))
    table = pd.concat(frames, ignore_index=True)
    if table.id.duplicated().any():
        raise InputError("calibration.id", sorted(table.id[table.id.duplicated()])[:5], "ids must be unique")
    vendors = {a: get_accelerator(a).vendor for a in table.accelerator.dropna().unique()}
    return table.assign(vendor=table.accelerator.map(vendors))


def section_of(row: Mapping[Any, Any]) -> Section | None:
    """Which section's factors a row calibrates (None: a check only, e.g. ``fits``)."""
    if row["kind"] == "inference" and row["metric"] == "max_output_tokens_per_s":
        return "inference"
    if row["kind"] == "training" and row["metric"] in ("gpu_hours", "tflops_per_gpu", "train_tokens_per_s_per_gpu"):
        return "training"
    return None


def _training_estimate(row: Mapping[Any, Any], eff: Efficiency, stack_factor: float | None) -> float:
    """A training row's metric at ``stack_factor`` (default: its stack's own), as size_training sizes it."""
    metric, accelerator = row["metric"], _opt(row.get("accelerator")) or "h100-sxm"
    precision = _opt(row.get("precision")) or "bf16"
    count = _opt(row.get("count"))
    seq = _opt(row.get("input_tokens"))
    spec, arch = get_accelerator(accelerator), get_model(row["model"])
    own = eff.stacks.resolve("training", _opt(row.get("stack")), spec)[1]
    factor = own if stack_factor is None else stack_factor
    seq_tokens = int(seq) if seq else int(min(arch.max_context, eff.training.max_sequence_tokens.value))
    batch = _opt(row.get("global_batch"))
    global_batch = int(batch) if batch is not None else None
    if metric == "gpu_hours" or count is None:
        # The whole run (and its cluster, when no count is given) as size_training sizes it with the
        # stack's own factor; rates scale with the factor, GPU-hours inversely.
        trained = size_training(row["model"], float(_opt(row.get("train_tokens")) or 1e12), accelerator,
                                int(count) if count else None, precision, sequence_tokens=seq_tokens,
                                stack=_opt(row.get("stack")), global_batch=global_batch, efficiency=eff)
        if metric == "gpu_hours":
            return float(trained.gpu_hours) * own / factor
        flops_per_s = trained.tflops_per_gpu * 1e12 * factor / own
    else:
        flops_per_s = (spec.peak_tflops(precision) * 1e12
                       * achieved_mfu(arch, spec, precision, float(count), eff, factor, seq_tokens, global_batch))
    if metric == "tflops_per_gpu":
        return flops_per_s / 1e12
    return flops_per_s / float(training_flops(ModelShape.of(arch), 1.0, seq_tokens))


def software_age_factor(row: Mapping[Any, Any], efficiency: Efficiency) -> float:
    """Throughput of the row's software date relative to the efficiencies' reference date (1 when the
    row has no date): software keeps getting faster on the same hardware."""
    date = _opt(row.get("date"))
    section = section_of(row)
    if date is None or section is None:
        return 1.0
    year, _, month = str(date).partition("-")
    when = float(year) + (float(month) - 0.5) / 12 if month else float(year) + 0.5
    part = getattr(efficiency, section)
    return math.exp(part.software_gain_per_year.value * (when - part.software_reference_year.value))


def predict(row: Mapping[Any, Any], efficiency: Efficiency | None = None, stack_factor: float | None = None) -> float:
    """pacer's estimate of the metric in one row of a published-figures table, with the software of
    the row's date (:func:`software_age_factor`).

    ``stack_factor`` overrides the row's stack factor (the calibration profiles those factors).
    """
    eff = efficiency or load_efficiency()
    age = software_age_factor(row, eff)
    value = _predict(row, eff, stack_factor)
    if section_of(row) is None:
        return value
    return value / age if row["metric"] == "gpu_hours" else value * age


def _predict(row: Mapping[Any, Any], eff: Efficiency, stack_factor: float | None) -> float:
    kind, metric = row["kind"], row["metric"]
    accelerator = _opt(row.get("accelerator"))
    count = _opt(row.get("count"))
    count = int(count) if count is not None else None
    precision = _opt(row.get("precision")) or "bf16"
    stack = _opt(row.get("stack"))
    if kind == "power":
        spec = get_accelerator(accelerator or "h100-sxm")
        if metric == "server_power_kw":
            return spec.server_power_kw * (count or spec.server_accelerators) / spec.server_accelerators
        if metric == "all_in_it_power_w":
            overhead = load_facilities().network_storage_overhead.value
            return spec.server_power_per_accelerator_w * (1.0 + overhead)
    if kind == "training":
        if metric == "train_flops":
            seq = _opt(row.get("input_tokens"))
            arch = get_model(row["model"])
            seq_tokens = int(seq) if seq else int(min(arch.max_context, eff.training.max_sequence_tokens.value))
            return float(training_flops(ModelShape.of(arch), float(row["train_tokens"]), seq_tokens))
        if metric in ("gpu_hours", "tflops_per_gpu", "train_tokens_per_s_per_gpu"):
            return _training_estimate(row, eff, stack_factor)
    if kind == "inference":
        model = get_model(row["model"])
        inp = _opt(row.get("input_tokens"))
        out = _opt(row.get("output_tokens"))
        if metric == "fits":
            if inp is None:
                # A full-length request: the model's whole context window.
                inp, out = model.max_context - 1, 1
            result = size_inference(row["model"], accelerator, count, precision, int(inp), int(out), stack=stack,
                                    efficiency=eff)
            return float(result.fits)
        if metric == "max_output_tokens_per_s":
            if count is None:
                raise InputError("count", count, "a throughput row needs its accelerator count")
            tp, max_batch = _opt(row.get("tensor_parallel")), _opt(row.get("max_batch"))
            return max_output_tokens_per_s(row["model"], accelerator, count, precision, float(inp), float(out),
                                           stack=stack, stack_factor=stack_factor, efficiency=eff,
                                           tensor_parallel=int(tp) if tp is not None else None,
                                           max_batch=float(max_batch) if max_batch is not None else None)
    raise InputError("metric", metric, f"is not a metric pacer estimates for kind {kind!r}")


def _groups(rows: pd.DataFrame, section: Section, eff: Efficiency) -> pd.Series:
    """Each row's (stack, vendor) group as 'stack/vendor' (the vendor's default stack where none is given)."""
    kind = STACK_KIND[section]
    names = [eff.stacks.resolve(kind, _opt(s), get_accelerator(a))[0] if _opt(a) else REFERENCE[section][0]
             for s, a in zip(rows["stack"], rows.accelerator.fillna(""), strict=True)]
    vendors = rows.vendor.fillna(REFERENCE[section][1])
    return pd.Series([f"{n}/{v}" for n, v in zip(names, vendors, strict=True)], index=rows.index)


def stack_log_factors(log_ratio: np.ndarray, groups: pd.Series, section: Section) -> tuple[dict[str, float],
                                                                                            dict[str, float]]:
    """Log stack factors from each row's log(measured / estimate at factor 1), in closed form.

    log factor(stack, vendor) = stack effect + vendor effect + their interaction, fitted by ridge least
    squares (each effect shrunk toward 0, the interaction more strongly), with the reference (stack,
    vendor) fixed at 0. A stack never measured on a vendor so gets stack effect + vendor effect.
    Returns the log factor of every measured group and the additive effects (``stack:NAME``,
    ``vendor:NAME``) for the others.
    """
    ref_stack, ref_vendor = REFERENCE[section]
    split = groups.str.split("/")
    stacks, vendors = split.str[0].to_numpy(), split.str[1].to_numpy()
    columns = ([f"stack:{x}" for x in sorted(set(stacks) - {ref_stack})]
               + [f"vendor:{x}" for x in sorted(set(vendors) - {ref_vendor})]
               + [f"group:{g}" for g in sorted(set(groups) - {f"{ref_stack}/{ref_vendor}"})])
    index = {c: i for i, c in enumerate(columns)}
    design = np.zeros((len(groups), len(columns)))
    for row, (st, ve, gr) in enumerate(zip(stacks, vendors, groups, strict=True)):
        for key in (f"stack:{st}", f"vendor:{ve}", f"group:{gr}"):
            if key in index:
                design[row, index[key]] = 1.0
    penalty = np.array([INTERACTION_SHRINK_ROWS if c.startswith("group:") else MAIN_EFFECT_SHRINK_ROWS
                        for c in columns])
    coef = np.linalg.solve(design.T @ design + np.diag(penalty), design.T @ log_ratio) if columns else np.array([])
    effects = {c: float(v) for c, v in zip(columns, coef, strict=True)}
    factors = {}
    for g in set(groups):
        st, ve = g.split("/")
        factors[g] = effects.get(f"stack:{st}", 0.0) + effects.get(f"vendor:{ve}", 0.0) + effects.get(f"group:{g}", 0.0)
    factors[f"{ref_stack}/{ref_vendor}"] = 0.0
    return factors, effects


def _log_factor_of(group: str, factors: Mapping[str, float], effects: Mapping[str, float],
                   section: Section) -> float:
    """A group's log factor; unseen groups take their stack's plus their vendor's effect."""
    if group == "/".join(REFERENCE[section]):
        return 0.0
    if group in factors:
        return factors[group]
    stack, vendor = group.split("/")
    return effects.get(f"stack:{stack}", 0.0) + effects.get(f"vendor:{vendor}", 0.0)


@dataclass
class Fit:
    """One section's fit: the efficiency with fitted values, and per-row estimates."""

    efficiency: Efficiency
    report: pd.DataFrame  # id, group, vendor, value, estimate, relative_error
    stack_rows: dict[str, int]


def _section_rows(table: pd.DataFrame, section: Section) -> pd.DataFrame:
    mask = [section_of(r) == section for r in table.to_dict("records")]
    rows = table[mask]
    if section == "inference":
        rows = rows[rows.input_tokens.notna() & rows.output_tokens.notna() & rows["count"].notna()]
    return rows


def fit(
    section: Section,
    targets: pd.DataFrame | None = None,
    efficiency: Efficiency | None = None,
    *,
    max_nfev: int | None = None,
) -> Fit:
    """Fit one section's physical factors and stack factors to the targets."""
    base = efficiency or load_efficiency()
    table = load_targets() if targets is None else targets
    rows = _section_rows(table, section)
    if rows.empty:
        raise PacerError(f"calibration: no {section} rows to fit")
    records = rows.to_dict("records")
    values = rows.value.to_numpy(float)
    groups = _groups(rows, section, base)
    priors = PRIORS[section]
    names = list(priors)
    log_low = np.log([priors[n].low for n in names])
    log_high = np.log([priors[n].high for n in names])

    def efficiency_at(x: np.ndarray) -> Efficiency:
        return base.with_values(section, **dict(zip(names, np.exp(x).tolist(), strict=True)))

    def log_errors(x: np.ndarray) -> np.ndarray:
        eff = efficiency_at(x)
        estimates = np.array([predict(r, eff, stack_factor=1.0) for r in records])
        return np.clip(np.log(np.maximum(estimates, 1e-30) / values), -5.0, 5.0)

    def residuals(x: np.ndarray) -> np.ndarray:
        errors = log_errors(x)
        factors, means = stack_log_factors(-errors, groups, section)
        applied = np.array([_log_factor_of(g, factors, means, section) for g in groups])
        pulls = [(x[i] - math.log(priors[n].value)) / priors[n].log_sd for i, n in enumerate(names)]
        return np.concatenate([errors + applied, 0.1 * np.array(pulls)])

    start = np.clip(np.log([getattr(getattr(base, section), n).value for n in names]), log_low, log_high)
    # The best layout and batch switch as factors move, so the objective is only piecewise smooth: stop at
    # a 1e-4 relative step (factors are stored to 3 significant digits) and within a bounded budget.
    solution = least_squares(residuals, start, bounds=(log_low, log_high), diff_step=1e-3, xtol=1e-4, ftol=1e-6,
                             loss="soft_l1", f_scale=LOSS_SCALE, max_nfev=max_nfev or MAX_EVALUATIONS)
    fitted = efficiency_at(solution.x)
    errors = log_errors(solution.x)
    factors, means = stack_log_factors(-errors, groups, section)
    counts = groups.value_counts().to_dict()
    # Every (stack, vendor) of this section gets a value: fitted where it has rows, else its vendor's mean.
    kind = STACK_KIND[section]
    new_values: dict[tuple[str, str], float] = {}
    for name in fitted.stacks.names(kind):
        for vendor in fitted.stacks.stacks[name].families:
            key = f"{name}/{vendor}"
            if key == "/".join(REFERENCE[section]):
                continue
            new_values[(name, vendor)] = math.exp(_log_factor_of(key, factors, means, section))
    rows_count = {(str(k).split("/")[0], str(k).split("/")[1]): int(v) for k, v in counts.items()}
    fitted = fitted.model_copy(update={"stacks": fitted.stacks.with_factors(new_values, rows_count)})
    estimates = errors + np.array([_log_factor_of(g, factors, means, section) for g in groups])
    report = pd.DataFrame({"id": rows.id.to_numpy(), "group": groups.to_numpy(), "vendor": rows.vendor.to_numpy(),
                           "source_group": rows.source_group.to_numpy(), "value": values,
                           "estimate": values * np.exp(estimates)})
    report["relative_error"] = report.estimate / report.value - 1.0
    return Fit(fitted, report, {str(k): int(v) for k, v in counts.items()})


def _fold(section: Section, rows: pd.DataFrame, source: str, start: Efficiency, max_nfev: int) -> list[dict[str, Any]]:
    """Fit without ``source`` and predict its rows."""
    train, held = rows[rows.source_group != source], rows[rows.source_group == source]
    eff = fit(section, train, start, max_nfev=max_nfev).efficiency
    groups = _groups(held, section, eff)
    return [{"id": r["id"], "group": g, "vendor": r["vendor"], "source_group": source, "value": float(r["value"]),
             "estimate": predict(r, eff)} for r, g in zip(held.to_dict("records"), groups, strict=True)]


def cross_validate(section: Section, targets: pd.DataFrame | None = None, efficiency: Efficiency | None = None,
                   *, max_nfev: int = 60, workers: int = 2) -> pd.DataFrame:
    """Leave-one-source-out: refit without each source group and predict its rows with that fit.

    Folds run in ``workers`` processes. Returns one row per target: id, group, vendor, source_group,
    value, estimate, relative_error.
    """
    from concurrent.futures import ProcessPoolExecutor

    table = load_targets() if targets is None else targets
    rows = _section_rows(table, section)
    start = fit(section, rows, efficiency).efficiency
    sources = sorted(rows.source_group.unique())
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(_fold, *zip(*[(section, rows, s, start, max_nfev) for s in sources], strict=True)))
    else:
        parts = [_fold(section, rows, s, start, max_nfev) for s in sources]
    report = pd.DataFrame([r for part in parts for r in part])
    report["relative_error"] = report.estimate / report.value - 1.0
    return report


def error_summary(report: pd.DataFrame) -> dict[str, Any]:
    """Median absolute relative error overall, per vendor and per stack (as fractions), and row counts."""
    err = report.relative_error.abs()
    stacks = report.group.str.split("/").str[0]
    return {
        "rows": len(report),
        "median_abs_error": float(err.median()),
        "per_vendor": {str(v): float(e.median()) for v, e in err.groupby(report.vendor.fillna("-"))},
        "per_stack": {str(s): float(e.median()) for s, e in err.groupby(stacks)},
        "rows_per_vendor": {str(v): int(n) for v, n in report.vendor.fillna("-").value_counts().items()},
    }


def write_efficiency(efficiency: Efficiency, path: Path = CATALOG_DIR / "efficiency.yaml",
                     stacks_path: Path = CATALOG_DIR / "stacks.yaml") -> None:
    """Store fitted values in ``efficiency.yaml`` and ``stacks.yaml``, keeping comments and layout."""
    head, _, tail = path.read_text().partition("\ntraining:\n")
    parts = {"inference": head, "training": "\n" + tail}
    for section in ("inference", "training"):
        for name, factor in getattr(efficiency, section):
            if not factor.fitted:
                continue
            pattern = re.compile(rf"(\n  {name}:\n    value: )([^\n]+)")
            if not pattern.search(parts[section]):
                raise InputError("efficiency.yaml", name, "factor not found")
            rounded = float(f"{factor.value:.3g}")
            parts[section] = pattern.sub(lambda m: f"{m.group(1)}{rounded!r}", parts[section])  # noqa: B023
    text = parts["inference"] + "\ntraining:" + parts["training"]
    path.write_text(text)
    lines, stack = stacks_path.read_text().splitlines(), None
    for i, line in enumerate(lines):
        if m := re.match(r"^  ([a-z0-9-]+):$", line):
            stack = m.group(1)
        elif (m := re.match(r"^      ([a-z]+): \{(.*)\}$", line)) and stack in efficiency.stacks.stacks:
            family = efficiency.stacks.stacks[stack].families.get(m.group(1))
            if family is None or not family.fitted:
                continue
            note = "" if family.rows else ", note: estimate (no rows; the stack effect times the vendor effect)"
            lines[i] = (f"      {m.group(1)}: {{value: {float(f'{family.value:.3g}')!r}, fitted: true, "
                        f"rows: {family.rows}{note}}}")
    stacks_path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true",
                        help="store the fitted values in efficiency.yaml and stacks.yaml")
    parser.add_argument("--cross-validate", action="store_true", help="also report leave-one-source-out errors")
    args = parser.parse_args(argv)
    eff = load_efficiency()
    sections: tuple[Section, ...] = ("inference", "training")
    for section in sections:
        result = fit(section, efficiency=eff)
        eff = result.efficiency
        print(f"[{section}]")
        for name, factor in getattr(eff, section):
            if factor.fitted:
                print(f"  {name} = {factor.value:.4g}")
        for name in eff.stacks.names(STACK_KIND[section]):
            for vendor, fam in eff.stacks.stacks[name].families.items():
                print(f"  stack {name}/{vendor} = {fam.value:.3g} ({fam.rows} rows)")
        print(f"  in-sample: {error_summary(result.report)}")
        if args.cross_validate:
            print(f"  cross-validated: {error_summary(cross_validate(section, efficiency=eff))}")
    if args.write:
        write_efficiency(eff)


if __name__ == "__main__":
    main()
