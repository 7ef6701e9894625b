"""A live server on a free port and Debian's chromium driven by Playwright; screenshots on failure."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import yaml


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """The app on a free loopback port with a fresh store and one small scenario file it may open."""
    import uvicorn

    from pacer.store import RunStore
    from pacer.web import create_app
    from tests.plan.conftest import mini

    folder = tmp_path_factory.mktemp("web")
    scenario = folder / "mini.yaml"
    raw = mini()
    raw["provider"]["evaluation"] = {"paths": 20, "perfect_foresight_paths": 1}
    scenario.write_text(yaml.safe_dump(raw))
    store = RunStore(folder / "runs.duckdb")
    app = create_app(store, scenarios=[str(scenario)], run_executor="local")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    yield {"url": f"http://127.0.0.1:{port}", "store": store, "scenario": scenario}
    server.should_exit = True
    thread.join(timeout=10)
