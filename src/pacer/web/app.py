"""The web app: a JSON API and pages over the same calls as the CLI.

* ``GET /api/health``, ``/api/catalog/{accelerators,models}``, ``POST /api/size/inference``;
* ``GET /api/runs``, ``/api/runs/{id}``, ``/api/runs/{id}/figures``, ``/api/compare?ids=..``,
  ``DELETE /api/runs/{id}``;
* ``POST /api/scenarios/validate`` (422 with the field path), ``POST /api/runs`` starts a demand, plan or
  simulate run in the background and ``GET /api/jobs/{id}/events`` streams its progress (server-sent
  events) until the stored run id;
* pages: ``/runs``, ``/runs/{id}``, ``/compare``, ``/size``, ``/scenario``.

Requests that write (start or delete a run) need ``Authorization: Bearer TOKEN`` when the app has a
token. Bodies over :data:`MAX_BODY_BYTES` get 413. The app reads and writes only its store and the
scenario files it was given: a posted scenario may not name other files (``projects_csv``,
``demand.table``).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import yaml
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field

from pacer._result import fmt, plain
from pacer.errors import PacerError, short_repr
from pacer.store import RunStore, UnknownRunError

#: Largest request body accepted (bytes).
MAX_BODY_BYTES = 1_000_000
#: Runs queued or running at once; more get 429.
MAX_PENDING_JOBS = 4
#: Finished jobs whose events can still be read.
MAX_KEPT_JOBS = 100
_HERE = Path(__file__).parent


class SizeRequest(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)  # NaN or infinity in posted JSON: 422 naming the field

    model: str
    accelerator: str
    count: int | None = Field(default=None, ge=1, le=100_000)
    precision: Literal["bf16", "fp16", "fp8", "int8", "fp4", "w8a16", "w4a16"] = "fp8"
    input_tokens: int = Field(default=1000, ge=1, le=10_000_000)
    output_tokens: int = Field(default=1000, ge=1, le=10_000_000)
    ttft_ms: float | None = Field(default=None, gt=0)
    tpot_ms: float | None = Field(default=None, gt=0)
    rate_rps: float | None = Field(default=None, gt=0)
    stack: str | None = Field(default=None, max_length=64)
    mode: Literal["aggregated", "disaggregated"] = "aggregated"


class ScenarioBody(BaseModel):
    yaml: str | None = Field(default=None, description="scenario as YAML text")
    file: str | None = Field(default=None, description="name of a scenario file the server was given")


class RunRequest(ScenarioBody):
    kind: Literal["demand", "plan", "simulate"]


class Job:
    def __init__(self, kind: str) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.kind = kind
        self.steps: list[str] = []
        self.status = "queued"
        self.run_id: str | None = None
        self.error: str | None = None


def _unprocessable(message: str) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": message, "field": message.split(":")[0]})


def create_app(store: RunStore | None = None, *, token: str | None = None, scenarios: list[str] | None = None,
               run_executor: str = "auto", allowed_hosts: list[str] | None = None) -> FastAPI:
    """The app over ``store``; ``scenarios`` are the files the editor may open and runs may use.
    ``allowed_hosts``: the Host headers it answers (``pacer serve`` passes the bound address, localhost and
    ``--allowed-host``): a page from another name that resolves here (DNS rebinding) gets 400."""
    run_store = store if store is not None else RunStore()
    files = {Path(f).name: Path(f).resolve() for f in scenarios or []}
    jobs: dict[str, Job] = {}
    run_lock = threading.Lock()  # one run at a time: solvers use the machine's cores
    templates = Jinja2Templates(directory=str(_HERE / "templates"))
    templates.env.filters["fmt"] = fmt
    app = FastAPI(title="pacer", version=_version())
    app.state.store = run_store
    if allowed_hosts is not None:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.method in ("POST", "PUT", "PATCH"):
            length = request.headers.get("content-length")
            if length is None or not length.isdigit():  # no streamed bodies: their size is unknown up front
                return JSONResponse(status_code=411, content={"detail": "body: a Content-Length is required"})
            if int(length) > MAX_BODY_BYTES:
                return JSONResponse(status_code=413,
                                    content={"detail": f"body: larger than {MAX_BODY_BYTES} bytes, got {length}"})
            if not request.headers.get("content-type", "").startswith("application/json"):
                # Also keeps other sites' pages from posting here without a CORS preflight.
                return JSONResponse(status_code=415, content={"detail": "body: must be application/json"})
        path = request.url.path
        writes = (request.method == "POST" and path == "/api/runs") or (
            request.method == "DELETE" and path.startswith("/api/runs/"))
        given = request.headers.get("authorization", "")
        if token and writes and not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return JSONResponse(status_code=401, content={"detail": "authorization: a bearer token is required"})
        return await call_next(request)

    @app.exception_handler(UnknownRunError)
    async def unknown_run(request: Request, exc: UnknownRunError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse(status_code=404, content={"detail": str(exc)})
        return templates.TemplateResponse(request, "error.html", {"message": str(exc)}, status_code=404)

    @app.exception_handler(PacerError)
    async def bad_input(request: Request, exc: PacerError) -> Response:
        return _unprocessable(str(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request_body(request: Request, exc: RequestValidationError) -> Response:
        """One line naming the field and the value (FastAPI's own answer echoes the input, and cannot when it
        is NaN: that was a 500)."""
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
        return _unprocessable(f"{loc}: {err.get('msg', 'invalid')}, got {short_repr(err.get('input'))}")

    def scenario_text(body: ScenarioBody) -> tuple[str, str | None]:
        """The scenario's YAML and, for a given file, its path."""
        if (body.yaml is None) == (body.file is None):
            raise PacerError("scenario: give exactly one of yaml and file, got both or neither")
        if body.file is not None:
            if body.file not in files:
                raise PacerError(f"file: not a scenario file this server was given, got {body.file!r}")
            return files[body.file].read_text(), str(files[body.file])
        assert body.yaml is not None
        if len(body.yaml.encode()) > MAX_BODY_BYTES:
            raise PacerError(f"yaml: larger than {MAX_BODY_BYTES} bytes, got {len(body.yaml)} characters")
        return body.yaml, None

    def parse(text: str, path: str | None) -> Any:
        from pacer.scenario import parse_scenario, read_yaml

        try:
            if path is None and any(isinstance(e, yaml.AliasEvent) for e in yaml.parse(text)):
                raise PacerError("scenario: YAML aliases are not accepted in a posted scenario, got an alias")
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise PacerError(f"scenario: is not valid YAML{f' at line {mark.line + 1}' if mark else ''}") from exc
        except RecursionError as exc:
            raise PacerError("scenario: nests too deeply to be a scenario, got deep nesting") from exc
        data = read_yaml(text)
        if path is None and isinstance(data, dict):  # a posted scenario may not make the server read files
            if isinstance(data.get("provider"), dict) and data["provider"].get("projects_csv"):
                raise PacerError("provider.projects_csv: not allowed in a posted scenario (the server reads no "
                                 "files but its own), got a path")
            if isinstance(data.get("demand"), dict) and data["demand"].get("table"):
                raise PacerError("demand.table: not allowed in a posted scenario (the server reads no files but "
                                 "its own), got a path")
        return parse_scenario(data, Path(path).parent if path else Path("/nonexistent"))

    # -- API -------------------------------------------------------------------------------------
    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": _version(), "store": str(run_store.path)}

    @app.get("/api/catalog/accelerators")
    def accelerators() -> list[dict[str, Any]]:
        from pacer.catalog import load_catalog

        return [plain({"id": a.id, "name": a.name, "hbm_gb": a.hbm_gb, "price_usd": a.price_usd,
                       "rental_usd_per_hour": a.rental_usd_per_hour}) for a in load_catalog().accelerators.values()]

    @app.get("/api/catalog/models")
    def models() -> list[dict[str, Any]]:
        from pacer.catalog import load_catalog

        catalog = load_catalog()
        return [plain({"id": m.id, "name": m.name, "params_b": m.total_params_b}) for m in catalog.models.values()]

    @app.post("/api/size/inference")
    def size(body: SizeRequest) -> dict[str, Any]:
        from pacer.sizing import size_inference

        result = size_inference(body.model, body.accelerator, body.count, body.precision, body.input_tokens,
                                body.output_tokens, ttft_ms=body.ttft_ms, tpot_ms=body.tpot_ms,
                                rate_rps=body.rate_rps, stack=body.stack, mode=body.mode)
        return plain(result.to_dict())

    @app.get("/api/runs")
    def runs(kind: str | None = None, limit: int = Query(default=200, ge=1, le=10_000)) -> list[dict[str, Any]]:
        frame = run_store.list_runs(kind=kind, limit=limit)
        return plain(frame.assign(created_at=frame.created_at.astype(str)).to_dict("records"))

    @app.get("/api/runs/{run_id}")
    def run(run_id: str) -> dict[str, Any]:
        return plain(run_store.get(run_id))

    @app.get("/api/runs/{run_id}/figures")
    def figures(run_id: str) -> list[dict[str, Any]]:
        return [{"name": f["name"], "title": f["title"], "figure": json.loads(f["figure"])}
                for f in run_store.figures(run_id)]

    @app.delete("/api/runs/{run_id}")
    def delete(run_id: str) -> dict[str, Any]:
        run_store.delete(run_id)
        return {"deleted": run_id}

    @app.get("/api/compare")
    def compare(ids: list[str] = Query(min_length=1)) -> dict[str, Any]:
        frame = run_store.compare(ids)
        return plain(frame.astype(object).where(frame.notna(), None).to_dict())

    @app.post("/api/scenarios/validate")
    def validate(body: ScenarioBody) -> dict[str, Any]:
        text, path = scenario_text(body)
        s = parse(text, path)
        return {"valid": True, "name": s.name, "quarters": len(s.quarters), "regions": s.regions,
                "has_provider": s.provider is not None, "has_market": s.market is not None}

    @app.get("/api/scenarios")
    def scenario_files() -> list[str]:
        return sorted(files)

    @app.get("/api/scenarios/{name}", response_class=PlainTextResponse)
    def scenario_file(name: str) -> Response:
        if name not in files:
            return PlainTextResponse(status_code=404, content=f"file: not a scenario this server has, got {name!r}")
        return PlainTextResponse(files[name].read_text())

    @app.post("/api/runs", status_code=202)
    def start_run(body: RunRequest) -> Any:
        text, path = scenario_text(body)
        s = parse(text, path)  # bad input answers 422 now, not later in the job
        if body.kind == "plan" and s.provider is None:
            raise PacerError("provider: the scenario needs a provider section to plan, got None")
        if body.kind == "simulate" and s.market is None:
            raise PacerError("market: the scenario needs a market section to simulate, got None")
        waiting = sum(j.status in ("queued", "running") for j in jobs.values())
        if waiting >= MAX_PENDING_JOBS:
            return JSONResponse(status_code=429, content={"detail": f"runs: {waiting} already queued or running, "
                                                          "try again later"})
        for old_id in [k for k, j in jobs.items() if j.status in ("done", "error")][:-MAX_KEPT_JOBS]:
            jobs.pop(old_id)  # keep the last finished jobs only
        job = Job(body.kind)
        jobs[job.id] = job
        threading.Thread(target=_run_job, args=(job, s, text, path, run_store, run_lock, run_executor),
                         daemon=True).start()
        return {"job_id": job.id, "events": f"/api/jobs/{job.id}/events"}

    @app.get("/api/jobs/{job_id}")
    def job_status(job_id: str) -> Response:
        job = jobs.get(job_id)
        if job is None:
            return JSONResponse(status_code=404, content={"detail": f"job: no such job, got {job_id!r}"})
        return JSONResponse({"job_id": job.id, "kind": job.kind, "status": job.status, "steps": job.steps,
                             "run_id": job.run_id, "error": job.error})

    @app.get("/api/jobs/{job_id}/events")
    async def job_events(job_id: str) -> Response:
        job = jobs.get(job_id)
        if job is None:
            return JSONResponse(status_code=404, content={"detail": f"job: no such job, got {job_id!r}"})

        async def stream() -> AsyncIterator[str]:
            sent = 0
            while True:
                while sent < len(job.steps):
                    yield f"event: progress\ndata: {json.dumps({'step': job.steps[sent]})}\n\n"
                    sent += 1
                if job.status in ("done", "error"):
                    payload = {"run_id": job.run_id, "error": job.error}
                    yield f"event: {job.status}\ndata: {json.dumps(payload)}\n\n"
                    return
                await asyncio.sleep(0.2)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.get("/static/plotly.min.js")
    def plotly_js() -> Response:
        from plotly.offline import get_plotlyjs

        return Response(get_plotlyjs(), media_type="application/javascript",
                        headers={"Cache-Control": "max-age=86400"})

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        allowed = {"app.css": "text/css", "app.js": "application/javascript"}
        if name not in allowed:
            return PlainTextResponse(status_code=404, content="not found")
        return Response((_HERE / "static" / name).read_text(), media_type=allowed[name])

    # -- pages -----------------------------------------------------------------------------------
    @app.get("/")
    def home() -> Response:
        return RedirectResponse("/runs")

    @app.get("/runs", response_class=HTMLResponse)
    def runs_page(request: Request, kind: str | None = None) -> Response:
        frame = run_store.list_runs(kind=kind, limit=5000)
        return templates.TemplateResponse(request, "runs.html", {"runs": frame.to_dict("records"), "kind": kind})

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(request: Request, run_id: str) -> Response:
        r = run_store.get(run_id)
        from pacer.report.html import facts_table

        return templates.TemplateResponse(request, "run.html", {
            "run": r, "tables": run_store.table_names(run_id),
            "facts_html": facts_table(r.get("result", {}).get("facts") or [])})

    @app.get("/compare", response_class=HTMLResponse)
    def compare_page(request: Request, ids: list[str] = Query(default=[])) -> Response:
        frame = run_store.compare(ids) if ids else None
        rows = [] if frame is None else [(m, [frame.loc[m, c] for c in frame.columns]) for m in frame.index]
        return templates.TemplateResponse(request, "compare.html", {
            "columns": [] if frame is None else list(frame.columns), "rows": rows, "ids": ids})

    @app.get("/size", response_class=HTMLResponse)
    def size_page(request: Request) -> Response:
        from pacer.catalog import load_catalog

        c = load_catalog()
        return templates.TemplateResponse(request, "size.html", {"models": sorted(c.models),
                                                                 "accelerators": sorted(c.accelerators)})

    @app.get("/scenario", response_class=HTMLResponse)
    def scenario_page(request: Request) -> Response:
        return templates.TemplateResponse(request, "scenario.html", {"files": sorted(files)})

    return app


def _run_job(job: Job, scenario: Any, text: str, path: str | None, store: RunStore, lock: threading.Lock,
             executor: str) -> None:
    from pacer.report.runs import save_run

    step = job.steps.append
    with lock:
        job.status = "running"
        started = time.perf_counter()
        try:
            if job.kind == "demand":
                from pacer.demand import forecast

                step("forecasting demand")
                result: Any = forecast(scenario)
            elif job.kind == "plan":
                from pacer.plan import plan

                result = plan(scenario, on_step=step)
            else:
                from pacer.market import simulate

                result = simulate(scenario, executor=executor, on_step=step)
            step("saving the run")
            job.run_id = save_run(store, result, scenario_path=path, scenario_text=text,
                                  parameters={"kind": job.kind, "via": "web"}, seconds=time.perf_counter() - started)
            job.status = "done"
        except Exception as exc:  # reported to the page; the run is not stored
            job.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            job.status = "error"


def _version() -> str:
    from pacer import __version__

    return __version__
