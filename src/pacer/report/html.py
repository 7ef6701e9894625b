"""One self-contained HTML report (plotly.js inline: it opens without a network) from stored runs."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plotly.offline import get_plotlyjs

_TEMPLATES = Path(__file__).parent / "templates"
_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1200px;
padding:1.5rem;color:#222}
h1{font-size:1.6rem} h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0} td,th{border:1px solid #ddd;padding:.25rem .5rem}
th{background:#f6f6f6;text-align:left} td.num{text-align:right;font-variant-numeric:tabular-nums}
.chart{margin:1rem 0 2rem} .meta{color:#666;font-size:.85rem}
"""


def render_report(runs: list[dict[str, Any]], figures: dict[str, list[dict[str, Any]]], title: str,
                  scenario_texts: dict[str, str | None] | None = None) -> str:
    """HTML of runs (as from :meth:`RunStore.get`) with their charts (from :meth:`RunStore.figures`): each run
    opens with its view (:func:`pacer.report.present.run_view`: warnings, headline, decisions, evidence, input
    assumptions when ``scenario_texts`` has the run's scenario), then its charts."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from pacer.report.present import run_view

    env = Environment(loader=FileSystemLoader(str(_TEMPLATES)), autoescape=select_autoescape(["html"]))
    macro = env.get_template("run_view.html").module.run_view  # type: ignore[attr-defined]
    texts = scenario_texts or {}
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p class='meta'>pacer report, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
             f"{len(runs)} run(s). Charts are interactive; no network is needed.</p>"]
    contents = []
    scripts = []
    for run in runs:
        rid = html.escape(str(run["run_id"]))
        view = run_view(run, texts.get(str(run["run_id"])))
        unproven = "" if view.proven else " <span class='unproven'>(unproven)</span>"
        contents.append(f"<li><a href='#run-{rid}'>{html.escape(view.title)}</a>{unproven}</li>")
        parts.append(f"<h2 id='run-{rid}'>{html.escape(view.title)} <span class='meta'>{html.escape(view.meta)}</span>"
                     "</h2>")
        parts.append(str(macro(view)))
        for i, fig in enumerate(figures.get(rid, [])):
            div = f"chart-{rid}-{i}"
            parts.append(f"<h3>{html.escape(fig['title'])}</h3><div class='chart' id='{div}' "
                         f"data-chart='{html.escape(fig['name'])}'></div>")
            scripts.append(f"(function(){{var f={_script_json(fig['figure'])};Plotly.newPlot({_script_json(div)},"
                           "f.data,f.layout,{responsive:true});})();")
    if len(runs) > 1:
        parts.insert(2, f"<ol class='contents'>{''.join(contents)}</ol>")
    body = "\n".join(parts)
    style = _STYLE + (_TEMPLATES / "view.css").read_text()
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style><script>{get_plotlyjs()}</script></head><body>{body}"
            f"<script>{''.join(scripts)}</script></body></html>")


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element whatever it holds (a stored figure, a name)."""
    data = json.loads(value) if isinstance(value, str) and value[:1] in "{[" else value
    text = json.dumps(data)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
