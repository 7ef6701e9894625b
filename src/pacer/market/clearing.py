"""Clearing one quarter of the capacity market as a linear programme (linopy + HiGHS).

Tenants request compute (kH100e) with a willingness to pay; providers offer capacity at an ask price.
Contract rules route requests: an exclusive tenant buys from other providers only within its
exceptions; a right-of-first-refusal holder that matches a request (its ask is within the tenant's
bid) serves it first, as far as its capacity goes; otherwise the holder declines and others may bid.
Take-or-pay volumes are used first (they are already paid for) and paid for in full whether used or
not. The allocation maximises total surplus; payments follow the contract price where one exists, else
the provider's ask, so money paid by tenants equals money received by providers.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import linopy
import numpy as np
import pandas as pd
import xarray as xr

from pacer.errors import InputError, SolverError
from pacer.market.contracts import ContractBook, Exclusivity, Rofr, TakeOrPay
from pacer.plan.solve import quiet_stdout

HOURS_PER_QUARTER = 365.25 * 24 / 4
#: Surplus per kH100e given to routing within a take-or-pay volume (a tie-break, USD per H100e-hour).
TAKE_OR_PAY_PREFERENCE = 1e-3


@dataclass
class Clearing:
    """One quarter's allocation, payments (USD) and contract events."""

    quarter: str
    allocation_kh100e: pd.DataFrame  # tenant x provider
    payments_usd: pd.DataFrame  # tenant x provider (take-or-pay shortfalls included)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def paid_by_tenant_usd(self) -> pd.Series:
        return self.payments_usd.sum(axis=1)

    @property
    def received_by_provider_usd(self) -> pd.Series:
        return self.payments_usd.sum(axis=0)


def clear_quarter(
    quarter: str,
    book: ContractBook,
    request_kh100e: dict[str, float],
    bid_usd_per_h100e_hour: dict[str, float],
    capacity_kh100e: dict[str, float],
    ask_usd_per_h100e_hour: dict[str, float],
) -> Clearing:
    """Clear ``quarter``: who serves how much of each tenant's request, and who pays whom."""
    tenants, providers = list(book.tenants), list(book.providers)
    for name, values, parties in (("request_kh100e", request_kh100e, tenants),
                                  ("bid_usd_per_h100e_hour", bid_usd_per_h100e_hour, tenants),
                                  ("capacity_kh100e", capacity_kh100e, providers),
                                  ("ask_usd_per_h100e_hour", ask_usd_per_h100e_hour, providers)):
        for party, value in values.items():
            if party not in parties:
                raise InputError(f"{name}.{party}", party, "unknown party")
            if not value >= 0:
                raise InputError(f"{name}.{party}", value, "must be >= 0")
    req = np.array([request_kh100e.get(t, 0.0) for t in tenants])
    bid = np.array([bid_usd_per_h100e_hour.get(t, 0.0) for t in tenants])
    cap = np.array([capacity_kh100e.get(p, 0.0) for p in providers])
    ask = np.array([ask_usd_per_h100e_hour.get(p, 0.0) for p in providers])
    ti = {t: k for k, t in enumerate(tenants)}
    pi = {p: k for k, p in enumerate(providers)}

    upper = np.minimum(req[:, None], cap[None, :]).astype(float)  # tenant x provider
    lower = np.zeros_like(upper)
    price = np.broadcast_to(ask, upper.shape).astype(float).copy()
    preference = np.zeros_like(upper)
    top_volume = np.zeros_like(upper)
    events: list[dict[str, Any]] = []
    active = book.active(quarter)
    for c in active:
        t = ti[c.tenant]
        if isinstance(c, Exclusivity):
            caps = {e.provider: e.cap_kh100e for e in c.exceptions}
            for p, k in pi.items():
                if p != c.provider:
                    upper[t, k] = min(upper[t, k], caps.get(p, 0.0))
        elif isinstance(c, TakeOrPay):
            k = pi[c.provider]
            price[t, k] = c.price_usd_per_h100e_hour
            preference[t, k] = TAKE_OR_PAY_PREFERENCE
            top_volume[t, k] += c.volume_kh100e
    for c in active:
        if isinstance(c, Rofr) and req[ti[c.tenant]] > 0:
            t, k = ti[c.tenant], pi[c.holder]
            matched = ask[k] <= bid[t] and cap[k] > 0
            amount = float(min(req[t], cap[k])) if matched else 0.0
            if matched:
                lower[t, k] = min(amount, upper[t, k])
                upper[t, k] = max(upper[t, k], lower[t, k])
            else:
                upper[t, k] = 0.0
            events.append({"type": "rofr_exercised" if matched else "rofr_declined", "quarter": quarter,
                           "tenant": c.tenant, "holder": c.holder, "kh100e": amount if matched else float(req[t])})

    m = linopy.Model()
    coords = [tenants, providers]
    x = m.add_variables(lower=xr.DataArray(lower, coords=coords, dims=["tenant", "provider"]),
                        upper=xr.DataArray(upper, coords=coords, dims=["tenant", "provider"]),
                        coords=coords, dims=["tenant", "provider"], name="allocation_kh100e")
    m.add_constraints(x.sum("provider") <= xr.DataArray(req, coords=[tenants], dims=["tenant"]), name="request")
    m.add_constraints(x.sum("tenant") <= xr.DataArray(cap, coords=[providers], dims=["provider"]), name="capacity")
    surplus = (bid[:, None] - ask[None, :]) + preference
    m.add_objective((x * xr.DataArray(surplus, coords=coords, dims=["tenant", "provider"])).sum(), sense="max")
    with warnings.catch_warnings(), quiet_stdout():
        warnings.simplefilter("ignore")
        _, condition = m.solve(solver_name="highs", output_flag=False, progress=False, io_api="direct")
    if str(condition) != "optimal":
        raise SolverError(f"market clearing {quarter}: {condition} (a right of first refusal may exceed capacity)")
    alloc = np.clip(x.solution.to_numpy(), 0, None)
    payments = price * np.maximum(alloc, top_volume) * 1e3 * HOURS_PER_QUARTER
    payments = np.where((alloc > 0) | (top_volume > 0), payments, 0.0)
    for c in active:
        if isinstance(c, Exclusivity):
            t = ti[c.tenant]
            for e in c.exceptions:
                used = float(alloc[t, pi[e.provider]])
                if used > 1e-9:
                    events.append({"type": "exception_used", "quarter": quarter, "tenant": c.tenant,
                                   "provider": e.provider, "kh100e": used})
    return Clearing(
        quarter=quarter,
        allocation_kh100e=pd.DataFrame(alloc, index=tenants, columns=providers),
        payments_usd=pd.DataFrame(payments, index=tenants, columns=providers),
        events=events,
    )
