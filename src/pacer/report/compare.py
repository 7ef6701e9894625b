"""Comparing runs: what changed in the inputs (a readable diff of the scenarios as run), the metric deltas
against the first run, and the charts of the same name overlaid."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from pacer.formatting import cell, label, plain_number, unit_of

_ZERO_TEXT = re.compile(r"-?\$?0(?:\.0*)?(?![\d.,])")
#: A difference below this share of the metric's size reads as no change (solver tolerance).
RELATIVE_NOISE = 1e-6
#: Marker-only traces with more points than this are left out of overlays (they would hide each other).
MAX_OVERLAY_MARKERS = 500
#: Most changed lines a diff shows.
MAX_DIFF_LINES = 400


@dataclass
class Comparison:
    runs: list[dict[str, Any]]
    metrics: list[dict[str, Any]]  # {metric, label, values: [text], deltas: [text], changed}
    diffs: list[dict[str, Any]]  # {run_id, against, lines: [text], same: bool, missing: bool}
    overlays: list[dict[str, Any]]  # {name, title, figure}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def comparison(store: Any, run_ids: list[str], *, with_figures: bool = True) -> Comparison:
    """The runs side by side, oldest first; the oldest is the baseline every delta and diff is taken against."""
    unique = list(dict.fromkeys(run_ids))  # a run named twice is shown once
    runs = sorted((store.get(r) for r in unique), key=lambda r: (str(r["created_at"]), r["run_id"]))
    ids = [r["run_id"] for r in runs]  # unknown ids: UnknownRunError above (404 / an error in the page)
    texts = [store.scenario_text(r) for r in ids]
    names = list(dict.fromkeys(k for r in runs for k, v in r["metrics"].items() if not isinstance(v, dict | list)))
    metrics = []
    for name in names:
        values = [r["metrics"].get(name) for r in runs]
        first = values[0]
        numbers = [abs(float(v)) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        scale = max(numbers, default=0.0)
        deltas = []
        for v in values:
            if isinstance(v, int | float) and isinstance(first, int | float) and not isinstance(v, bool):
                delta = float(v) - float(first)
                if abs(delta) <= RELATIVE_NOISE * scale:  # solver noise, not a change
                    delta = 0.0
                # A change of a share is in percentage points: 20% -> 25% is "+5 pp", not "+5%".
                text = (f"{plain_number(abs(delta) * 100, 2)} pp" if unit_of(name) == "share"
                        else cell(name, abs(delta)))
                text = text if delta >= 0 else "-" + text
                shows_zero = _ZERO_TEXT.match(text) is not None  # "0", "$0", "0 MW", "0 H100e" after rounding
                deltas.append("" if delta == 0 or shows_zero else ("+" + text if delta > 0 else text))
            else:
                deltas.append("" if v == first else "changed")
        metrics.append({"metric": name, "label": label(name),
                        "values": [cell(name, v) for v in values], "deltas": deltas,
                        "changed": any(d for d in deltas[1:])})
    diffs = [_diff(texts[0], text, ids[0], run_id) for run_id, text in zip(ids[1:], texts[1:], strict=True)]
    overlays = _overlays(store, ids) if with_figures and len(ids) > 1 else []
    summary = [{"run_id": r["run_id"], "kind": r["kind"], "scenario": r["scenario_name"],
                "created_at": str(r["created_at"])[:19], "status": r["status"]} for r in runs]
    return Comparison(runs=summary, metrics=metrics, diffs=diffs, overlays=overlays)


def _diff(before: str | None, after: str | None, base_id: str, run_id: str) -> dict[str, Any]:
    if before is None or after is None:
        return {"run_id": run_id, "against": base_id, "lines": [], "same": False, "missing": True}
    lines = list(difflib.unified_diff(_canonical(before), _canonical(after), fromfile=f"run {base_id}",
                                      tofile=f"run {run_id}", lineterm="", n=2))
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... {len(lines) - MAX_DIFF_LINES} more lines"]
    return {"run_id": run_id, "against": base_id, "lines": lines, "same": not lines, "missing": False}


def _canonical(text: str) -> list[str]:
    """The scenario's lines as data, dumped one way (comments, quoting and spacing do not show as changes);
    the text itself when it does not parse."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError):
        return text.splitlines()
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110).splitlines()


_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def _cloud_or_band(trace: dict[str, Any]) -> bool:
    """Traces that do not overlay readably: band edges and fills (fan charts), clouds of markers (a sizing
    search's configurations)."""
    if trace.get("fill") or trace.get("hoverinfo") == "skip":
        return True
    return trace.get("mode") == "markers" and len(trace.get("x") or []) > MAX_OVERLAY_MARKERS


def _overlays(store: Any, ids: list[str]) -> list[dict[str, Any]]:
    """Charts of the same name overlaid: every run's line and bar traces on one figure, the baseline solid,
    the next runs dashed, each trace named with its run. Heatmaps and box plots do not overlay; they are left
    to each run's page."""
    by_name: dict[str, list[tuple[str, dict[str, Any], str]]] = {}
    for run_id in ids:
        for f in store.figures(run_id):
            by_name.setdefault(f["name"], []).append((run_id, json.loads(f["figure"]), f["title"]))
    out = []
    for name, entries in by_name.items():
        if len(entries) < 2:
            continue
        data = []
        for i, (run_id, figure, _) in enumerate(entries):
            for trace in figure.get("data", []):
                if trace.get("type", "scatter") not in ("scatter", "bar", "scattergl") or _cloud_or_band(trace):
                    continue
                t = dict(trace)
                t["name"] = f"{t.get('name', '')} [{run_id}]".strip()
                t["legendgroup"] = f"{run_id}-{t.get('legendgroup', t.get('name'))}"
                if t.get("type", "scatter") != "bar":
                    t["line"] = {**(t.get("line") or {}), "dash": _DASHES[i % len(_DASHES)]}
                    t.pop("stackgroup", None)
                    t.pop("fill", None)
                else:
                    t["opacity"] = 1.0 if i == 0 else 0.5
                    t["offsetgroup"] = run_id
                data.append(t)
        if not data:
            continue
        layout = dict(entries[0][1].get("layout", {}))
        title = entries[0][2]
        layout["title"] = {"text": f"{title}: runs overlaid (first solid, then dashed)"}
        out.append({"name": name, "title": title, "figure": {"data": data, "layout": layout}})
    return out
