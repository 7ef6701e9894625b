"""Browser tests: Playwright driving Debian's chromium against a live server."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def test_every_page_loads(page, live_server):
    url = live_server["url"]
    for path, heading in (("/runs", "runs"), ("/size", "sizing calculator"), ("/scenario", "scenario editor"),
                          ("/compare", "compare runs")):
        response = page.goto(url + path)
        assert response is not None and response.status == 200
        expect(page.locator("h1")).to_contain_text(heading)
    assert page.js_errors == []


def test_sizing_calculator(page, live_server):
    page.goto(live_server["url"] + "/size")
    page.select_option("select[name=model]", "llama-3.1-70b")
    page.select_option("select[name=accelerator]", "h100-sxm")
    page.fill("input[name=count]", "2")
    page.click("button[type=submit]")
    table = page.locator("#size-result")
    expect(table).to_contain_text("max_output_tokens_per_s")
    expect(table).to_contain_text("fits")
    page.fill("input[name=count]", "0")
    page.click("button[type=submit]")
    expect(page.locator("#size-error")).to_contain_text("count")  # a bad value says which field
    assert page.js_errors == []


def test_editor_validates_and_runs_a_small_plan_and_shows_its_chart(page, live_server):
    page.goto(live_server["url"] + "/scenario")
    page.select_option("#file", "mini.yaml")
    page.click("#open")
    expect(page.locator("#yaml")).to_have_value(re.compile("name: mini"))
    page.click("#validate")
    expect(page.locator("#message")).to_contain_text("valid: mini")
    # An edit makes it a posted scenario; a bad value gets the field path back.
    text = page.locator("#yaml").input_value()
    page.fill("#yaml", text.replace("power_mw: 50", "power_mw: -50"))
    page.click("#validate")
    expect(page.locator("#message")).to_contain_text("provider.projects[0].power_mw")
    page.fill("#yaml", text)
    page.click("#run-plan")
    expect(page.locator("#progress li").first).to_be_visible(timeout=60_000)
    expect(page.locator("#message")).to_contain_text("done: run", timeout=120_000)
    charts = page.locator("#charts .chart")
    expect(charts.first.locator(".main-svg").first).to_be_visible(timeout=30_000)
    assert charts.count() >= 3
    page.click("#open-run")
    expect(page.locator("h1")).to_contain_text("plan: mini")
    expect(page.locator("#charts .chart .main-svg").first).to_be_visible(timeout=30_000)
    assert page.js_errors == []


def test_run_list_and_comparison(page, live_server):
    from pacer.demand import forecast
    from pacer.report.runs import save_run
    from pacer.scenario import load_scenario

    store, path = live_server["store"], live_server["scenario"]
    result = forecast(load_scenario(path))
    ids = [save_run(store, result, scenario_path=str(path), scenario_text=path.read_text(), parameters={},
                    seconds=0.1) for _ in range(2)]
    page.goto(live_server["url"] + "/runs")
    for run_id in ids:
        page.check(f"input[value='{run_id}']")
    page.click("text=compare selected")
    expect(page.locator("#comparison")).to_contain_text("gpus_h100e_2027")
    for run_id in ids:
        expect(page.locator("#comparison thead")).to_contain_text(run_id)
    page.goto(live_server["url"] + "/runs/nope")
    expect(page.locator("#error")).to_contain_text("no such run")
