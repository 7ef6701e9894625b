"""Shared money arithmetic: discounting, NPV, CVaR and straight-line depreciation (USD, quarters)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def discount_factors(quarter_index: ArrayLike, annual_rate: float) -> FloatArray:
    """Factor of a cash flow at the end of each quarter (index 0 = the first quarter)."""
    t = np.asarray(quarter_index, dtype=float) + 1.0
    return (1.0 + annual_rate) ** (-t / 4.0)


def npv(cash_flows_usd: ArrayLike, annual_rate: float, terminal_usd: ArrayLike = 0.0) -> FloatArray:
    """Net present value of quarterly cash flows (last axis) plus a terminal value at the last quarter."""
    cf = np.asarray(cash_flows_usd, dtype=float)
    d = discount_factors(np.arange(cf.shape[-1]), annual_rate)
    return (cf * d).sum(axis=-1) + np.asarray(terminal_usd, dtype=float) * d[-1]


def cvar(values: ArrayLike, alpha: float, weights: ArrayLike | None = None) -> float:
    """Conditional value at risk: the (weighted) mean of the worst ``1 - alpha`` share of ``values``."""
    v = np.asarray(values, dtype=float)
    w = np.full(v.shape, 1.0 / v.size) if weights is None else np.asarray(weights, dtype=float) / np.sum(weights)
    order = np.argsort(v)
    v, w = v[order], w[order]
    tail = 1.0 - alpha
    cum = np.cumsum(w)
    take = np.clip(tail - (cum - w), 0.0, w)  # the part of each value's weight inside the tail
    return float((v * take).sum() / take.sum())


def straight_line_book_value(price_usd: ArrayLike, age_quarters: ArrayLike, life_quarters: float) -> FloatArray:
    """Book value after ``age_quarters`` of straight-line depreciation over ``life_quarters``."""
    age = np.asarray(age_quarters, dtype=float)
    return np.asarray(price_usd, dtype=float) * np.clip(1.0 - age / life_quarters, 0.0, 1.0)
