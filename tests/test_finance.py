import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pacer.finance import cvar, discount_factors, npv, straight_line_book_value


def test_npv_and_discounting():
    assert discount_factors([3], 0.1)[0] == pytest.approx(1 / 1.1)
    assert npv([0, 0, 0, 110.0], 0.1) == pytest.approx(100.0)
    assert npv([0.0, 0.0], 0.0, terminal_usd=5.0) == 5.0


def test_cvar_is_mean_of_worst_tail():
    values = np.arange(10.0)
    assert cvar(values, 0.8) == pytest.approx(0.5)  # worst 20%: 0 and 1
    assert cvar([1.0, 2.0], 0.5, weights=[0.25, 0.75]) == pytest.approx((0.25 * 1 + 0.25 * 2) / 0.5)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50), st.floats(0.01, 0.99))
def test_cvar_at_most_mean(values, alpha):
    assert cvar(values, alpha) <= np.mean(values) + 1e-6 * (1 + abs(np.mean(values)))


def test_book_value():
    assert straight_line_book_value(100.0, 10, 20) == pytest.approx(50.0)
    assert straight_line_book_value(100.0, 30, 20) == 0.0
