"""Shared test helpers."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from pacer.cli import main


class CliRun:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture(autouse=True)
def _private_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test saves runs into its own store, never the user's."""
    path = tmp_path_factory.mktemp("store") / "runs.duckdb"
    monkeypatch.setenv("PACER_STORE", str(path))
    return path


@pytest.fixture
def pacer_cli(capsys: pytest.CaptureFixture[str]):
    """Run the ``pacer`` CLI in-process; returns exit code, stdout and stderr."""

    def run(*args: str) -> CliRun:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0) if not isinstance(exc.code, str) else 1
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)

    return run


SEED = "examples/seed-2025/scenario.yaml"


def once_per_session(tmp_path_factory: pytest.TempPathFactory, name: str, compute: Any) -> Any:
    """``compute()`` once per test session, also when pytest-xdist runs the tests on several workers: the
    first worker to ask computes and pickles it (under a file lock), the others wait and load it."""
    import fcntl
    import pickle

    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return compute()
    root = tmp_path_factory.getbasetemp().parent  # shared by the workers of one run
    target = root / f"{name}.pickle"
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():
            return pickle.loads(target.read_bytes())
        value = compute()
        target.write_bytes(pickle.dumps(value))
        return value


@pytest.fixture(scope="session")
def seed_plan_result(tmp_path_factory):
    """The seed example planned once per test session (about 30 s)."""
    from pacer.plan import plan

    return once_per_session(tmp_path_factory, "seed_plan", lambda: plan(SEED))


@pytest.fixture(scope="session")
def seed_market_result(tmp_path_factory):
    """The seed example's market simulated once per test session (about 2.5 min)."""
    from pacer.market import simulate

    return once_per_session(tmp_path_factory, "seed_market", lambda: simulate(SEED))


@pytest.fixture(scope="session")
def seed_demand_result():
    from pacer.demand import forecast

    return forecast(SEED)


SCREENSHOTS = Path(__file__).resolve().parents[1] / "out" / "screenshots"


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        message = "Debian's chromium is not installed (make browser installs it with apt)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.js_errors = errors  # type: ignore[attr-defined]
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def small_market_result(tmp_path_factory):
    """The small market of tests/market/conftest.py simulated once per test session (about 20 s)."""
    from pacer.market import simulate
    from pacer.scenario import parse_scenario
    from tests.market.conftest import SMALL

    return once_per_session(tmp_path_factory, "small_market",
                            lambda: simulate(parse_scenario(SMALL), executor="local"))
