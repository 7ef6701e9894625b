"""The web app: a JSON API and pages over the same calls as the CLI.

Built from three parts: :mod:`pacer.web.api` (JSON under ``/api``), :mod:`pacer.web.pages` (HTML),
:mod:`pacer.web.jobs` (runs in the background), plus the sizing calculator's :mod:`pacer.web.sizing`.
Here: the guards every request passes (body size and type, the bearer token on requests that write or
burn CPU, the Host header), error answers (one line, 422/404, never a 500 for client input), static files.

Requests that write or run work (``POST /api/runs``, ``POST /api/scenarios/*``, ``DELETE /api/runs/*``)
need ``Authorization: Bearer TOKEN`` when the app has a token.
"""

from __future__ import annotations

import gzip
import hmac
from collections.abc import Awaitable, Callable
from functools import cache
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader

from pacer.errors import PacerError, short_repr
from pacer.store import RunStore, UnknownRunError
from pacer.web.inputs import MAX_BODY_BYTES, Scenarios
from pacer.web.jobs import JobRunner

_HERE = Path(__file__).parent
_REPORT_TEMPLATES = _HERE.parent / "report" / "templates"
_STATIC = {"app.css": "text/css", "app.js": "application/javascript", "size.js": "application/javascript",
           "favicon.svg": "image/svg+xml"}


def _unprocessable(message: str) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": message, "field": message.split(":")[0]})


def _writes(method: str, path: str) -> bool:
    """Requests that change the store or start work: they need the token when the app has one."""
    return (method == "POST" and (path == "/api/runs" or path.startswith("/api/scenarios/"))) or (
        method == "DELETE" and path.startswith("/api/runs/"))


def create_app(store: RunStore | None = None, *, token: str | None = None, scenarios: list[str] | None = None,
               run_executor: str = "auto", allowed_hosts: list[str] | None = None) -> FastAPI:
    """The app over ``store``; ``scenarios`` are the files the editor may open and runs may use.
    ``allowed_hosts``: the Host headers it answers (``pacer serve`` passes the bound address, localhost and
    ``--allowed-host``): a page from another name that resolves here (DNS rebinding) gets 400."""
    from pacer import __version__
    from pacer.web import api, pages, sizing

    run_store = store if store is not None else RunStore()
    templates = Jinja2Templates(directory=str(_HERE / "templates"))
    templates.env.loader = ChoiceLoader([FileSystemLoader(str(_HERE / "templates")),
                                         FileSystemLoader(str(_REPORT_TEMPLATES))])
    templates.env.globals["version"] = __version__
    app = FastAPI(title="pacer", version=__version__)
    app.state.store = run_store
    app.state.scenarios = Scenarios(scenarios)
    app.state.jobs = JobRunner(run_store, run_executor)
    app.state.templates = templates
    app.state.token = token
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
        given = request.headers.get("authorization", "")
        if token and _writes(request.method, request.url.path) and not hmac.compare_digest(
                given.encode(), f"Bearer {token}".encode()):
            return JSONResponse(status_code=401, content={"detail": "authorization: a bearer token is required"})
        return await call_next(request)

    @app.exception_handler(UnknownRunError)
    async def unknown_run(request: Request, exc: UnknownRunError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse(status_code=404, content={"detail": str(exc)})
        return templates.TemplateResponse(request, "error.html", {"message": str(exc)}, status_code=404)

    @app.exception_handler(PacerError)
    async def bad_input(request: Request, exc: PacerError) -> Response:
        if not request.url.path.startswith("/api/"):
            return templates.TemplateResponse(request, "error.html", {"message": str(exc)}, status_code=422)
        return _unprocessable(str(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        """One line naming the field and the value (FastAPI's own answer echoes the input, and cannot when it
        is NaN: that was a 500)."""
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path")) or "body"
        message = f"{loc}: {err.get('msg', 'invalid')}, got {short_repr(err.get('input'))}"
        if not request.url.path.startswith("/api/"):
            return templates.TemplateResponse(request, "error.html", {"message": message}, status_code=422)
        return _unprocessable(message)

    @app.get("/static/plotly.min.js")
    def plotly_js(request: Request) -> Response:
        """plotly.js (4.8 MB), gzip-compressed (1.4 MB) for clients that take it, cached for a day; only
        pages with charts load it."""
        headers = {"Cache-Control": "max-age=86400", "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(_plotly_gzip(), media_type="application/javascript",
                            headers={**headers, "Content-Encoding": "gzip"})
        return Response(_plotly(), media_type="application/javascript", headers=headers)

    @app.get("/static/view.css")
    def view_css() -> Response:
        """The run view's styles, shared with the HTML report."""
        return Response((_REPORT_TEMPLATES / "view.css").read_bytes(), media_type="text/css",
                        headers={"Cache-Control": "max-age=300"})

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in _STATIC:
            return PlainTextResponse(status_code=404, content="not found")
        return Response((_HERE / "static" / name).read_bytes(), media_type=_STATIC[name],
                        headers={"Cache-Control": "max-age=300"})

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response((_HERE / "static" / "favicon.svg").read_bytes(), media_type="image/svg+xml",
                        headers={"Cache-Control": "max-age=86400"})

    app.include_router(api.router)
    app.include_router(sizing.router)
    app.include_router(pages.router)
    return app


@cache
def _plotly() -> bytes:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode()


@cache
def _plotly_gzip() -> bytes:
    return gzip.compress(_plotly(), compresslevel=6, mtime=0)
