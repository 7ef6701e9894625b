"""Accuracy benchmark: every published figure run through the ``pacer`` CLI, with its relative error.

Prints a table to stderr and one JSON object to stdout. Sets: the project's validation file
(``../shared/validation/published.csv``) and the holdout set (``tests/validation/holdout.csv``) that
the calibration never sees.
"""

from __future__ import annotations

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

from pacer.catalog import get_model
from pacer.cli import main
from pacer.sizing.calibration import load_targets, predict

REPO = Path(__file__).resolve().parents[1]
HOLDOUT = REPO / "tests" / "validation" / "holdout.csv"


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


def cli_args(row: dict[str, Any]) -> list[str] | None:
    """The ``pacer`` command line that estimates this row's metric (None for facts not sized by the CLI)."""
    if row["kind"] == "inference":
        inp, out = row.get("input_tokens"), row.get("output_tokens")
        if not _has(inp):  # "fits" with no lengths: one full-context request
            inp, out = get_model(row["model"]).max_context - 1, 1
        return ["size", "inference", "--model", row["model"], "--accelerator", row["accelerator"],
                "--count", str(int(row["count"])), "--precision", row["precision"],
                "--input-tokens", str(int(inp)), "--output-tokens", str(int(out)), "--json"]
    if row["kind"] == "training":
        args = ["size", "training", "--model", row["model"], "--tokens", str(float(row["train_tokens"])), "--json"]
        if _has(row.get("accelerator")):
            args += ["--accelerator", row["accelerator"]]
        if _has(row.get("count")):
            args += ["--gpus", str(int(row["count"]))]
        if _has(row.get("precision")):
            args += ["--precision", row["precision"]]
        return args
    return None


def run_cli(args: list[str]) -> dict[str, Any]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main(args)
        except SystemExit as exc:
            if exc.code:
                raise RuntimeError(f"pacer {' '.join(args)} exited {exc.code}") from exc
    return json.loads(out.getvalue())


def estimate(row: dict[str, Any]) -> float:
    """pacer's estimate of a row: through the CLI where the CLI sizes it, else through the API."""
    args = cli_args(row)
    if args is None:
        return predict(row)
    data = run_cli(args)
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
            if row["metric"] != "tflops_per_gpu":
                continue
            row = row | {"train_tokens": 1e12}  # achieved TFLOP/s does not depend on the run's length
        value = estimate(row)
        out.append({"id": row["id"], "kind": row["kind"], "model": row["model"], "accelerator": row["accelerator"],
                    "metric": row["metric"], "published": float(row["value"]), "estimate": value,
                    "relative_error": error_of(row, value)})
    return pd.DataFrame(out)


def summarise(frame: pd.DataFrame) -> dict[str, Any]:
    abs_err = frame.relative_error.abs()
    return {
        "rows": len(frame),
        "median_abs_relative_error": float(statistics.median(abs_err)) if len(frame) else None,
        "max_abs_relative_error": float(abs_err.max()) if len(frame) else None,
        "within_15pct": int((abs_err <= 0.15).sum()),
        "per_row": {r.id: {"metric": r.metric, "published": r.published, "estimate": r.estimate,
                           "relative_error": round(r.relative_error, 4)} for r in frame.itertuples()},
    }


def main_bench() -> dict[str, Any]:
    result = {}
    for name, path, table in (("published", published_csv(), published_rows()),
                              ("holdout", HOLDOUT, load_targets(HOLDOUT))):
        frame = evaluate(table)
        print(f"\n[{name}] {path}", file=sys.stderr)
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"), file=sys.stderr)
        result[name] = summarise(frame)
        print(f"median |error| = {result[name]['median_abs_relative_error']:.1%}", file=sys.stderr)
    return {"benchmark": "validation", **result}


if __name__ == "__main__":
    print(json.dumps(main_bench(), indent=2))
