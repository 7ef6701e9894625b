"""Demand drivers: growth of training compute and of tokens served, algorithmic efficiency, shocks.

Drivers are sampled as correlated random walks of their log level, vectorised over paths and
quarters, with scheduled events (a jump of the level, or a plateau of growth from a quarter on) that
each path meets with the event's probability.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pacer.errors import InputError

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class DriverEvent:
    """A scheduled shock: at quarter index ``quarter``, with probability ``probability`` per path."""

    driver: int
    quarter: int
    probability: float
    kind: str  # "jump" | "plateau"
    size: float = 0.0
    growth_after: float = 0.0


def sample_growth_paths(
    n_paths: int,
    n_quarters: int,
    annual_growth: Sequence[float] | FloatArray,
    annual_volatility: Sequence[float] | FloatArray,
    *,
    correlation: float = 0.5,
    shock_probability_per_year: Sequence[float] | FloatArray | None = None,
    shock_size: Sequence[float] | FloatArray | None = None,
    events: Sequence[DriverEvent] = (),
    seed: int = 0,
) -> FloatArray:
    """Sample multiplicative growth paths of several drivers, vectorised over paths and quarters.

    ``annual_growth`` is one value per driver, or a schedule of shape (n_quarters - 1, n_drivers) giving
    the growth that applies to each quarter-to-quarter step.
    Each driver's log level follows a random walk with drift ``log(1 + g)/4`` per quarter and
    volatility ``sigma/2`` per quarter (``sigma`` annual), drivers correlated by ``correlation``; a
    shock arrives in any quarter with probability ``p/4`` and multiplies the driver's level by
    ``1 + shock_size`` from then on. Each scheduled ``events`` entry hits a path with its probability:
    a ``jump`` multiplies the level by ``1 + size`` from its quarter on; a ``plateau`` replaces the
    drift by ``log(1 + growth_after)/4`` from its quarter on.

    Returns
    -------
    ndarray, shape (n_paths, n_quarters, n_drivers)
        Level of each driver relative to quarter 0 (the first quarter is 1).
    """
    growth = np.asarray(annual_growth, dtype=float)
    growth = growth if growth.ndim == 2 else np.atleast_1d(growth)
    vol = np.atleast_1d(np.asarray(annual_volatility, dtype=float))
    if n_paths < 1:
        raise InputError("n_paths", n_paths, "must be >= 1")
    if n_quarters < 1:
        raise InputError("n_quarters", n_quarters, "must be >= 1")
    if np.any(growth <= -1):
        raise InputError("annual_growth", growth.tolist(), "must be > -1 (a fall of less than 100%)")
    if np.any(vol < 0) or not np.all(np.isfinite(vol)):
        raise InputError("annual_volatility", vol.tolist(), "must be >= 0")
    if not -1 < correlation < 1 and correlation != 0:
        raise InputError("correlation", correlation, "must be in (-1, 1)")
    n_drivers = max(growth.shape[-1], len(vol))
    growth = np.broadcast_to(growth, (max(n_quarters - 1, 0), n_drivers))
    vol = np.broadcast_to(vol, n_drivers)
    rng = np.random.default_rng(seed)

    if n_drivers > 1 and not -1.0 / (n_drivers - 1) < correlation <= 1.0:
        raise InputError("demand.drivers.correlation", correlation,
                         f"with {n_drivers} drivers must be above {-1.0 / (n_drivers - 1):.3g} (else it is no "
                         "valid correlation matrix)")
    cov = np.full((n_drivers, n_drivers), correlation) + (1 - correlation) * np.eye(n_drivers)
    chol = np.linalg.cholesky(cov)
    shocks = rng.standard_normal((n_paths, n_quarters - 1, n_drivers)) @ chol.T
    sigma_q = vol / 2.0
    drift_q = np.log1p(growth) / 4.0 - sigma_q**2 / 2.0  # mean level grows at ``growth``
    steps = drift_q + sigma_q * shocks
    if shock_probability_per_year is not None:
        p = np.broadcast_to(np.asarray(shock_probability_per_year, dtype=float), n_drivers)
        size = np.broadcast_to(np.asarray(shock_size if shock_size is not None else 0.0, dtype=float), n_drivers)
        if np.any((p < 0) | (p > 4)):
            raise InputError("shock_probability_per_year", p.tolist(), "must be in [0, 4]")
        if np.any(size <= -1):
            raise InputError("shock_size", size.tolist(), "must be > -1")
        hits = rng.random((n_paths, n_quarters - 1, n_drivers)) < p / 4.0
        steps = steps + hits * np.log1p(size)
    step_quarter = np.arange(1, n_quarters)  # step s moves the level from quarter s-1 to s
    start = np.zeros((n_paths, n_drivers))  # log level in quarter 0: a jump there moves it
    for event in events:
        if not 0 <= event.driver < n_drivers:
            raise InputError("events.driver", event.driver, f"must index one of {n_drivers} drivers")
        if not 0 <= event.probability <= 1:
            raise InputError("events.probability", event.probability, "must be in [0, 1]")
        hit = rng.random(n_paths) < event.probability
        if event.kind == "jump":
            if event.size <= -1:
                raise InputError("events.size", event.size, "must be > -1")
            change = np.where(step_quarter == event.quarter, np.log1p(event.size), 0.0)
            if event.quarter == 0:
                start[:, event.driver] += hit * np.log1p(event.size)
        elif event.kind == "plateau":
            if event.growth_after <= -1:
                raise InputError("events.growth_after", event.growth_after, "must be > -1")
            delta = np.log1p(event.growth_after) / 4.0 - np.log1p(growth[:, event.driver]) / 4.0
            change = np.where(step_quarter >= event.quarter, delta, 0.0)
        else:
            raise InputError("events.kind", event.kind, "must be jump or plateau")
        steps[:, :, event.driver] += hit[:, None] * change[None, :]
    log_level = start[:, None, :] + np.concatenate([np.zeros((n_paths, 1, n_drivers)), np.cumsum(steps, axis=1)],
                                                   axis=1)
    return np.exp(log_level)


