"""The pages: run list, a run (decisions first), compare, scenario editor and what-if form, sizing.

Pages render the same views the API serves (:mod:`pacer.report.present`, :mod:`pacer.report.compare`);
plotly.js is loaded only by pages that draw charts.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pacer.formatting import cell, label

router = APIRouter()

#: Key metrics the run list shows for plans (for markets: released and absorbed MW, facts; for demand: the
#: last year's compute, power and inference share).
PLAN_METRICS = ("objective_usd", "stochastic_mean_npv_usd", "gap")
SORTS = ("newest", "oldest", "kind", "scenario", "seconds")


def _templates(request: Request) -> Any:
    return request.app.state.templates


def key_metrics(kind: str, metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) of the few numbers that tell runs of a kind apart."""
    out: list[tuple[str, str]] = []
    if kind == "simulate":
        for suffix in ("released_mw", "absorbed_mw"):
            total = sum(v for k, v in metrics.items() if k.endswith("_" + suffix) and isinstance(v, int | float))
            out.append((label(suffix), cell(suffix, total)))
        if "facts_total" in metrics:
            out.append(("facts", f"{metrics.get('facts_within', 0)} of {metrics['facts_total']}"))
        return out
    if kind == "demand":
        for stem in ("gpus_h100e", "facility_mw", "inference_share"):
            keys = sorted(k for k in metrics if k.startswith(stem + "_"))
            if keys:
                out.append((label(keys[-1]), cell(keys[-1], metrics[keys[-1]])))
        return out
    for name in PLAN_METRICS if kind == "plan" else ():
        if name in metrics:
            out.append((label(name), cell(name, metrics[name])))
    return out


@router.get("/")
def home() -> Response:
    return RedirectResponse("/runs")


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request, kind: Literal["demand", "plan", "simulate", ""] = "",
              scenario: str = Query(default="", max_length=200), status: str = Query(default="", max_length=40),
              sort: Literal["newest", "oldest", "kind", "scenario", "seconds"] = "newest") -> Response:
    store = request.app.state.store
    frame = store.list_runs(kind=kind or None, scenario=scenario or None, status=status or None, limit=5000,
                            with_metrics=True)
    if sort != "newest" and len(frame):
        column = {"oldest": "created_at", "kind": "kind", "scenario": "scenario_name", "seconds": "seconds"}[sort]
        frame = frame.sort_values(column, ascending=sort != "seconds", kind="stable")
    rows = [{"run_id": r["run_id"], "created": r["created_at"].strftime("%Y-%m-%d %H:%M"), "kind": r["kind"],
             "scenario": r["scenario_name"], "status": r["status"],
             "unproven": r["kind"] == "plan" and r["status"] not in ("optimal", "ok"),
             "seconds": cell("seconds", r["seconds"]), "metrics": key_metrics(r["kind"], r["metrics"]),
             "changes": len((r["parameters"] or {}).get("overrides") or {})}
            for r in frame.to_dict("records")]
    scenarios = store.scenario_names()
    return _templates(request).TemplateResponse(request, "runs.html", {
        "runs": rows, "kind": kind, "scenario": scenario, "status": status, "sort": sort, "sorts": SORTS,
        "scenarios": scenarios})


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str) -> Response:
    from pacer.report.present import view_of_stored

    store = request.app.state.store
    view = view_of_stored(store, run_id)
    return _templates(request).TemplateResponse(request, "run.html", {
        "view": view, "tables": store.table_names(run_id), "charts": True})


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, ids: list[str] = Query(default=[], max_length=12)) -> Response:
    from pacer.report.compare import comparison

    view = comparison(request.app.state.store, ids) if ids else None
    return _templates(request).TemplateResponse(request, "compare.html", {
        "view": view, "ids": ids, "charts": bool(view and view.overlays)})


@router.get("/size", response_class=HTMLResponse)
def size_page(request: Request) -> Response:
    from pacer.catalog import load_catalog

    c = load_catalog()
    return _templates(request).TemplateResponse(request, "size.html", {
        "models": sorted(c.models), "accelerators": sorted(c.accelerators), "charts": True})


@router.get("/scenario", response_class=HTMLResponse)
def scenario_page(request: Request) -> Response:
    return _templates(request).TemplateResponse(request, "scenario.html", {
        "files": request.app.state.scenarios.names(), "charts": True})
