"""Capex as reported by providers: servers around the accelerators, and leases counted when they commence."""

from __future__ import annotations

import numpy as np
import pytest

from pacer.market import simulate
from pacer.plan.problem import chain_nodes, provider_problem
from pacer.scenario import parse_scenario
from tests.market.test_contract_terms import short_market


def test_server_capex_scales_the_price_of_every_generation():
    data = short_market()
    s = parse_scenario(data)
    spec = s.market.providers[0]
    n_q = len(s.quarters)
    base = provider_problem(s, spec, chain_nodes(n_q), np.zeros((n_q, 1, 2)))
    spec.economics.server_capex_fraction = 0.6
    more = provider_problem(s, spec, chain_nodes(n_q), np.zeros((n_q, 1, 2)))
    np.testing.assert_allclose(more.generations.price_usd, 1.6 * base.generations.price_usd)


def test_a_lease_is_capex_when_it_commences():
    data = short_market()
    big = data["market"]["providers"][0]
    big["projects"].append({"id": "big-fit-leased", "region": "us", "power_mw": 100, "ownership": "leased",
                            "stage": "fit-out", "lease": {"rent_usd_per_kw_month": 150, "term_years": 10}})
    big["projects"][2]["lease"]["term_years"] = 10  # every lease of big on the same term
    data["market"]["tenants"][1]["demand"] |= {"start_kh100e": 40.0, "annual_volatility": 0.0}
    data["market"]["contracts"].append({"type": "exclusivity", "tenant": "startup", "provider": "big",
                                        "start": "2025Q1"})
    data["market"]["contracts"] = [c for c in data["market"]["contracts"] if c["type"] != "take_or_pay"]
    r = simulate(parse_scenario(data), executor="local")
    p = r.providers[r.providers.provider == "big"].reset_index(drop=True)
    new_leased_mw = p.leased_live_mw.diff().fillna(p.leased_live_mw.iloc[0]).clip(lower=0)  # none live at start
    assert new_leased_mw.sum() > 0, "the leased hall must go live in this market"
    rate = 1.08 ** 0.25 - 1  # the provider's default discount rate, per quarter
    annuity = (1 - (1 + rate) ** -40) / rate
    rent_per_mw_quarter = 150 * 1000 * 3
    np.testing.assert_allclose(p.lease_capex_usd, new_leased_mw * rent_per_mw_quarter * annuity, rtol=1e-6)
    assert p.capex_with_leases_usd.to_numpy() == pytest.approx((p.capex_usd + p.lease_capex_usd).to_numpy())


def test_a_committed_order_arrives_and_is_capex_in_its_quarter():
    """A fleet entry bought inside the horizon arrives in its quarter whatever the provider's plan, and its
    GPUs (with servers) are capex then; the provider's fleet holds it from then on. (The rival here buys
    nothing of its own: its one small hall is full.)"""
    data = short_market()
    data["market"]["replan_every_quarters"] = 3  # the order is due at the second plan: rolled forward to it
    rival = data["market"]["providers"][1]
    rival["economics"] = rival["economics"] | {"server_capex_fraction": 0.5}
    rival["projects"][0]["power_mw"] = 22
    rival["fleet"].append({"accelerator": "b200", "region": "us", "gpus": 7000, "bought": "2025Q4"})
    r = simulate(parse_scenario(data), executor="local")
    p = r.providers.set_index(["provider", "quarter"]).loc["rival"]
    price = 40_000 * 1.5  # b200 in the catalog, and half again for servers
    assert p.gpu_capex_usd["2025Q4"] == pytest.approx(7000 * price, rel=1e-6)
    assert p.gpu_capex_usd.drop("2025Q4").sum() == pytest.approx(0, abs=1e-3)
    assert p.gpus["2025Q4"] - p.gpus["2025Q3"] == pytest.approx(7000, rel=1e-6)
    assert (p.gpus[:"2025Q3"] == p.gpus.iloc[0]).all() and (p.gpus["2025Q4":] == p.gpus["2025Q4"]).all()
