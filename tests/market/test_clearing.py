"""Contract rules on small cases, conservation of capacity and money, and bad input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacer.errors import PacerError
from pacer.market import ContractBook, clear_quarter

PROVIDERS = ["hyper", "rival", "oracle"]


def book(*contracts):
    return ContractBook.model_validate({"providers": PROVIDERS, "tenants": ["lab", "other"],
                                        "contracts": list(contracts)})


EXCLUSIVE = {"type": "exclusivity", "tenant": "lab", "provider": "hyper", "start": "2023Q1", "end": "2024Q4",
             "exceptions": [{"provider": "oracle", "cap_kh100e": 50}]}
ROFR = {"type": "rofr", "tenant": "lab", "holder": "hyper", "window_quarters": 1, "start": "2025Q1"}
TOP = {"type": "take_or_pay", "tenant": "lab", "provider": "oracle", "volume_kh100e": 30,
       "price_usd_per_h100e_hour": 2.2, "start": "2024Q1"}


def clear(quarter, contracts, request=200.0, hyper_cap=100.0, hyper_ask=2.0, bid=2.5):
    return clear_quarter(quarter, book(*contracts), {"lab": request, "other": 40.0}, {"lab": bid, "other": 2.4},
                         {"hyper": hyper_cap, "rival": 300.0, "oracle": 100.0},
                         {"hyper": hyper_ask, "rival": 2.1, "oracle": 2.3})


@settings(max_examples=25, deadline=None)
@given(request=st.floats(1, 500), hyper_cap=st.floats(0, 400), cap=st.floats(0, 80))
def test_exclusivity_never_exceeds_exceptions(request, hyper_cap, cap):
    contract = EXCLUSIVE | {"exceptions": [{"provider": "oracle", "cap_kh100e": cap}]}
    c = clear("2024Q2", [contract], request=request, hyper_cap=hyper_cap)
    alloc = c.allocation_kh100e.loc["lab"]
    assert alloc["rival"] <= 1e-6
    assert alloc["oracle"] <= cap + 1e-6
    if alloc["oracle"] > 1e-6:
        assert any(e["type"] == "exception_used" for e in c.events)


@settings(max_examples=25, deadline=None)
@given(request=st.floats(1, 500), hyper_cap=st.floats(1, 400))
def test_rofr_holder_that_matches_gets_the_request(request, hyper_cap):
    c = clear("2025Q2", [ROFR], request=request, hyper_cap=hyper_cap, hyper_ask=2.0, bid=2.5)
    assert c.allocation_kh100e.loc["lab", "hyper"] == pytest.approx(min(request, hyper_cap), rel=1e-6)
    assert c.events[0]["type"] == "rofr_exercised"


def test_declined_rofr_goes_to_another_provider():
    c = clear("2025Q2", [ROFR], hyper_ask=3.0, bid=2.5)  # the holder will not match the price
    assert c.allocation_kh100e.loc["lab", "hyper"] == 0
    assert c.allocation_kh100e.loc["lab", ["rival", "oracle"]].sum() > 0
    assert c.events[0]["type"] == "rofr_declined"


def test_take_or_pay_pays_for_unused_volume():
    c = clear("2024Q2", [TOP], request=0.0)  # the lab needs nothing this quarter
    assert c.allocation_kh100e.loc["lab"].sum() == 0
    assert c.payments_usd.loc["lab", "oracle"] == pytest.approx(30 * 1e3 * 2.2 * 365.25 * 24 / 4)


@settings(max_examples=25, deadline=None)
@given(request=st.floats(0, 500), hyper_cap=st.floats(0, 400), quarter=st.sampled_from(["2024Q2", "2025Q3"]))
def test_conservation_of_capacity_and_money(request, hyper_cap, quarter):
    c = clear(quarter, [EXCLUSIVE, ROFR, TOP], request=request, hyper_cap=hyper_cap)
    alloc = c.allocation_kh100e
    assert (alloc.sum(axis=0) <= [hyper_cap + 1e-6, 300 + 1e-6, 100 + 1e-6]).all()  # capacity out <= in
    assert alloc.loc["lab"].sum() <= request + 1e-6
    assert c.paid_by_tenant_usd.sum() == pytest.approx(c.received_by_provider_usd.sum())


@pytest.mark.parametrize(
    ("contracts", "message"),
    [
        ([EXCLUSIVE | {"provider": "azure"}], "contracts[0].provider: unknown provider"),
        ([EXCLUSIVE | {"tenant": "openai"}], "contracts[0].tenant: unknown tenant"),
        ([EXCLUSIVE, EXCLUSIVE | {"provider": "rival", "start": "2024Q1"}], "overlaps the exclusivity"),
        ([TOP | {"price_usd_per_h100e_hour": -1}], "greater than or equal to 0"),
        ([ROFR | {"window_quarters": 0}], "greater than or equal to 1"),
    ],
)
def test_bad_contracts(contracts, message):
    with pytest.raises((PacerError, ValueError)) as info:
        book(*contracts)
    assert message in str(info.value)
