"""Browser test of the sizing calculator: a shared URL fills and runs it, precisions follow the accelerator,
a latency limit no layout meets reads as a reason."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def test_sizing_calculator_reason_and_url(page, live_server):
    url = live_server["url"]
    # A shared URL fills the form and runs it.
    page.goto(url + "/size?model=llama-3.1-8b&accelerator=h100-sxm&count=2&input_tokens=2000")
    expect(page.locator("select[name=model]")).to_have_value("llama-3.1-8b")
    expect(page.locator("input[name=count]")).to_have_value("2")
    expect(page.locator("input[name=input_tokens]")).to_have_value("2000")
    expect(page.locator("#size-summary")).to_contain_text("llama-3.1-8b on 2 x h100-sxm")
    expect(page.locator("#size-result tr[data-name=layout] td.num")).to_contain_text(re.compile(r"TP\d x PP\d"))
    expect(page.locator("#size-reason")).to_have_text("")
    expect(page.locator("#size-front .main-svg").first).to_be_visible(timeout=30_000)

    # Precisions are those the accelerator has: no fp4 on an H100, fp4 on a B200.
    form = page.locator("#size-form")
    expect(form).to_have_attribute("data-options", "h100-sxm")
    expect(page.locator("select[name=precision] option[value=fp4]")).to_have_count(0)
    page.select_option("select[name=accelerator]", "b200")
    expect(form).to_have_attribute("data-options", "b200")
    expect(page.locator("select[name=precision] option[value=fp4]")).to_have_count(1)
    expect(page.locator("select[name=precision]")).to_have_value("fp8")  # the choice is kept where it can be
    page.select_option("select[name=accelerator]", "h100-sxm")
    expect(form).to_have_attribute("data-options", "h100-sxm")
    expect(page.locator("select[name=precision] option[value=fp4]")).to_have_count(0)

    # A TPOT limit no layout meets: a reason, no answer; the URL carries the limit.
    page.select_option("select[name=model]", "llama-3.1-70b")
    page.fill("input[name=count]", "8")
    page.fill("input[name=tpot_ms]", "1")
    page.click("button[type=submit]")
    expect(page.locator("#size-reason")).to_contain_text(
        re.compile(r"no layout meets TPOT <= 1 ms: the fastest on 8 x h100-sxm is [\d.]+ ms"))
    expect(page.locator("#size-summary")).to_have_class("bad")
    expect(page.locator("#size-result tr[data-name=tpot_ms]")).to_have_class("flagged")
    expect(page.locator("#size-front-note")).to_contain_text("no configuration of llama-3.1-70b on h100-sxm")
    assert "tpot_ms=1" in page.url and "model=llama-3.1-70b" in page.url and "count=8" in page.url

    # The URL it wrote, opened afresh, gives the same reason.
    shared = page.url
    page.goto("about:blank")
    page.goto(shared)
    expect(page.locator("input[name=tpot_ms]")).to_have_value("1")
    expect(page.locator("#size-reason")).to_contain_text("no layout meets TPOT <= 1 ms")
    assert page.js_errors == []
