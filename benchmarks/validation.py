"""Accuracy benchmark: every published figure run through the ``pacer`` CLI, with its relative error.

Prints a table to stderr and one JSON object to stdout. Sets: the project's validation file
(``../shared/validation/published.csv``), the holdout set (``tests/validation/holdout.csv``) that the
calibration never sees, and any held-out sets kept outside the repository (an evaluator's own, in the
calibration set's columns): ``--set PATH`` (repeatable; ``--only`` judges just those) or
``$PACER_HELDOUT`` (paths separated by ``:``). Each set is judged against the same targets as the
cross-validated calibration (median error 10% overall, 15% for every vendor) and ``fits`` rows by how many
are right.

    python benchmarks/validation.py --set ~/heldout/2026-11.csv --only
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import statistics
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from pacer.catalog import get_accelerator, get_model
from pacer.cli import main
from pacer.errors import InputError, PacerError
from pacer.sizing.calibration import load_targets, predict

REPO = Path(__file__).resolve().parents[1]
HOLDOUT = REPO / "tests" / "validation" / "holdout.csv"
#: The targets every set is judged against (the same as the cross-validated calibration's).
TARGET_OVERALL = 0.10
TARGET_PER_VENDOR = 0.15


def published_csv() -> Path:
    """The project's validation file: ``$PACER_VALIDATION_DIR`` or ``../shared/validation``.

    Without either (a checkout on its own), the packaged copy of its rows in the calibration targets.
    """
    env = os.environ.get("PACER_VALIDATION_DIR")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared" / "validation"]:
        if (candidate / "published.csv").exists():
            return candidate / "published.csv"
    return REPO / "tests" / "validation" / "calibration" / "pacer_targets.csv"


def published_rows() -> pd.DataFrame:
    """Rows of the validation file (the packaged copy's extra ``C*`` calibration rows left out)."""
    table = load_targets(published_csv())
    return table[~table.id.str.match(r"^C\d+$")].reset_index(drop=True)


def _has(value: Any) -> bool:
    return not (value is None or (isinstance(value, float) and math.isnan(value)) or value == "")


def _whole(row: dict[str, Any], column: str) -> str:
    """A column holding a positive whole number (a degree, a batch, a length), as text for the CLI."""
    value = row[column]
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number >= 1 and number.is_integer()):
        raise InputError(f"{row.get('id', '?')}.{column}", value, "must be a positive whole number")
    return str(int(number))


def cli_args(row: dict[str, Any]) -> list[str] | None:
    """The ``pacer`` command line that estimates this row's metric (None for facts not sized by the CLI)."""
    if row["kind"] == "inference":
        inp, out = row.get("input_tokens"), row.get("output_tokens")
        if not _has(inp):  # "fits" with no lengths: one full-context request
            inp, out = get_model(row["model"]).max_context - 1, 1
        args = ["size", "inference", "--model", row["model"], "--accelerator", row["accelerator"],
                "--count", str(int(row["count"])), "--precision", row["precision"],
                "--input-tokens", str(int(inp)), "--output-tokens", str(int(out)), "--json"]
        for column, flag in (("tensor_parallel", "--tensor-parallel"), ("max_batch", "--max-batch")):
            if _has(row.get(column)):
                args += [flag, _whole(row, column)]
        return args + (["--stack", row["stack"]] if _has(row.get("stack")) else [])
    if row["kind"] == "training":
        args = ["size", "training", "--model", row["model"], "--tokens", str(float(row["train_tokens"])), "--json"]
        if _has(row.get("accelerator")):
            args += ["--accelerator", row["accelerator"]]
        if _has(row.get("count")):
            args += ["--gpus", str(int(row["count"]))]
        if _has(row.get("precision")):
            args += ["--precision", row["precision"]]
        for column, flag in (("input_tokens", "--sequence-tokens"), ("global_batch", "--global-batch")):
            if _has(row.get(column)):
                args += [flag, _whole(row, column)]
        return args + (["--stack", row["stack"]] if _has(row.get("stack")) else [])
    return None


def run_cli(args: list[str]) -> dict[str, Any]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main(args)
        except SystemExit as exc:
            if exc.code:
                raise PacerError(f"pacer {' '.join(args)} exited {exc.code}") from exc
    return json.loads(out.getvalue())


def estimate(row: dict[str, Any]) -> float:
    """pacer's estimate of a row: through the CLI where the CLI sizes it, else through the API."""
    args = cli_args(row)
    if args is None:
        return predict(row)
    data = run_cli(args)
    if row["metric"] == "train_tokens_per_s_per_gpu":  # the CLI gives TFLOP/s per GPU and FLOPs per token
        return float(data["tflops_per_gpu"]) * 1e12 * float(data["tokens"]) / float(data["train_flops"])
    if row["metric"] not in data:
        raise InputError("metric", row["metric"], f"is not a metric pacer estimates for kind {row['kind']!r}")
    return float(data[row["metric"]])


def error_of(row: dict[str, Any], value: float) -> float:
    """Relative error; for a yes/no metric 0 when right and 1 when wrong."""
    if row["metric"] == "fits":
        return 0.0 if value == float(row["value"]) else 1.0
    return value / float(row["value"]) - 1.0


def evaluate(table: pd.DataFrame) -> pd.DataFrame:
    rows = table.to_dict("records")
    out = []
    for row in rows:
        if row["kind"] == "training" and not _has(row.get("train_tokens")):
            if row["metric"] not in ("tflops_per_gpu", "train_tokens_per_s_per_gpu"):
                continue
            row = row | {"train_tokens": 1e12}  # achieved rates do not depend on the run's length
        if _has(row.get("model")):
            get_model(row["model"])  # an unknown name is one line naming it, before any work
        value = estimate(row)
        vendor = get_accelerator(row["accelerator"]).vendor if _has(row.get("accelerator")) else "any"
        out.append({"id": row["id"], "kind": row["kind"], "model": row["model"], "accelerator": row["accelerator"],
                    "vendor": vendor, "metric": row["metric"], "published": float(row["value"]), "estimate": value,
                    "relative_error": error_of(row, value)})
    return pd.DataFrame(out, columns=["id", "kind", "model", "accelerator", "vendor", "metric", "published",
                                      "estimate", "relative_error"])


def summarise(frame: pd.DataFrame) -> dict[str, Any]:
    """Errors of a judged set: over all rows (a ``fits`` row counts 0 when right, 1 when wrong), and over the
    measured rows (all but ``fits``) in total and per vendor, against the targets."""
    abs_err = frame.relative_error.abs()
    fits = frame.metric == "fits"
    measured = frame[~fits].assign(abs_error=abs_err[~fits])
    per_vendor = {str(v): float(e) for v, e in measured.groupby("vendor").abs_error.median().items()}
    overall = float(measured.abs_error.median()) if len(measured) else None
    return {
        "rows": len(frame),
        "median_abs_relative_error": float(statistics.median(abs_err)) if len(frame) else None,
        "max_abs_relative_error": float(abs_err.max()) if len(frame) else None,
        "within_15pct": int((abs_err <= 0.15).sum()),
        "measured": {"rows": len(measured), "median_abs_relative_error": overall, "per_vendor": per_vendor,
                     "rows_per_vendor": {str(v): int(n) for v, n in measured.vendor.value_counts().items()}},
        "fits_right": f"{int((abs_err[fits] == 0).sum())} of {int(fits.sum())}",
        "targets": {"overall": TARGET_OVERALL, "per_vendor": TARGET_PER_VENDOR,
                    "overall_met": overall is not None and overall <= TARGET_OVERALL,
                    "per_vendor_met": {v: e <= TARGET_PER_VENDOR for v, e in per_vendor.items()}},
        "per_row": {r.id: {"metric": r.metric, "published": r.published, "estimate": r.estimate,
                           "relative_error": round(r.relative_error, 4)} for r in frame.itertuples()},
    }


def heldout_paths(given: list[str] | None = None) -> list[Path]:
    """Held-out sets named with ``--set`` or in ``$PACER_HELDOUT``; each must be a readable CSV file."""
    names = [*(given or []), *filter(None, os.environ.get("PACER_HELDOUT", "").split(os.pathsep))]
    paths = [Path(n).expanduser() for n in names]
    for path in paths:
        if not path.is_file():
            raise InputError("--set", str(path), "no such held-out set (a CSV in the calibration set's columns)")
    return paths


def judge(name: str, path: Path, table: pd.DataFrame) -> dict[str, Any]:
    frame = evaluate(table)
    print(f"\n[{name}] {path}", file=sys.stderr)
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"), file=sys.stderr)
    summary = summarise(frame)
    if summary["median_abs_relative_error"] is not None:
        print(f"median |error| = {summary['median_abs_relative_error']:.1%}", file=sys.stderr)
    return summary


def main_bench(sets: list[Path] | None = None, only: bool = False) -> dict[str, Any]:
    jobs = [] if only else [("published", published_csv(), published_rows()),
                            ("holdout", HOLDOUT, load_targets(HOLDOUT))]
    jobs += [(f"heldout:{path.name}", path, load_targets(path)) for path in (heldout_paths() if sets is None else sets)]
    return {"benchmark": "validation", **{name: judge(name, path, table) for name, path, table in jobs}}


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="PATH", help="a held-out set (repeatable)")
    parser.add_argument("--only", action="store_true", help="judge only the held-out sets")
    args = parser.parse_args(argv)
    try:
        result = main_bench(heldout_paths(args.set), only=args.only)
    except PacerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(cli())
