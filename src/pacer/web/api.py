"""The JSON API (``/api/...``): catalog, runs and their data, comparison, scenarios, jobs.

Every answer is JSON (or the table's file); bad input is a one-line 422 naming the field, an unknown run
or table a 404, and nothing here answers 500 for anything a client can send.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from pacer._result import plain
from pacer.errors import PacerError
from pacer.store import RunStore, table_bytes
from pacer.web.inputs import VALIDATE_TIMEOUT_S, RunRequest, ScenarioBody, Scenarios
from pacer.web.jobs import JobRunner, TooManyJobsError

router = APIRouter(prefix="/api")
#: Most runs one list or comparison returns.
MAX_LIST = 10_000
#: Most runs one comparison takes.
MAX_COMPARE = 12


def _store(request: Request) -> RunStore:
    return request.app.state.store


def _scenarios(request: Request) -> Scenarios:
    return request.app.state.scenarios


def _jobs(request: Request) -> JobRunner:
    return request.app.state.jobs


async def _bounded(work: Any, *args: Any) -> Any:
    """Run ``work(*args)`` in a worker thread, refusing the request past :data:`VALIDATE_TIMEOUT_S`."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(work, *args), VALIDATE_TIMEOUT_S)
    except TimeoutError:
        raise PacerError(f"scenario: took more than {VALIDATE_TIMEOUT_S:.0f} s to read, got a scenario too large "
                         "to validate here") from None


@router.get("/health")
def health(request: Request) -> dict[str, Any]:
    from pacer import __version__

    return {"status": "ok", "version": __version__, "store": str(_store(request).path)}


@router.get("/catalog/accelerators")
def accelerators() -> list[dict[str, Any]]:
    from pacer.catalog import load_catalog

    return [plain({"id": a.id, "name": a.name, "hbm_gb": a.hbm_gb, "price_usd": a.price_usd,
                   "rental_usd_per_hour": a.rental_usd_per_hour}) for a in load_catalog().accelerators.values()]


@router.get("/catalog/models")
def models() -> list[dict[str, Any]]:
    from pacer.catalog import load_catalog

    return [plain({"id": m.id, "name": m.name, "params_b": m.total_params_b})
            for m in load_catalog().models.values()]


# -- runs ------------------------------------------------------------------------------------------
@router.get("/runs")
def runs(request: Request, kind: Literal["demand", "plan", "simulate"] | None = None,
         scenario: str | None = Query(default=None, max_length=200),
         limit: int = Query(default=200, ge=1, le=MAX_LIST)) -> list[dict[str, Any]]:
    frame = _store(request).list_runs(kind=kind, scenario=scenario, limit=limit, with_metrics=True)
    return plain(frame.assign(created_at=frame.created_at.astype(str)).to_dict("records"))


@router.get("/runs/{run_id}")
def run(request: Request, run_id: str) -> dict[str, Any]:
    return plain(_store(request).get(run_id))


@router.get("/runs/{run_id}/view")
def run_view(request: Request, run_id: str) -> dict[str, Any]:
    """The run as its page shows it: headline, tables (formatted for people), warnings."""
    from pacer.report.present import view_of_stored

    return view_of_stored(_store(request), run_id).to_dict()


@router.get("/runs/{run_id}/figures")
def figures(request: Request, run_id: str) -> list[dict[str, Any]]:
    return [{"name": f["name"], "title": f["title"], "figure": json.loads(f["figure"])}
            for f in _store(request).figures(run_id)]


@router.get("/runs/{run_id}/tables")
def tables(request: Request, run_id: str) -> list[str]:
    store = _store(request)
    store.get(run_id)  # 404 for an unknown run
    return store.table_names(run_id)


@router.get("/runs/{run_id}/tables/{name}")
def table(request: Request, run_id: str, name: str,
          format: Literal["csv", "parquet", "json"] = "csv") -> Response:
    store = _store(request)
    if name not in store.table_names(run_id):
        store.get(run_id)  # an unknown run: 404 naming the run
        return JSONResponse(status_code=404, content={"detail": f"table: run {run_id} has no table {name!r}"})
    frame = store.table(run_id, name)
    body, media_type = table_bytes(frame, format)
    filename = f"{run_id}-{name}.{format}"
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/runs/{run_id}/scenario", response_class=PlainTextResponse)
def run_scenario(request: Request, run_id: str) -> Response:
    text = _store(request).scenario_text(run_id)
    if text is None:
        return JSONResponse(status_code=404, content={"detail": f"scenario: run {run_id} was saved without its "
                                                                "scenario text"})
    return PlainTextResponse(text, media_type="application/yaml",
                             headers={"Content-Disposition": f'inline; filename="{run_id}.yaml"'})


@router.delete("/runs/{run_id}")
def delete(request: Request, run_id: str) -> dict[str, Any]:
    _store(request).delete(run_id)
    return {"deleted": run_id}


@router.get("/compare")
def compare(request: Request, ids: list[str] = Query(min_length=1, max_length=MAX_COMPARE)) -> dict[str, Any]:
    """Metrics side by side with their differences to the first run, and the scenario diff."""
    from pacer.report.compare import comparison

    return comparison(_store(request), ids).to_dict()


# -- scenarios -------------------------------------------------------------------------------------
@router.post("/scenarios/validate")
async def validate(request: Request, body: ScenarioBody) -> dict[str, Any]:
    s, _, _ = await _bounded(_scenarios(request).load, body)
    return {"valid": True, "name": s.name, "quarters": len(s.quarters), "regions": s.regions,
            "has_provider": s.provider is not None, "has_market": s.market is not None}


@router.post("/scenarios/knobs")
async def knobs(request: Request, body: ScenarioBody) -> list[dict[str, Any]]:
    """The assumptions the what-if form shows for this scenario, with current values and ranges."""
    return await _bounded(_scenarios(request).knobs, body)


@router.get("/scenarios")
def scenario_files(request: Request) -> list[str]:
    return _scenarios(request).names()


@router.get("/scenarios/{name}", response_class=PlainTextResponse)
def scenario_file(request: Request, name: str) -> Response:
    text = _scenarios(request).text(name)
    if text is None:
        return PlainTextResponse(status_code=404, content=f"file: not a scenario this server has, got {name!r}")
    return PlainTextResponse(text)


# -- jobs ------------------------------------------------------------------------------------------
@router.post("/runs", status_code=202)
async def start_run(request: Request, body: RunRequest) -> Any:
    s, text, path = await _bounded(_scenarios(request).load, body)  # bad input answers 422 now, not in the job
    if body.kind == "plan" and s.provider is None:
        raise PacerError("provider: the scenario needs a provider section to plan, got None")
    if body.kind == "simulate" and s.market is None:
        raise PacerError("market: the scenario needs a market section to simulate, got None")
    options: dict[str, Any] = {"overrides": dict(body.overrides)} if body.overrides else {}
    if body.accept_gap is not None:
        options["accept_gap"] = body.accept_gap
    try:
        job = _jobs(request).start(body.kind, s, text, path, options)
    except TooManyJobsError as exc:
        return JSONResponse(status_code=429, content={"detail": str(exc)})
    return {"job_id": job.id, "events": f"/api/jobs/{job.id}/events"}


@router.get("/jobs")
def jobs(request: Request) -> list[dict[str, Any]]:
    """Running and finished jobs, newest first (a reloaded page finds its job here)."""
    return _jobs(request).list()


@router.get("/jobs/{job_id}")
def job_status(request: Request, job_id: str) -> Response:
    job = _jobs(request).get(job_id)
    if job is None:
        return JSONResponse(status_code=404, content={"detail": f"job: no such job, got {job_id!r}"})
    return JSONResponse(job.to_dict())


@router.get("/jobs/{job_id}/events")
async def job_events(request: Request, job_id: str) -> Response:
    """Server-sent events: ``progress`` per step (with seconds elapsed), a ``tick`` every second while a
    step runs, then ``done`` (with the run id) or ``error``."""
    job = _jobs(request).get(job_id)
    if job is None:
        return JSONResponse(status_code=404, content={"detail": f"job: no such job, got {job_id!r}"})

    async def stream() -> AsyncIterator[str]:
        sent, ticks = 0, 0
        while True:
            finished = job.status in ("done", "error")  # read before the steps: none is left unsent
            while sent < len(job.steps):
                yield f"event: progress\ndata: {json.dumps(job.steps[sent])}\n\n"
                sent += 1
            if finished:
                payload = {"run_id": job.run_id, "error": job.error, "elapsed_s": round(job.elapsed_s(), 1)}
                yield f"event: {job.status}\ndata: {json.dumps(payload)}\n\n"
                return
            ticks += 1
            if ticks % 5 == 0:
                tick = {"status": job.status, "elapsed_s": round(job.elapsed_s(), 1)}
                yield f"event: tick\ndata: {json.dumps(tick)}\n\n"
            await asyncio.sleep(0.2)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
