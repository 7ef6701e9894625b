"""Reported facts: reading them off runs, one-line errors, and calibration recovering known parameters."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pacer.errors import PacerError
from pacer.facts import (
    MARKET_SERIES,
    Parameter,
    calibrate,
    check_facts,
    facts_frame,
    get_value,
    market_series,
    parse_param,
    set_value,
)
from pacer.market import simulate
from pacer.scenario import parse_scenario
from tests.market.conftest import SMALL


def fact(name: str, reported: Any, low: Any, high: Any, **metric: Any) -> dict[str, Any]:
    return {"name": name, "metric": metric, "reported": reported, "low": low, "high": high,
            "source": "synthetic", "date": "2026-11"}


FACTS = [
    fact("lab spend 2026", 1e8, 5e7, 2e8, series="spend_usd", tenant="lab", period=2026),
    fact("rofr from 2026Q1", "2026Q1", "2026Q1", "2026Q1", series="rofr_active", tenant="lab", provider="big",
         period="2025Q1..2027Q4", aggregate="first_quarter"),
    fact("inference share 2026", 0.5, 0.3, 0.9, series="demand_kh100e", workload="inference", period=2026,
         ratio_to={"workload": "all"}),
    fact("big capex 2025 (far off on purpose)", 1e12, 9e11, 1.1e12, series="capex_usd", provider="big",
         period="2025"),
]


@pytest.fixture(scope="module")
def small_with_facts(small_market_result) -> tuple[Any, Any]:
    """The session's small market run, read against facts stated for the same scenario."""
    import dataclasses

    data = copy.deepcopy(SMALL) | {"facts": copy.deepcopy(FACTS)}
    s = parse_scenario(data)
    return s, dataclasses.replace(small_market_result, scenario=s)


def test_facts_are_read_off_the_run(small_with_facts):
    s, r = small_with_facts
    checks = {c.name: c for c in check_facts(s, r)}
    spend = r.by_year("tenants", "spend_usd").loc["2026", "lab"]
    assert checks["lab spend 2026"].simulated == pytest.approx(spend)
    assert checks["lab spend 2026"].within == (5e7 <= spend <= 2e8)
    assert checks["rofr from 2026Q1"].simulated == "2026Q1" and checks["rofr from 2026Q1"].within
    t = r.tenants[r.tenants.quarter.str.startswith("2026")]
    share = t.demand_inference_kh100e.sum() / t.demand_kh100e.sum()
    assert checks["inference share 2026"].simulated == pytest.approx(share)
    far = checks["big capex 2025 (far off on purpose)"]
    assert not far.within and far.residual < -5  # shown as outside its band, never hidden
    table = facts_frame(list(checks.values()))
    assert list(table.within) == ["yes" if c.within else "NO" for c in checks.values()]
    assert "e+" not in table.to_string()  # numbers for people


def test_json_carries_every_fact(small_with_facts):
    _, r = small_with_facts
    payload = json.loads(json.dumps(r.to_dict()))
    assert [f["name"] for f in payload["facts"]] == [f["name"] for f in FACTS]
    assert set(payload["facts"][0]) >= {"name", "reported", "simulated", "low", "high", "within", "source"}


def test_every_market_series_is_in_the_long_table(small_with_facts):
    _, r = small_with_facts
    table = market_series(r)
    contracts_absent = {"equity_for_compute_active", "equity_invested_usd"}  # no such contract here
    missing = set(MARKET_SERIES) - set(table.series) - contracts_absent - {"released_mw", "absorbed_mw"}
    assert not missing
    # The long table sums back to the result's own frames.
    for name in ("capex_usd", "gpus"):
        assert table[table.series == name].value.sum() == pytest.approx(r.providers[name].sum())
    assert table[table.series == "demand_kh100e"].value.sum() == pytest.approx(r.tenants.demand_kh100e.sum())


@pytest.mark.parametrize(("change", "message"), [
    ({"low": 3e8}, "facts[0]: low 300000000.0 is above high"),
    ({"reported": 5e8}, "facts[0]: reported 500000000.0 is outside its band"),
    ({"metric": {"series": "spend_usd", "tenant": "lab", "period": "2031"}}, "facts[0].metric.period: must be inside"),
    ({"metric": {"series": "spendings", "tenant": "lab", "period": "2026"}},
     "facts[0].metric.series: unknown series; did you mean spend_usd"),
    ({"metric": {"series": "spend_usd", "tenant": "labb", "period": "2026"}}, "facts[0].metric.tenant: unknown tenant"),
    ({"metric": {"series": "capex_usd", "provider": "azure", "period": "2026"}},
     "facts[0].metric.provider: unknown provider"),
    ({"metric": {"series": "spend_usd", "region": "us", "period": "2026"}},
     "facts[0].metric.region: series spend_usd has no region"),
    ({"metric": {"series": "spend_usd", "period": "2026Q3..2026Q1"}}, "facts[0].metric.period: ends before"),
    ({"metric": {"series": "spend_usd", "period": "2026", "ratio_to": {"colour": "red"}}},
     "facts[0].metric.ratio_to: unknown field"),
    ({"source": ""}, "facts[0].source"),
    ({"reported": "lots"}, "facts[0]: reported must be a number"),
])
def test_bad_facts_are_one_line(change, message):
    data = copy.deepcopy(SMALL) | {"facts": [copy.deepcopy(FACTS[0]) | change]}
    with pytest.raises(PacerError) as err:
        parse_scenario(data)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_bad_fact_exits_2_from_the_cli(pacer_cli, tmp_path):
    data = copy.deepcopy(SMALL) | {"facts": [copy.deepcopy(FACTS[0]) | {"low": 3e8}]}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    run = pacer_cli("simulate", str(path), "--no-save")
    assert run.code == 2 and run.err.strip().count("\n") == 0 and "facts[0]" in run.err


# -- calibration ------------------------------------------------------------------------------------------------

TRUE_START_KH100E, TRUE_GROWTH = 2.5, 1.6


def tiny_market() -> dict[str, Any]:
    """One provider, one tenant with a noise-free demand, four quarters: a run takes a few seconds."""
    data = copy.deepcopy(SMALL)
    data["horizon"] = {"start": "2025Q1", "end": "2025Q4"}
    m = data["market"]
    m |= {"replan_every_quarters": 4, "replan_leaves": 1, "realised": {"quantile": 0.5, "paths": 4, "seed": 1}}
    m["providers"] = [m["providers"][0] | {"projects": m["providers"][0]["projects"][:1]}]
    m["tenants"] = [{"name": "startup", "bid_usd_per_h100e_hour": 3.0,
                     "demand": {"start_kh100e": 1.0, "annual_growth": 1.0, "annual_volatility": 0.0, "region": "us"}}]
    m["contracts"] = []
    q4 = TRUE_START_KH100E * (1 + TRUE_GROWTH) ** 0.75
    data["facts"] = [
        fact("demand at the start", TRUE_START_KH100E, TRUE_START_KH100E * 0.95, TRUE_START_KH100E * 1.05,
             series="demand_kh100e", tenant="startup", period="2025Q1"),
        fact("demand a year on", q4, q4 * 0.95, q4 * 1.05, series="demand_kh100e", tenant="startup", period="2025Q4"),
    ]
    return data


def test_calibration_recovers_known_parameters(tmp_path):
    """Facts generated from known demand parameters; the fit finds them within 3% of each search range."""
    data = tiny_market()
    params = [Parameter("market.tenants[startup].demand.start_kh100e", 1.0, 4.0),
              Parameter("market.tenants[startup].demand.annual_growth", 0.5, 3.0)]
    seen: list[tuple[int, int, float]] = []
    fit = calibrate(data, params, budget=24, seed=1, executor="processes",
                    on_generation=lambda *a: seen.append(a))
    start, growth = fit.values
    assert abs(start - TRUE_START_KH100E) <= 0.03 * 3.0
    assert abs(growth - TRUE_GROWTH) <= 0.03 * 2.5
    assert all(f.within for f in fit.facts) and fit.loss < 1.0
    assert seen and seen[-1][0] == seen[-1][1]  # progress reached the last generation
    # Sensitivity: raising the start level raises both demand facts.
    assert all(v > 0 for v in fit.sensitivity[0]["d_fact_d_param"].values())
    out = tmp_path / "calibrated.yaml"
    fit.write(out)
    written = yaml.safe_load(out.read_text())
    assert written["calibrated"][0]["path"] == params[0].path
    assert get_value(written, params[0].path) == pytest.approx(start, abs=1e-5)
    parse_scenario(written)  # a valid scenario


@pytest.mark.parametrize(("text", "message"), [
    ("market.cash=5:1", "needs LOW < HIGH"),
    ("market.cash=1", "must be PATH=LOW:HIGH"),
    ("market.cash=a:b", "bounds must be numbers"),
])
def test_bad_param_text_is_one_line(text, message):
    with pytest.raises(PacerError, match=message):
        parse_param(text)


def test_bad_param_paths_and_bounds_are_one_line():
    from pacer.facts import check_parameters

    data = tiny_market()
    with pytest.raises(PacerError, match="no list item named 'nobody'"):
        check_parameters(data, [Parameter("market.tenants[nobody].cash_usd", 0, 1)], ".")
    with pytest.raises(PacerError, match="no field 'cahs'"):
        check_parameters(data, [Parameter("market.tenants[startup].cahs", 0, 1)], ".")
    with pytest.raises(PacerError, match=r"bound 5\.0 is outside the valid range"):
        check_parameters(data, [Parameter("market.tenants[startup].demand.annual_volatility", 0.1, 5.0)], ".")
    with pytest.raises(PacerError, match="must hold a number"):
        check_parameters(data, [Parameter("market.tenants[startup].name", 0, 1)], ".")


def test_set_value_reads_year_keys_and_leaves_the_input_alone():
    data = {"a": [{"name": "x", "per_year": {2024: 1.0}}]}
    out = set_value(data, "a[x].per_year.2024", 2.0)
    assert out["a"][0]["per_year"][2024] == 2.0 and data["a"][0]["per_year"][2024] == 1.0


def test_calibrate_cli_errors_exit_2(pacer_cli, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(tiny_market()))
    out = str(tmp_path / "c.yaml")
    for args, message in (
        (["--param", "market.tenants[startup].cash_usd=2:1", "-o", out], "needs LOW < HIGH"),
        (["--param", "market.tenants[startup].cash_usd=0:1", "-o", "c.txt"], "must be a .yaml file"),
        (["--param", "market.tenants[ghost].cash_usd=0:1", "-o", out], "no list item named 'ghost'"),
    ):
        run = pacer_cli("calibrate", str(path), *args)
        assert run.code == 2 and message in run.err and run.err.strip().count("\n") == 0
    assert not (tmp_path / "c.yaml").exists()  # nothing half-written


def test_a_fact_the_run_cannot_see_counts_as_missing():
    from pacer.facts import FactCheck, loss

    check = FactCheck(name="x", series="s", unit="USD", reported=1.0, low=0.0, high=2.0, simulated=None,
                      within=False, residual=None, source="s", date="d")
    assert loss([check]) == pytest.approx(100.0)
    assert np.isfinite(loss([]))


def test_report_and_run_page_show_every_fact(small_with_facts, tmp_path):
    """The stored run keeps a facts table and chart; the report and the run page open with the facts table,
    the one outside its band marked, not hidden."""
    from fastapi.testclient import TestClient

    from pacer.report.html import render_report
    from pacer.report.runs import save_run
    from pacer.store import RunStore
    from pacer.web import create_app

    _, r = small_with_facts
    store = RunStore(tmp_path / "runs.duckdb")
    run_id = save_run(store, r, scenario_path=None, scenario_text=None, parameters={}, seconds=1.0)
    assert "facts" in store.table_names(run_id)
    assert store.table(run_id, "facts").name.tolist() == [f["name"] for f in FACTS]
    figures = store.figures(run_id)
    assert "facts" in [f["name"] for f in figures]
    run = store.get(run_id)
    assert run["metrics"]["facts_total"] == 4 and run["metrics"]["facts_within"] < 4
    page = render_report([run], {run_id: figures}, "t")
    assert "reported vs simulated" in page and page.count('class="fact') == 4
    assert 'class="fact outside"' in page  # the far-off fact is marked
    client = TestClient(create_app(store, run_executor="local"))
    html = client.get(f"/runs/{run_id}").text
    assert html.count('class="fact') == 4 and "big capex 2025 (far off on purpose)" in html
    assert 'class="fact outside"' in html


@settings(max_examples=150, deadline=None)
@given(
    series=st.sampled_from([*MARKET_SERIES, "nothing", ""]),
    party=st.sampled_from([None, "lab", "big", "startup", "ghost", 3]),
    region=st.sampled_from([None, "us", "eu", "all"]),
    period=st.one_of(st.sampled_from(["2026", "2025Q1..2025Q4", "2027Q4", "2024", "2026Q3..2025Q1", "x", 2026]),
                        st.text(max_size=12)),
    aggregate=st.sampled_from(["sum", "mean", "last", "max", "first_quarter", "median"]),
    numbers=st.lists(st.one_of(st.floats(allow_nan=True), st.sampled_from(["2026Q1", "soon"])),
                        min_size=3, max_size=3),
    ratio=st.sampled_from([None, {"region": "all"}, {"workload": "all"}, {}, {"colour": "x"}]),
)
def test_any_fact_is_accepted_or_refused_in_one_line(series, party, region, period, aggregate, numbers, ratio):
    metric: dict[str, Any] = {"series": series, "period": period, "aggregate": aggregate}
    if party is not None:
        metric["tenant" if party in ("lab", "startup") else "provider"] = party
    if region is not None:
        metric["region"] = region
    if ratio is not None:
        metric["ratio_to"] = ratio
    reported, low, high = numbers
    data = copy.deepcopy(SMALL) | {"facts": [{"name": "f", "metric": metric, "reported": reported, "low": low,
                                              "high": high, "source": "s", "date": "d"}]}
    try:
        parse_scenario(data)
    except PacerError as exc:
        assert "\n" not in str(exc) and str(exc).strip()


def test_calibrate_cli_end_to_end(pacer_cli, tmp_path, monkeypatch):
    """The command's wiring (parameters, progress, JSON, the file written); every run is one cached market
    run here (the fit itself is tested above on real runs)."""
    import pacer.market

    data = tiny_market()
    cached = simulate(parse_scenario(data), executor="local")
    monkeypatch.setattr(pacer.market, "simulate", lambda s, **_: cached)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    out = tmp_path / "out" / "calibrated.yaml"
    run = pacer_cli("calibrate", str(path), "--param", "market.tenants[startup].demand.start_kh100e=1:4",
                    "-o", str(out), "--budget", "8", "--executor", "local", "--json")
    assert run.code == 0, run.err
    payload = run.json()
    assert payload["params"][0]["path"] == "market.tenants[startup].demand.start_kh100e"
    assert {f["name"] for f in payload["facts"]} == {"demand at the start", "demand a year on"}
    assert payload["sensitivity"][0]["path"] == payload["params"][0]["path"]
    written = yaml.safe_load(out.read_text())
    assert written["calibrated"][0]["value"] == pytest.approx(payload["params"][0]["value"], rel=1e-5)


def test_a_refused_candidate_reads_as_missing_facts(monkeypatch):
    """A candidate the model refuses does not stop the search: every fact reads as missing (the penalty)."""
    import pacer.market
    from pacer.facts import _Evaluate

    def refuse(*_: Any, **__: Any) -> Any:
        raise PacerError("plan not proven")

    monkeypatch.setattr(pacer.market, "simulate", refuse)
    job = _Evaluate(data=tiny_market(), base_dir=".", params=[Parameter("market.realised.paths", 2, 10)],
                    kind="simulate")
    checks = job.checks(np.array([0.5]))
    assert [c.simulated for c in checks] == [None, None] and "run refused" in checks[0].note
    assert job(np.array([0.5])) == pytest.approx(100.0)
    assert job.scenario(np.array([0.55])).market.realised.paths == 6  # a count stays a whole number


def test_a_plan_shows_the_facts_it_can_see(seed_plan_result):
    """The seed's plan reads the facts on series a plan has (release by region, inference share) and leaves
    the market's out; its JSON carries them."""
    facts = {f["name"]: f for f in seed_plan_result.to_dict()["facts"]}
    assert "hyperscaler walked away from about 2 GW in six months" in facts
    assert "inference above half of AI compute demand by 2026" in facts
    assert "lab compute spend 2024" not in facts  # a market series
    share = facts["inference above half of AI compute demand by 2026"]["simulated"]
    ds = seed_plan_result.dataset
    q2026 = [str(q).startswith("2026") for q in ds.quarter.to_numpy()]
    demand = seed_plan_result.problem.demand_kh100e  # node, region, workload
    weights = ds.probability.to_numpy()[q2026]
    expected = (demand[q2026, :, 1].sum(1) * weights).sum() / (demand[q2026].sum((1, 2)) * weights).sum()
    assert share == pytest.approx(expected, rel=1e-6)


def test_the_calibrated_record_must_match_the_scenario():
    from pathlib import Path

    data = yaml.safe_load(Path("examples/seed-2025/scenario.yaml").read_text())
    assert data["calibrated"]  # the seed records what was set against its facts
    parse_scenario(data)
    data["calibrated"][0]["value"] = 1.0
    with pytest.raises(PacerError, match=r"calibrated\[0\]\.value: differs from the scenario's"):
        parse_scenario(data)
    data["calibrated"][0]["path"] = "market.providers[nobody].fleet[0].gpus"
    with pytest.raises(PacerError, match=r"calibrated\[0\]\.path: names no value"):
        parse_scenario(data)
