"""The report of the seed example: one HTML file that opens offline and shows every chart."""

from __future__ import annotations

from pathlib import Path

import pytest

from pacer.report.runs import save_run
from pacer.store import RunStore

SEED = Path("examples/seed-2025/scenario.yaml")
CHARTS = {"demand_fan", "sizing_pareto", "capacity_vs_demand", "pacing_gantt", "gpu_fleet", "cash_and_npv",
          "market_flows", "tenant_money", "facts"}


@pytest.fixture(scope="module")
def seed_report(tmp_path_factory, seed_demand_result, seed_plan_result, seed_market_result):
    from typer.testing import CliRunner

    from pacer.cli import app

    folder = tmp_path_factory.mktemp("report")
    store_path = folder / "runs.duckdb"
    store = RunStore(store_path)
    for result in (seed_demand_result, seed_plan_result, seed_market_result):
        save_run(store, result, scenario_path=str(SEED.resolve()), scenario_text=SEED.read_text(), parameters={},
                 seconds=1.0)
    out = folder / "report.html"
    run = CliRunner().invoke(app, ["report", "--scenario", str(SEED), "-o", str(out), "--store", str(store_path)])
    assert run.exit_code == 0, run.output
    return out


def test_report_is_self_contained(seed_report):
    html = seed_report.read_text()
    assert "<script src=" not in html and "<link" not in html  # everything inline, nothing fetched
    for chart in CHARTS:
        assert f"data-chart='{chart}'" in html


def test_report_opens_offline_and_shows_every_chart(seed_report, browser):
    context = browser.new_context(viewport={"width": 1300, "height": 900}, offline=True)
    page = context.new_page()
    outside: list[str] = []
    page.route("**/*", lambda route: (outside.append(route.request.url), route.abort())
               if not route.request.url.startswith("file://") else route.continue_())
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(seed_report.resolve().as_uri())
    charts = page.locator("div.chart")
    assert charts.count() == len(CHARTS) + 1  # the facts chart of the plan and of the market
    for i in range(charts.count()):
        assert charts.nth(i).locator(".main-svg").count() > 0, charts.nth(i).get_attribute("data-chart")
    assert outside == [] and errors == []
    context.close()


def test_report_needs_runs(pacer_cli, tmp_path):
    run = pacer_cli("report", "-o", str(tmp_path / "r.html"), "--store", str(tmp_path / "empty.duckdb"))
    assert run.code == 2 and "runs" in run.err
    run = pacer_cli("report", "nope", "-o", str(tmp_path / "r.html"), "--store", str(tmp_path / "empty.duckdb"))
    assert run.code == 2 and "no such run" in run.err and not (tmp_path / "r.html").exists()
    run = pacer_cli("report", "nope", "-o", str(tmp_path / "r.txt"))
    assert run.code == 2 and "output" in run.err
