"""Contract terms: triggers that end or start contracts (an "AGI clause"), and equity-for-compute."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pacer.errors import PacerError
from pacer.market import simulate
from pacer.scenario import parse_scenario
from tests.market.conftest import SMALL


def short_market() -> dict[str, Any]:
    data = copy.deepcopy(SMALL)
    data["horizon"] = {"start": "2025Q1", "end": "2026Q2"}
    data["market"] |= {"replan_every_quarters": 6, "replan_leaves": 1}
    return data


@pytest.fixture(scope="module")
def clause_and_equity() -> Any:
    data = short_market()
    m = data["market"]
    m["triggers"] = [{"name": "agi", "quarter": "2025Q3", "source": "synthetic"}]
    m["contracts"] = [
        {"type": "exclusivity", "tenant": "lab", "provider": "big", "start": "2025Q1", "ends_on": "agi"},
        {"type": "rofr", "tenant": "lab", "holder": "big", "window_quarters": 1, "start": "2025Q1", "starts_on": "agi"},
        {"type": "equity_for_compute", "tenant": "lab", "provider": "big", "start": "2025Q1", "amount_usd": 1.0e8,
         "compute_share": 0.6},
    ]
    m["tenants"][0] |= {"cash_usd": 2.0e7, "revenue_usd_per_year": {2025: 1.0e8},
                        "other_costs_usd_per_year": {2025: 5e7}}
    return simulate(parse_scenario(data), executor="local")


def test_a_trigger_ends_one_contract_and_starts_another(clause_and_equity):
    r = clause_and_equity
    c = r.contracts
    exclusive = sorted(c[(c.kind == "exclusivity") & (c.tenant == "lab")].quarter)
    rofr = sorted(c[(c.kind == "rofr") & (c.tenant == "lab")].quarter)
    assert exclusive == ["2025Q1", "2025Q2"]
    assert rofr == ["2025Q3", "2025Q4", "2026Q1", "2026Q2"]
    fired = [e for e in r.events if e["type"] == "trigger_fired"]
    assert [(e["trigger"], e["quarter"]) for e in fired] == [("agi", "2025Q3")]
    assert r.to_dict()["triggers_fired"] == {"agi": "2025Q3"}
    # While exclusive, the lab buys only from big; after, ROFR decisions appear.
    a = r.allocations
    early = a[(a.tenant == "lab") & a.quarter.isin(exclusive) & (a.kh100e > 1e-6)]
    assert set(early.provider) <= {"big"}
    assert any(e["type"].startswith("rofr") and e["quarter"] >= "2025Q3" for e in r.events)


def test_equity_for_compute_returns_as_compute_spend(clause_and_equity):
    r = clause_and_equity
    t = r.tenants[r.tenants.tenant == "lab"].set_index("quarter")
    p = r.providers[r.providers.provider == "big"].set_index("quarter")
    assert p.equity_invested_usd["2025Q1"] == pytest.approx(1.0e8)
    assert p.equity_invested_usd.drop("2025Q1").abs().max() == 0
    assert t.equity_cash_usd["2025Q1"] == pytest.approx(4.0e7)  # the cash part
    paid_to_big = r.allocations[(r.allocations.tenant == "lab") & (r.allocations.provider == "big")]
    paid_to_big = paid_to_big.groupby("quarter").paid_usd.sum().reindex(t.index).fillna(0.0)
    # Credits pay the provider first, never more than was paid to it or than was granted.
    assert (t.credits_used_usd <= paid_to_big + 1e-6).all()
    assert t.credits_used_usd.sum() == pytest.approx(min(6.0e7, paid_to_big.sum()))
    assert t.credits_usd.iloc[-1] == pytest.approx(6.0e7 - t.credits_used_usd.sum())
    checks = r.checks()
    assert checks["money_paid_minus_received_usd"] < 1.0
    assert checks["allocations_minus_paid_usd"] < 1.0


def test_a_metric_trigger_fires_the_quarter_after_the_threshold():
    data = short_market()
    m = data["market"]
    m["triggers"] = [  # the same metric and threshold, per quarter (never reached here) and summed
        {"name": "big-quarter", "tenant": "lab", "metric": "spend_usd", "threshold": 1.5e7},
        {"name": "big-spender", "tenant": "lab", "metric": "spend_usd", "threshold": 1.5e7, "cumulative": True}]
    m["contracts"] = [{"type": "exclusivity", "tenant": "lab", "provider": "big", "start": "2025Q1",
                       "ends_on": "big-spender"}]
    r = simulate(parse_scenario(data), executor="local")
    spend = r.series("tenants", "spend_usd")["lab"].cumsum()
    assert r.series("tenants", "spend_usd")["lab"].max() < 1.5e7  # so big-quarter never fires
    crossed = [q for q, v in spend.items() if v >= 1.5e7]
    assert crossed, "the test market must cross the threshold"
    expected = r.quarters[r.quarters.index(crossed[0]) + 1]
    assert r.to_dict()["triggers_fired"] == {"big-spender": expected}
    c = r.contracts
    assert max(c[c.kind == "exclusivity"].quarter) < expected


@pytest.mark.parametrize(("change", "message"), [
    ({"contracts": [{"type": "exclusivity", "tenant": "lab", "provider": "big", "start": "2025Q1",
                     "ends_on": "agl"}]}, "market.contracts[0].ends_on: unknown trigger; did you mean agi?"),
    ({"triggers": [{"name": "agi", "tenant": "lab", "metric": "spend_usd"}]},
     "market.triggers[0]: a metric trigger needs tenant, metric and threshold together"),
    ({"triggers": [{"name": "agi", "tenant": "nobody", "metric": "spend_usd", "threshold": 1}]},
     "market.triggers[0].tenant: unknown tenant"),
    ({"triggers": [{"name": "agi", "quarter": "2031Q1"}]}, "market.triggers[0].quarter: must be inside the horizon"),
    ({"triggers": [{"name": "agi", "tenant": "lab", "metric": "happiness", "threshold": 1}]},
     "market.triggers[0].metric"),
    ({"contracts": [{"type": "equity_for_compute", "tenant": "lab", "provider": "big", "start": "2025Q1",
                     "amount_usd": 1e9, "compute_share": 1.5}]}, "market.contracts[0].compute_share"),
    ({"contracts": [{"type": "equity_for_compute", "tenant": "lab", "provider": "azure", "start": "2025Q1",
                     "amount_usd": 1e9}]}, "market.contracts[0].provider: unknown provider"),
])
def test_bad_contract_terms_are_one_line(change, message):
    data = short_market()
    data["market"]["triggers"] = [{"name": "agi", "quarter": "2025Q3"}]
    data["market"] |= change
    with pytest.raises(PacerError) as err:
        parse_scenario(data)
    assert message in str(err.value) and "\n" not in str(err.value)
