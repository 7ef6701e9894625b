"""Clearing one quarter of the capacity market as a linear programme (linopy + HiGHS).

Tenants request compute (kH100e) with a willingness to pay (bid); providers offer capacity at an ask.
Compute a tenant already has stays where it is unless another provider beats the incumbent by more than
the switching cost; what a tenant asks beyond it is its *new* request. Contract rules route requests:

* an exclusive tenant buys from other providers only within its named exceptions;
* a right-of-first-refusal holder sees the new request first and matches it when its ask is within the
  tenant's bid, as far as the capacity it has or plans within its window goes and as far as it is willing
  to let one tenant hold (its concentration appetite); it then serves the matched
  part (what its capacity cannot host yet is *pending*: the tenant waits for it). The rest is declined and
  open to the other providers;
* take-or-pay volumes are paid for in full whether used or not, so the tenant uses them first (to it
  they cost nothing more).

The allocation maximises total surplus (bid minus ask, plus the incumbents' switching edge). Payments
follow the contract price where one exists, else the provider's ask, so money paid by tenants equals money
received by providers.
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
from pacer.plan.problem import HOURS_PER_QUARTER
from pacer.plan.solve import quiet_stdout

#: Amounts below this (kH100e) count as zero in events.
EPSILON_KH100E = 1e-6
_DIMS = ["tenant", "provider"]


@dataclass
class Clearing:
    """One quarter's allocation, payments (USD), requests the tenant waits for, and contract events."""

    quarter: str
    allocation_kh100e: pd.DataFrame  # tenant x provider
    payments_usd: pd.DataFrame  # tenant x provider (take-or-pay shortfalls included)
    pending_kh100e: pd.DataFrame  # tenant x provider: matched by a ROFR holder, not yet hosted
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def paid_by_tenant_usd(self) -> pd.Series:
        return self.payments_usd.sum(axis=1)

    @property
    def received_by_provider_usd(self) -> pd.Series:
        return self.payments_usd.sum(axis=0)


def _vector(name: str, values: dict[str, float], parties: list[str]) -> np.ndarray:
    for party, value in values.items():
        if party not in parties:
            raise InputError(f"{name}.{party}", party, "unknown party")
        if not value >= 0:
            raise InputError(f"{name}.{party}", value, "must be >= 0")
    return np.array([float(values.get(p, 0.0)) for p in parties])


def clear_quarter(
    quarter: str,
    book: ContractBook,
    request_kh100e: dict[str, float],
    bid_usd_per_h100e_hour: dict[str, float],
    capacity_kh100e: dict[str, float],
    ask_usd_per_h100e_hour: dict[str, float],
    *,
    incumbent_kh100e: pd.DataFrame | None = None,
    rofr_capacity_kh100e: dict[str, float] | None = None,
    rofr_max_tenant_share: dict[str, float] | None = None,
    switching_cost_usd_per_h100e_hour: float = 0.0,
) -> Clearing:
    """Clear ``quarter``: who serves how much of each tenant's request, and who pays whom.

    Parameters
    ----------
    incumbent_kh100e
        Last quarter's allocation (tenant x provider), the compute tenants already have.
    rofr_capacity_kh100e
        Capacity each provider has or plans within ROFR windows (default: ``capacity_kh100e``).
    rofr_max_tenant_share
        Most of its (planned) capacity a ROFR holder lets one tenant hold when it decides to match
        (concentration appetite; default 1).
    switching_cost_usd_per_h100e_hour
        Price edge another provider needs to take compute a tenant already has.
    """
    tenants, providers = list(book.tenants), list(book.providers)
    req = _vector("request_kh100e", request_kh100e, tenants)
    bid = _vector("bid_usd_per_h100e_hour", bid_usd_per_h100e_hour, tenants)
    cap = _vector("capacity_kh100e", capacity_kh100e, providers)
    ask = _vector("ask_usd_per_h100e_hour", ask_usd_per_h100e_hour, providers)
    planned = _vector("rofr_capacity_kh100e", rofr_capacity_kh100e or {}, providers)
    planned = np.maximum(planned, cap)
    max_share = np.ones(len(providers))
    for party, value in (rofr_max_tenant_share or {}).items():
        if party not in providers or not 0 < value <= 1:
            raise InputError(f"rofr_max_tenant_share.{party}", value, "must be a provider's share in (0, 1]")
        max_share[providers.index(party)] = value
    inc = np.zeros((len(tenants), len(providers)))
    if incumbent_kh100e is not None:
        inc = incumbent_kh100e.reindex(index=tenants, columns=providers).fillna(0.0).to_numpy().clip(0)
    # Incumbent compute is kept at most up to this quarter's request and the provider's capacity.
    inc = np.minimum(inc, req[:, None] * np.ones_like(inc))
    ti = {t: k for k, t in enumerate(tenants)}
    pi = {p: k for k, p in enumerate(providers)}

    total_cap = np.minimum(req[:, None], cap[None, :]) * np.ones_like(inc)  # bound on x = inc + new
    new_lower = np.zeros_like(inc)
    new_upper = total_cap.copy()
    price = np.broadcast_to(ask, inc.shape).astype(float).copy()
    top_volume = np.zeros_like(inc)
    pending = np.zeros_like(inc)
    events: list[dict[str, Any]] = []
    active = book.active(quarter)
    for c in active:
        t = ti[c.tenant]
        if isinstance(c, Exclusivity):
            caps = {e.provider: e.cap_kh100e for e in c.exceptions}
            for p, k in pi.items():
                if p != c.provider:
                    total_cap[t, k] = min(total_cap[t, k], caps.get(p, 0.0))
        elif isinstance(c, TakeOrPay):
            k = pi[c.provider]
            price[t, k] = c.price_usd_per_h100e_hour
            top_volume[t, k] += c.volume_kh100e
    load = np.minimum(inc, cap[None, :]).sum(axis=0)  # incumbent load per provider
    for c in active:
        if not isinstance(c, Rofr):
            continue
        t, k = ti[c.tenant], pi[c.holder]
        new = max(float(req[t] - inc[t].sum()), 0.0)
        if new <= EPSILON_KH100E:
            continue
        spare_now = max(float(cap[k] - load[k]), 0.0)
        spare_window = max(float(planned[k] - load[k]), 0.0)
        appetite = max(float(max_share[k] * planned[k] - inc[t, k]), 0.0)
        matched = min(new, spare_window, appetite) if ask[k] <= bid[t] else 0.0
        hosted = min(matched, spare_now, total_cap[t, k])
        new_lower[t, k] = hosted
        new_upper[t, k] = hosted
        pending[t, k] = matched - hosted
        load[k] += hosted
        declined = new - matched
        others = [j for j in range(len(providers)) if j != k]
        new_upper[t, others] = np.minimum(new_upper[t, others], declined)
        if matched > EPSILON_KH100E:
            events.append({"type": "rofr_exercised", "quarter": quarter, "tenant": c.tenant, "holder": c.holder,
                           "kh100e": matched, "hosted_kh100e": hosted})
        if declined > EPSILON_KH100E:
            events.append({"type": "rofr_declined", "quarter": quarter, "tenant": c.tenant, "holder": c.holder,
                           "kh100e": declined, "reason": "price" if ask[k] > bid[t] else
                           ("concentration" if appetite < min(new, spare_window) else "capacity")})

    m = linopy.Model()
    coords = [tenants, providers]
    da = lambda a: xr.DataArray(a, coords=coords, dims=_DIMS)  # noqa: E731
    keep = m.add_variables(lower=0, upper=da(np.minimum(inc, total_cap)), coords=coords, dims=_DIMS,
                           name="incumbent_kh100e")
    new_var = m.add_variables(lower=da(new_lower), upper=da(np.maximum(new_upper, new_lower)), coords=coords,
                              dims=_DIMS, name="new_kh100e")
    # Take-or-pay volume is paid for whether used or not: to the tenant its use costs nothing more.
    top = m.add_variables(lower=0, upper=da(np.minimum(top_volume, total_cap)), coords=coords, dims=_DIMS,
                          name="take_or_pay_kh100e")
    x = keep + new_var + top
    m.add_constraints(x.sum("provider") <= xr.DataArray(req, coords=[tenants], dims=["tenant"]), name="request")
    m.add_constraints(x.sum("tenant") <= xr.DataArray(cap, coords=[providers], dims=["provider"]), name="capacity")
    m.add_constraints(x <= da(np.maximum(total_cap, new_lower)), name="exclusivity_and_capacity")
    surplus = bid[:, None] - ask[None, :]
    m.add_objective((x * da(surplus)).sum() + (keep * switching_cost_usd_per_h100e_hour).sum()
                    + (top * da(np.broadcast_to(ask, inc.shape).astype(float))).sum(), sense="max")
    with warnings.catch_warnings(), quiet_stdout():
        warnings.simplefilter("ignore")
        _, condition = m.solve(solver_name="highs", output_flag=False, progress=False, io_api="direct")
    if str(condition) != "optimal":
        raise SolverError(f"market clearing {quarter}: {condition}")
    alloc = np.clip(keep.solution.to_numpy() + new_var.solution.to_numpy() + top.solution.to_numpy(), 0, None)
    new_alloc = np.clip(new_var.solution.to_numpy(), 0, None)
    payments = price * np.maximum(alloc, top_volume) * 1e3 * HOURS_PER_QUARTER
    payments = np.where((alloc > 0) | (top_volume > 0), payments, 0.0)
    for e in events:
        if e["type"] == "rofr_declined":
            t, k = ti[e["tenant"]], pi[e["holder"]]
            e["served_by"] = {p: float(new_alloc[t, j]) for p, j in pi.items()
                              if j != k and new_alloc[t, j] > EPSILON_KH100E}
    for c in active:
        if isinstance(c, Exclusivity):
            t = ti[c.tenant]
            for exception in c.exceptions:
                used = float(alloc[t, pi[exception.provider]])
                if used > EPSILON_KH100E:
                    events.append({"type": "exception_used", "quarter": quarter, "tenant": c.tenant,
                                   "provider": exception.provider, "kh100e": used,
                                   "cap_kh100e": exception.cap_kh100e})
    frame = lambda a: pd.DataFrame(a, index=tenants, columns=providers)  # noqa: E731
    return Clearing(quarter=quarter, allocation_kh100e=frame(alloc), payments_usd=frame(payments),
                    pending_kh100e=frame(pending), events=events)
