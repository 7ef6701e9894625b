"""The market simulation on a small case: conservation, contract rules over time, money limits, absorption."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pacer.market import absorb_lots, simulate
from pacer.market.agents import ProviderAgent, expected_demand
from pacer.plan.problem import HOURS_PER_QUARTER
from pacer.scenario import parse_scenario

from .conftest import SMALL


@pytest.fixture(scope="module")
def small_result(small_market_result):
    return small_market_result


def test_conservation_of_money_and_capacity(small_result):
    checks = small_result.checks()
    assert checks["money_paid_minus_received_usd"] < 1e-3
    assert checks["allocations_minus_paid_usd"] < 1e-3
    assert checks["pipeline_balance_mw"] < 1e-6  # pipeline change = absorbed last quarter - released
    assert checks["sold_above_capacity_kh100e"] < 1e-6
    served = small_result.series("tenants", "served_kh100e")
    demand = small_result.series("tenants", "demand_kh100e")
    assert (served <= demand + 1e-6).all().all()


def test_exclusivity_holds_in_every_quarter(small_result):
    a = small_result.allocations
    during = a[(a.tenant == "lab") & (a.quarter <= "2025Q4")]
    assert during[during.provider == "rival"].kh100e.sum() <= 1e-6
    assert (during[during.provider == "neo"].kh100e <= 1.0 + 1e-6).all()


def test_take_or_pay_is_paid_every_quarter(small_result):
    a = small_result.allocations
    paid = a[(a.tenant == "startup") & (a.provider == "neo")].set_index("quarter").paid_usd
    floor = 1.5 * 1e3 * 2.5 * HOURS_PER_QUARTER
    assert len(paid) == len(small_result.quarters) and (paid >= floor * (1 - 1e-9)).all()


def test_rofr_decides_every_new_request(small_result):
    t = small_result.tenants.set_index(["quarter", "tenant"])
    decided = {(e["quarter"]) for e in small_result.events if e["type"].startswith("rofr_")}
    for q in small_result.quarters:
        if q < "2026Q1":
            assert q not in decided
    assert decided, "the ROFR holder saw no new request"
    assert all(t.loc[(q, "lab"), "demand_kh100e"] > 0 for q in decided)


def test_json_contract(small_result):
    data = small_result.to_dict()
    for key in ("quarters", "released_mw", "absorbed_mw", "events", "tenant_spend_usd"):
        assert key in data
    assert set(data["released_mw"]) == {"big", "rival", "neo"}
    assert len(data["released_mw"]["big"]) == len(data["quarters"]) == 12
    assert set(data["tenant_spend_usd"]["lab"]) == {"2025", "2026", "2027"}
    for e in data["events"]:
        assert {"type", "quarter", "parties", "mw"} <= set(e)
    assert small_result.to_dataset().released_mw.sizes == {"quarter": 12, "provider": 3}


def test_a_tenant_out_of_cash_cuts_demand(small_market):
    lab = small_market["market"]["tenants"][0]
    lab |= {"cash_usd": 5.0e7, "min_cash_usd": 1.0e7, "revenue_usd_per_year": {2025: 2.0e7},
            "other_costs_usd_per_year": {2025: 2.0e7}}
    r = simulate(parse_scenario(small_market))
    cash = r.series("tenants", "cash_usd")["lab"]
    assert cash.min() >= 1.0e7 - 1.0  # compute never takes it below its floor (revenue = other costs here)
    assert any(e["type"] == "demand_cut" and e["tenant"] == "lab" for e in r.events)
    assert r.series("tenants", "cut_kh100e")["lab"].iloc[-1] > 0


def test_expected_demand_uses_the_neighbours_of_each_tenant():
    rng = np.random.default_rng(0)
    paths = rng.lognormal(size=(40, 6, 2, 1, 2))
    everyone = expected_demand(paths, realised=0, t=2, neighbours=40)
    np.testing.assert_allclose(everyone[1:], paths[:, 3:].mean(axis=0))
    np.testing.assert_allclose(everyone[0], paths[0, 2])
    high = expected_demand(paths, realised=0, t=2, neighbours=40, quantile=0.9)
    assert (high[1:].sum(axis=(2, 3)) >= everyone[1:].sum(axis=(2, 3))).all()


def _fake_absorber(name, values, room):
    return SimpleNamespace(name=name, problem=SimpleNamespace(regions=["us", "eu"]),
                           value_of_lots_usd_per_mw=lambda t, lots: np.asarray(values, dtype=float),
                           room_to_absorb_mw=lambda t: np.asarray(room, dtype=float))


@settings(max_examples=30, deadline=None)
@given(mw=st.lists(st.floats(1, 500), min_size=1, max_size=4), data=st.data())
def test_released_mw_are_never_counted_twice(mw, data):
    lots = [SimpleNamespace(power_mw=m, region=data.draw(st.sampled_from(["us", "eu"])),
                            provider=data.draw(st.sampled_from(["a", "b", "c"]))) for m in mw]
    value = st.lists(st.floats(-1e6, 1e7), min_size=len(lots), max_size=len(lots))
    room = st.lists(st.floats(0, 800), min_size=2, max_size=2)
    absorbers = [_fake_absorber(n, data.draw(value), data.draw(room)) for n in ("a", "b")]
    taken = absorb_lots(lots, absorbers, 0)
    assert (taken >= 0).all()
    assert (taken.sum(axis=1) <= np.array(mw) + 1e-6).all()  # a lot goes once, at most whole
    for j, a in enumerate(absorbers):
        values = a.value_of_lots_usd_per_mw(0, lots)
        room_mw = a.room_to_absorb_mw(0)
        for i, lot in enumerate(lots):
            if lot.provider == a.name or values[i] <= 0:
                assert taken[i, j] == 0  # never its own lot, never a lot it does not value
        for r, region in enumerate(["us", "eu"]):
            got = sum(taken[i, j] for i, lot in enumerate(lots) if lot.region == region)
            assert got <= room_mw[r] + 1e-6


def test_absorbed_lot_joins_the_pipeline_at_its_stage(small_market):
    s = parse_scenario(small_market)
    agents = [ProviderAgent.create(s, p, f"market.providers[{i}]") for i, p in enumerate(s.market.providers)]
    n = len(s.quarters)
    for a in agents:
        a.replan(0, np.full((n, 1, 2), 5.0), 30)
    big, rival = agents[0], agents[1]
    state = big.state(0)
    state["released_share"] = np.array([0.0, 0.5, 0.0])  # half of big-land-1 goes
    state["released_completed"] = np.zeros((3, 5))
    (lot,) = big.lots_released(0, state)
    assert lot.power_mw == pytest.approx(150.0) and lot.project == "big-land-1"
    rival.pending_lots.append((lot, 100.0))
    assert rival.due(1, 4)
    rival.replan(1, np.full((n - 1, 1, 2), 5.0), 30)
    frame = rival.problem.pipeline.frame
    taken = frame.loc[[i for i in frame.index if i.startswith("big-land-1@rival")]]
    assert len(taken) == 1 and taken.power_mw.iloc[0] == pytest.approx(100.0)
    assert taken.ownership.iloc[0] == "owned"


def test_bad_market_input_is_one_line(pacer_cli, tmp_path, small_market):
    cases = [
        (["contracts", 0, "provider"], "azure", "market.contracts[0].provider: unknown provider"),
        (["contracts", 2, "price_usd_per_h100e_hour"], -1.0, "market.contracts[2].price_usd_per_h100e_hour"),
        (["contracts", 1, "window_quarters"], 0, "market.contracts[1].window_quarters"),
        (["tenants", 0, "demand_tenant"], "nobody", "market.tenants[0].demand_tenant"),
        (["providers", 1, "ask_usd_per_h100e_hour"], {2025: -2.0}, "market.providers[1].ask_usd_per_h100e_hour"),
    ]
    for path, value, message in cases:
        raw = parse_copy = yaml.safe_load(yaml.safe_dump(small_market))
        node = parse_copy["market"]
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        bad = tmp_path / "bad.yaml"
        bad.write_text(yaml.safe_dump(raw))
        run = pacer_cli("simulate", str(bad), "--json")
        assert run.code == 2 and message in run.err, (message, run.err)
        assert len(run.err.strip().splitlines()) == 1 and run.out == ""
    overlap = yaml.safe_load(yaml.safe_dump(small_market))
    overlap["market"]["contracts"].append({"type": "exclusivity", "tenant": "lab", "provider": "rival",
                                           "start": "2025Q3"})
    bad = tmp_path / "overlap.yaml"
    bad.write_text(yaml.safe_dump(overlap))
    run = pacer_cli("simulate", str(bad))
    assert run.code == 2 and "overlaps the exclusivity" in run.err


def test_simulate_needs_a_market(pacer_cli, tmp_path, small_market):
    del small_market["market"]
    path = tmp_path / "nomarket.yaml"
    path.write_text(yaml.safe_dump(small_market))
    run = pacer_cli("simulate", str(path))
    assert run.code == 2 and run.err.startswith("error: market:")


def test_cli_table_output(pacer_cli, tmp_path, small_market):
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(small_market))
    run = pacer_cli("simulate", str(path))
    assert run.code == 0, run.err
    assert "market simulation" in run.out and "compute spend" in run.out


def test_frames_have_one_row_per_agent_and_quarter(small_result):
    assert len(small_result.providers) == 12 * 3 and len(small_result.tenants) == 12 * 2
    assert not small_result.providers.duplicated(["quarter", "provider"]).any()
    assert isinstance(small_result.by_year("tenants", "spend_usd"), pd.DataFrame)


def test_executors_give_identical_results(small_result):
    from pacer.runner import ProcessExecutor

    pool = ProcessExecutor(workers=2)
    try:
        other = simulate(parse_scenario(SMALL), executor=pool)
    finally:
        pool.close()
    assert other.events == small_result.events
    pd.testing.assert_frame_equal(other.providers, small_result.providers)
    pd.testing.assert_frame_equal(other.tenants, small_result.tenants)


def test_unknown_executor_is_one_line(pacer_cli, tmp_path, small_market):
    from pacer.errors import PacerError
    from pacer.runner import get_executor

    with pytest.raises(PacerError, match="executor: must be one of"):
        get_executor("cluster")


def test_a_project_joins_the_pipeline_when_secured(small_market):
    rival = small_market["market"]["providers"][1]
    rival["projects"].append({"id": "rival-campus", "region": "us", "power_mw": 200, "ownership": "owned",
                              "stage": "land", "joins": "2026Q1"})
    r = simulate(parse_scenario(small_market), executor="local")
    joined = r.series("providers", "joined_mw")["rival"]
    assert joined.loc["2026Q1"] == pytest.approx(200.0) and joined.drop("2026Q1").sum() == 0
    assert r.checks()["pipeline_balance_mw"] < 1e-6


def test_the_planner_refuses_projects_that_join_later():
    from pacer.errors import PacerError
    from pacer.plan import plan
    from tests.plan.conftest import mini

    raw = mini()
    raw["provider"]["projects"][2]["joins"] = "2026Q1"
    with pytest.raises(PacerError, match=r"provider.projects\[2\].joins: only the market simulation"):
        plan(parse_scenario(raw), evaluate_out_of_sample=False)


@settings(max_examples=3, deadline=None)
@given(growth=st.floats(0.2, 3.0), bid=st.floats(1.5, 4.0), big_ask=st.floats(1.5, 4.0),
       window=st.integers(1, 3), share=st.floats(0.3, 1.0), credits=st.floats(0.0, 1.0),
       clause=st.sampled_from(["2025Q3", "2026Q2"]))
def test_conservation_holds_on_random_markets(growth, bid, big_ask, window, share, credits, clause):
    """Money, capacity and released MW are conserved, with equity-for-compute credits and a trigger that
    ends the ROFR at a random quarter (two years, to keep it quick)."""
    raw = yaml.safe_load(yaml.safe_dump(SMALL))
    raw["horizon"] = {"start": "2025Q1", "end": "2026Q4"}
    m = raw["market"]
    m["triggers"] = [{"name": "clause", "quarter": clause}]
    m["contracts"][1]["ends_on"] = "clause"
    m["contracts"].append({"type": "equity_for_compute", "tenant": "lab", "provider": "big", "start": "2025Q1",
                           "amount_usd": 2.0e7, "compute_share": credits})
    m["tenants"][1]["demand"]["annual_growth"] = growth
    m["tenants"][0]["bid_usd_per_h100e_hour"] = bid
    m["providers"][0]["ask_usd_per_h100e_hour"] = big_ask
    m["providers"][0]["max_tenant_share"] = share
    m["providers"][1]["absorbs"] = True
    m["contracts"][1]["window_quarters"] = window
    r = simulate(parse_scenario(raw), executor="local")
    checks = r.checks()
    assert checks["money_paid_minus_received_usd"] < 1e-3
    assert checks["pipeline_balance_mw"] < 1e-6
    assert checks["sold_above_capacity_kh100e"] < 1e-6
    released = r.providers.released_mw.sum()
    absorbed = r.providers.absorbed_mw.sum()
    assert absorbed <= released + 1e-6


def test_take_or_pay_volume_is_used_even_when_money_is_short(small_market):
    startup = small_market["market"]["tenants"][1]
    startup |= {"cash_usd": 1.0, "revenue_usd_per_year": {2025: 1.0e6}, "other_costs_usd_per_year": {2025: 1.0e6}}
    r = simulate(parse_scenario(small_market), executor="local")
    t = r.tenants[r.tenants.tenant == "startup"]
    assert (t.request_kh100e >= t.demand_kh100e.clip(upper=1.5) - 1e-9).all()  # the paid-for volume is asked
    a = r.allocations
    neo = a[(a.tenant == "startup") & (a.provider == "neo")].set_index("quarter").kh100e
    assert (neo >= t.set_index("quarter").demand_kh100e.clip(upper=1.5) - 1e-6).all()


def test_providers_replan_on_small_trees():
    """A provider re-plans on a small tree of its expectations, branching at the next re-plans, and carries
    out the decisions the tree's scenarios share until then."""
    from pacer.market.agents import expected_futures, solve_provider_plan

    s = parse_scenario(SMALL)
    agent = ProviderAgent.create(s, s.market.providers[0], "market.providers[0]")
    n_q = len(s.quarters)
    paths = np.exp(np.cumsum(np.random.default_rng(1).normal(0.1, 0.2, size=(80, n_q, 1, 1, 2)), axis=1))
    futures = expected_futures(paths, realised=0, t=0, neighbours=40)[:, :, 0]
    problem = agent.prepare(0, futures.mean(axis=0), futures, leaves=3, every=4)
    quarter = problem.nodes.quarter.to_numpy()
    assert len(problem.nodes) > n_q and (np.bincount(quarter)[:4] == 1).all() and np.bincount(quarter)[-1] == 3
    plan = solve_provider_plan((problem, 60.0))
    agent.adopt(plan)
    assert plan.decisions.keep.shape[-1] == n_q and plan.power_value_usd_per_mw.shape[-1] == n_q
    assert len(agent.problem.nodes) == n_q  # what is carried out is a path, ready to roll forward
    chain = agent.prepare(4, futures.mean(axis=0)[4:])  # one path, as with market.replan_leaves: 1
    assert len(chain.nodes) == n_q - 4
