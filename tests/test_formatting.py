"""Numbers for people: one formatting layer (pacer.formatting) for tables, pages, reports and charts."""

from __future__ import annotations

import math
import re

import plotly.graph_objects as go
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pacer.formatting import cell, colour, for_people, label, number, quantity, unit_of

UNITS = ["", "USD", "MW", "GW", "kW", "share", "s", "ms", "kH100e", "H100e", "GPUs", "kGPU", "USD/Mtok", "USD/h",
         "GB"]


@pytest.mark.parametrize(("value", "unit", "text"), [
    (-2.27e11, "USD", "-$227.0B"), (6.1e9, "USD", "$6.1B"), (4.2e6, "USD", "$4M"), (5.96e-8, "USD", "$0"),
    (12.345, "USD", "$12"),
    (2.345, "USD", "$2.35"), (1.68e6, "", "1,680,000"), (415077, "", "415,077"), (0.294, "share", "29%"),
    (0.0123, "share", "1.2%"), (0.059, "s", "59 ms"), (2.5, "s", "2.5 s"), (75, "ms", "75 ms"),
    (-1.1e-13, "MW", "0 MW"), (1234.5, "MW", "1.23 GW"), (2.0, "GW", "2.00 GW"), (50294.45, "kH100e", "50.29M H100e"),
    (0.000123, "", "0.000123"), (None, "USD", "-"), (float("nan"), "MW", "-"), (float("inf"), "", "-"),
    (True, "", "yes"), ("2025Q1", "quarter", "2025Q1"),
    (0.99996, "s", "1.0 s"), (999.96, "ms", "1.0 s"), (3599.99, "s", "1.0 h"), (59.96, "s", "60 s"),
    (-0.4, "GPUs", "0"), (-0.4, "H100e", "0 H100e"), (9.999, "USD", "$10"),
    (999.96, "MW", "1.00 GW"), (999.6e6, "USD", "$1.0B"), (0.9996, "MW", "1 MW"), (-0.004, "share", "-0.4%"),
])
def test_quantities_read_as_people_write_them(value, unit, text):
    assert (quantity(value, unit) if unit else number(value) if not isinstance(value, str) else value) == text


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e18, max_value=1e18), st.sampled_from(UNITS))
def test_never_scientific_notation(value, unit):
    text = quantity(value, unit)
    assert re.search(r"\de[+-]?\d", text) is None, text
    if abs(value) < 1e-9:
        assert text.lstrip("$").startswith("0"), text  # residues read 0


@pytest.mark.parametrize(("name", "unit", "text"), [
    ("mean_npv_usd", "USD", "mean NPV"), ("power_mw", "MW", "power"), ("inference_share", "share", "inference share"),
    ("ttft_s", "s", "TTFT"), ("tpot_ms", "ms", "TPOT"), ("facility_mw_2027", "MW", "facility 2027"),
    ("half_live_by", "", "half live by"), ("gap", "share", "gap"),
    ("usd_per_million_output_tokens", "USD/Mtok", "USD per million output tokens"),
    ("energy_mwh", "MWh", "energy"), ("h100e_per_mw", "", "H100e per MW"), ("latency_ms_p99", "ms", "latency ms p99"),
    ("revenue_usd_per_h100e_hour", "USD/h", "revenue USD per H100e hour"),
])
def test_names_carry_their_unit(name, unit, text):
    assert unit_of(name) == unit and label(name) == text


def test_cells_take_the_unit_from_the_column_name():
    assert cell("capex_usd", 2.5e9) == "$2.5B" and cell("released_mw", 1800.0) == "1.80 GW"
    assert cell("projects", 40) == "40" and cell("status", "optimal") == "optimal"
    assert cell("year", 2025.0) == "2025"  # a year column made float by a missing value


def test_one_party_one_colour():
    providers = ["hyperscaler", "rival-cloud", "rival-platform"]
    assert colour("rival-cloud", providers) == colour("rival-cloud", providers)
    assert len({colour(p, providers) for p in providers}) == 3
    assert colour("stochastic") == colour("stochastic", ["x"])  # policies: fixed colours


def test_figures_lose_solver_residues_and_si_hovers():
    fig = go.Figure(go.Scatter(x=["2025Q1", "2025Q2"], y=[-1.1e-13, 50294.45]))
    for_people(fig)
    assert list(fig.data[0].y) == [0.0, 50294.45]
    assert fig.layout.yaxis.hoverformat == ",.4~r" and fig.layout.xaxis.tickangle == 0
    assert not math.isnan(fig.data[0].y[1])


@pytest.mark.parametrize(("value", "text"), [(5.4622e22, "5.46 × 10²²"), (1e12, "1.00 × 10¹²"),
                                             (9.996e15, "1.00 × 10¹⁶"), (123456, "123,456"),
                                             (-3.2e-7, "-3.20 × 10⁻⁷"), (0.0, "0")])
def test_very_large_counts_read_as_powers_of_ten(value, text):
    from pacer.formatting import power_of_ten

    assert power_of_ten(value) == text


def test_a_training_summary_has_no_long_digit_runs():
    from pacer.sizing import size_training

    text = size_training("llama-3.1-405b", 15.6e12, "h100-sxm", 16384).summary()
    assert "× 10" in text and "%" in text and "$" in text
    assert not re.search(r"\d{1,3}(,\d{3}){4,}", text)  # nothing like 54,622,450,943,999,994,757,120
