"""One self-contained HTML report (plotly.js inline: it opens without a network) from stored runs."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any

from plotly.offline import get_plotlyjs

from pacer._result import fmt

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1200px;
padding:1.5rem;color:#222}
h1{font-size:1.6rem} h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0} td,th{border:1px solid #ddd;padding:.25rem .5rem}
th{background:#f6f6f6;text-align:left} td.num{text-align:right;font-variant-numeric:tabular-nums}
.chart{margin:1rem 0 2rem} .meta{color:#666;font-size:.85rem}
"""


def metrics_table(metrics: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td class='num'>{html.escape(fmt(v))}</td></tr>"
                   for k, v in metrics.items() if not isinstance(v, dict | list))
    return f"<table>{rows}</table>"


def facts_table(facts: list[dict[str, Any]]) -> str:
    """Reported vs simulated, every fact (outside its band in red: never hidden); empty without facts."""
    if not facts:
        return ""
    from pacer.facts import facts_frame

    frame = facts_frame(facts)
    within = sum(f["within"] for f in facts)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    rows = []
    for record in frame.to_dict("records"):
        style = "" if record["within"] == "yes" else " style='color:#b00;font-weight:bold'"
        cells = "".join(f"<td>{html.escape(str(v))}</td>" for v in record.values())
        rows.append(f"<tr class='fact'{style}>{cells}</tr>")
    return (f"<h3>reported vs simulated: {within} of {len(facts)} facts within their band</h3>"
            f"<table class='facts'><tr>{head}</tr>{''.join(rows)}</table>")


def render_report(runs: list[dict[str, Any]], figures: dict[str, list[dict[str, Any]]], title: str) -> str:
    """HTML of runs (as from :meth:`RunStore.get`) with their charts (from :meth:`RunStore.figures`)."""
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p class='meta'>pacer report, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
             f"{len(runs)} run(s). Charts are interactive; no network is needed.</p>"]
    scripts = []
    for run in runs:
        rid = html.escape(str(run["run_id"]))
        parts.append(f"<h2 id='run-{rid}'>{html.escape(run['kind'])}: {html.escape(str(run['scenario_name']))}"
                     f" <span class='meta'>run {rid}, {html.escape(run['created_at'])}</span></h2>")
        if run["kind"] == "plan" and run.get("status") not in ("optimal", "ok", None):
            parts.append(f"<p class='unproven' style='color:#b00;font-weight:bold'>Unproven plan: status "
                         f"{html.escape(str(run['status']))}. Its gap is above the planning tolerance and was accepted "
                         "knowingly; read its numbers as a candidate, not a proven plan.</p>")
        parts.append(facts_table(run.get("result", {}).get("facts") or []))
        parts.append(metrics_table(run["metrics"]))
        for i, fig in enumerate(figures.get(rid, [])):
            div = f"chart-{rid}-{i}"
            parts.append(f"<h3>{html.escape(fig['title'])}</h3><div class='chart' id='{div}' "
                         f"data-chart='{html.escape(fig['name'])}'></div>")
            scripts.append(f"(function(){{var f={_script_json(fig['figure'])};Plotly.newPlot({_script_json(div)},"
                           "f.data,f.layout,{responsive:true});})();")
    body = "\n".join(parts)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style><script>{get_plotlyjs()}</script></head><body>{body}"
            f"<script>{''.join(scripts)}</script></body></html>")


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element whatever it holds (a stored figure, a name)."""
    data = json.loads(value) if isinstance(value, str) and value[:1] in "{[" else value
    text = json.dumps(data)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
