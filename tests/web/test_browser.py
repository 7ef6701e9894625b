"""Browser tests: Playwright driving Debian's chromium against a live server."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def test_every_page_loads(page, live_server):
    url = live_server["url"]
    for path, heading in (("/runs", "runs"), ("/size", "sizing calculator"), ("/scenario", "what-if"),
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
    throughput = page.locator("#size-result tr[data-name=output_tokens_per_s]")
    expect(throughput.locator("th")).to_contain_text("throughput")
    expect(throughput.locator("td.num")).to_contain_text(re.compile(r"^[\d,]+ tok/s"))
    expect(page.locator("#size-summary")).to_contain_text("llama-3.1-70b on 2 x h100-sxm")
    page.fill("input[name=count]", "0")
    page.click("button[type=submit]")
    expect(page.locator("#size-error")).to_contain_text("count")  # a bad value says which field
    assert page.js_errors == []


def test_what_if_form_runs_a_plan_and_its_page_opens_with_the_decisions(page, live_server):
    page.goto(live_server["url"] + "/scenario")
    weight = page.locator("input.knob-value[data-path='provider.cvar.weight']")
    expect(weight).to_be_visible(timeout=30_000)
    weight.fill("0.3")
    page.click("#whatif-plan")
    expect(page.locator("#whatif-plan")).to_be_disabled()  # no second run while one runs
    expect(page.locator("#jobs tbody tr").first).to_be_visible(timeout=30_000)
    # A reload finds the running job again: it is listed, followed, and the buttons stay disabled.
    page.reload()
    expect(page.locator("#jobs tbody tr").first).to_contain_text("plan", timeout=30_000)
    expect(page.locator("#message")).to_contain_text("done: run", timeout=180_000)
    expect(page.locator("#whatif-plan")).to_be_enabled()
    charts = page.locator("#charts .chart")
    expect(charts.first.locator(".main-svg").first).to_be_visible(timeout=30_000)
    page.click("#open-run")
    expect(page.locator("h1")).to_contain_text("plan: mini")
    expect(page.locator(".headline")).to_contain_text("what to do now")
    decisions = page.locator("table[data-table='projects'] tbody tr")
    assert decisions.count() == 3
    expect(page.locator("table[data-table='projects']")).to_contain_text("MW")
    expect(page.locator("#charts .chart .main-svg").first).to_be_visible(timeout=30_000)
    # The run kept the scenario with the changed weight.
    text = page.request.get(live_server["url"] + page.locator("#scenario-link").get_attribute("href")).text()
    assert "weight: 0.3" in text
    assert page.js_errors == []


def test_editor_marks_the_line_and_field_of_an_error(page, live_server):
    page.goto(live_server["url"] + "/scenario")
    page.select_option("#file", "mini.yaml")
    page.click("#open")
    expect(page.locator("#yaml")).to_have_value(re.compile("name: mini"))
    page.click("#validate")
    expect(page.locator("#message")).to_contain_text("valid: mini")
    text = page.locator("#yaml").input_value()
    page.fill("#yaml", text.replace("power_mw: 50", "power_mw: -50"))
    page.click("#validate")
    expect(page.locator("#message")).to_contain_text("provider.projects[0].power_mw")
    expect(page.locator("#gutter b.bad")).to_have_count(1)  # the line numbers mark where
    page.fill("#yaml", "name: [unclosed")
    page.click("#validate")
    expect(page.locator("#message")).to_contain_text("line")
    assert page.js_errors == []


def test_unproven_plan_warning_and_csv_download(page, live_server):
    from tests.web.test_views import save_plan

    run_id = save_plan(live_server["store"], status="time_limit")
    page.goto(live_server["url"] + f"/runs/{run_id}")
    expect(page.locator(".warning.unproven")).to_contain_text("Unproven plan")
    with page.expect_download() as download:
        page.click("a.download[href$='projects?format=csv']")
    path = download.value.path()
    assert path is not None and "land-1" in path.read_text()
    page.goto(live_server["url"] + "/runs")
    expect(page.locator(f"tr[data-run='{run_id}'] td.unproven")).to_contain_text("unproven")
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
    expect(page.locator("#comparison")).to_contain_text("GPUs H100e 2027", timeout=20_000)
    for run_id in ids:
        expect(page.locator("#comparison thead")).to_contain_text(run_id)
    expect(page.locator("#input-diff")).to_contain_text("same scenario text")
    # Two runs of different inputs: the diff shows the change.
    from tests.web.test_views import save_plan

    a = save_plan(store, text=path.read_text())
    b = save_plan(store, text=path.read_text().replace("name: mini", "name: mini-edited"))
    page.goto(live_server["url"] + f"/compare?ids={a}&ids={b}")
    expect(page.locator("#input-diff .add")).to_contain_text("name: mini-edited")
    expect(page.locator("#overlays .chart .main-svg").first).to_be_visible(timeout=30_000)
    assert page.js_errors == []
    page.goto(live_server["url"] + "/runs/nope")
    expect(page.locator("#error")).to_contain_text("no such run")
