"""Capex as reported by providers: servers around the accelerators, and leases counted when they commence."""

from __future__ import annotations

import numpy as np
import pytest

from pacer.errors import PacerError
from pacer.market import simulate
from pacer.market.cloud import building_usd_per_mw
from pacer.market.simulate import MarketResult
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


CLOUD = {"it_mw": {"us": 400.0}, "annual_growth": 0.21, "growth_from": {"2026Q1": 0.0},
         "server_usd_per_it_mw": 2.0e7, "server_life_years": 5, "building_usd_per_mw": 1.0e7}


@pytest.fixture(scope="module")
def leased_market() -> tuple[dict, MarketResult]:
    """The big provider's leased hall goes live; big also carries a conventional cloud."""
    data = short_market()
    big = data["market"]["providers"][0]
    big["projects"].append({"id": "big-fit-leased", "region": "us", "power_mw": 100, "ownership": "leased",
                            "stage": "fit-out", "lease": {"rent_usd_per_kw_month": 150, "term_years": 10}})
    big["projects"][2]["lease"]["term_years"] = 10  # every lease of big on the same term
    data["market"]["tenants"][1]["demand"] |= {"start_kh100e": 40.0, "annual_volatility": 0.0}
    data["market"]["contracts"].append({"type": "exclusivity", "tenant": "startup", "provider": "big",
                                        "start": "2025Q1"})
    data["market"]["contracts"] = [c for c in data["market"]["contracts"] if c["type"] != "take_or_pay"]
    big["conventional_cloud"] = CLOUD
    return data, simulate(parse_scenario(data), executor="local")


def test_a_lease_is_capex_when_it_commences(leased_market):
    _, r = leased_market
    p = r.providers[r.providers.provider == "big"].reset_index(drop=True)
    new_leased_mw = p.leased_live_mw.diff().fillna(p.leased_live_mw.iloc[0]).clip(lower=0)  # none live at start
    assert new_leased_mw.sum() > 0, "the leased hall must go live in this market"
    rate = 1.08 ** 0.25 - 1  # the provider's default discount rate, per quarter
    annuity = (1 - (1 + rate) ** -40) / rate
    rent_per_mw_quarter = 150 * 1000 * 3
    np.testing.assert_allclose(p.lease_capex_usd, new_leased_mw * rent_per_mw_quarter * annuity, rtol=1e-6)
    assert p.capex_with_leases_usd.to_numpy() == pytest.approx((p.capex_usd + p.lease_capex_usd).to_numpy())


def test_the_conventional_cloud_adds_its_servers_and_buildings_to_the_company_capex(leased_market):
    """Its load grows 21% a year (10% a half), then not from 2026; servers are bought for what it adds and
    for a fifth of the fleet a year, buildings (at the region's PUE) for what it adds. Only big has one."""
    data, r = leased_market
    p = r.providers.set_index(["provider", "quarter"]).loc["big"]
    step = 1.21 ** 0.25
    it = 400.0 * step ** np.minimum(np.arange(len(p)), 3)  # grows from 2025Q1 to 2025Q4, flat from 2026Q1
    np.testing.assert_allclose(p.cloud_it_mw, it, rtol=1e-9)
    before = np.r_[400.0 / step, it[:-1]]
    added = np.clip(it - before, 0, None)
    assert added[4:] == pytest.approx(0.0) and added[0] == pytest.approx(400.0 * (1 - 1 / step))
    pue = parse_scenario(data).pue_of("us")
    expected = (added + before / 20) * 2.0e7 + added * pue * 1.0e7
    np.testing.assert_allclose(p.cloud_capex_usd, expected, rtol=1e-9)
    np.testing.assert_allclose(p.company_capex_usd, p.capex_with_leases_usd + p.cloud_capex_usd, rtol=1e-12)
    others = r.providers[r.providers.provider != "big"]
    assert (others.cloud_capex_usd == 0).all() and (others.cloud_it_mw == 0).all()
    assert (others.company_capex_usd == others.capex_with_leases_usd).all()


def test_a_cloud_without_a_building_cost_builds_at_the_catalog_stages_cost():
    data = short_market()
    data["market"]["providers"][0]["conventional_cloud"] = CLOUD | {"building_usd_per_mw": None}
    s = parse_scenario(data)
    assert building_usd_per_mw(s.market.providers[0].conventional_cloud) == pytest.approx(
        0.4e6 + 0.1e6 + 2.5e6 + 3.5e6 + 4.5e6)  # land, permits, shell, power, fit-out (catalog/facilities.yaml)


@pytest.mark.parametrize(("change", "field", "value"), [
    ({"it_mw": {"asia": 100.0}}, "market.providers[0].conventional_cloud.it_mw", "asia"),
    ({"it_mw": {"us": -5.0}}, "market.providers[0].conventional_cloud.it_mw", "-5"),
    ({"growth_from": {"2031Q1": 0.1}}, "market.providers[0].conventional_cloud.growth_from", "2031Q1"),
    ({"server_life_years": 0}, "market.providers[0].conventional_cloud.server_life_years", "0"),
    ({"annual_growth": -1.5}, "market.providers[0].conventional_cloud.annual_growth", "-1.5"),
])
def test_a_bad_conventional_cloud_is_one_line_naming_the_field(change, field, value):
    data = short_market()
    data["market"]["providers"][0]["conventional_cloud"] = CLOUD | change
    with pytest.raises(PacerError) as err:
        parse_scenario(data)
    message = str(err.value)
    assert field in message and value in message and "\n" not in message


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
