"""Play the market quarter by quarter: providers plan and pace, tenants buy, contracts route, capacity
that one provider releases is offered to the others.

Each quarter:

1. every provider whose re-plan is due rolls its plan forward and re-solves it against the demand it
   now expects (the realised path so far tells it which futures are still likely);
2. tenants ask for their demand, cut to what their cash allows; the quarter is cleared by the contract
   rules (:func:`pacer.market.clearing.clear_quarter`);
3. the shares of projects that providers dropped are offered, as lots, to the providers that take over
   capacity; an LP gives each lot to those whose own plan values it most, within the shortfall their plan
   shows (:func:`absorb_lots`); a lot is never given twice, and what nobody takes lapses;
4. tenants pay and book revenue, other costs and funding.

Before a quarter is cleared, market triggers whose quarter has come or whose tenant metric crossed its
threshold in the quarters before fire, and the contracts that end or start on them change from then on;
equity-for-compute investments arrive in their start quarter.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import linopy
import numpy as np
import pandas as pd
import xarray as xr

from pacer._result import Result, human, plain
from pacer.errors import InputError, SolverError
from pacer.market.agents import (
    Lot,
    ProviderAgent,
    TenantAgent,
    expected_futures,
    solve_provider_plan,
    tenant_paths,
)
from pacer.market.clearing import EPSILON_KH100E, clear_quarter
from pacer.market.cloud import cloud_capex
from pacer.market.contracts import ContractBook, EquityForCompute, Exclusivity, Rofr, TakeOrPay
from pacer.plan.problem import HOURS_PER_QUARTER
from pacer.plan.solve import quiet_stdout
from pacer.runner import Executor, get_executor
from pacer.scenario import Scenario, load_scenario, price_in_year

#: Solver time limit of each provider re-plan (s).
REPLAN_TIME_LIMIT_S = 60.0
#: Share of sampled paths used as the neighbours that define a provider's expectation.
NEIGHBOUR_SHARE = 0.1

PROVIDER_SERIES = ("capacity_kh100e", "sold_kh100e", "utilisation", "gpus", "live_mw", "leased_live_mw", "built_mw",
                   "pipeline_mw", "joined_mw", "released_mw", "absorbed_mw", "revenue_usd", "gpu_capex_usd",
                   "build_capex_usd", "capex_usd", "lease_capex_usd", "capex_with_leases_usd", "cloud_it_mw",
                   "cloud_capex_usd", "company_capex_usd", "fees_usd", "equity_invested_usd")
TENANT_SERIES = ("demand_kh100e", "demand_inference_kh100e", "request_kh100e", "served_kh100e", "waiting_kh100e",
                 "cut_kh100e", "spend_usd", "revenue_usd", "other_costs_usd", "funding_usd", "equity_cash_usd",
                 "credits_used_usd", "credits_usd", "net_income_usd", "cash_usd")


def absorb_lots(lots: list[Lot], absorbers: list[ProviderAgent], t: int) -> np.ndarray:
    """MW of each lot each absorber takes over (lot x absorber), maximising the value to the absorbers'
    own plans, within each absorber's room per region; a provider never takes back its own lot."""
    if not lots or not absorbers:
        return np.zeros((len(lots), len(absorbers)))
    values = np.stack([a.value_of_lots_usd_per_mw(t, lots) for a in absorbers], axis=1)  # lot x absorber
    own = np.array([[lot.provider == a.name for a in absorbers] for lot in lots])
    mw = np.array([lot.power_mw for lot in lots])
    allowed = (values > 0) & ~own
    if not allowed.any():
        return np.zeros((len(lots), len(absorbers)))
    regions = list(absorbers[0].problem.regions)
    room = np.stack([a.room_to_absorb_mw(t) for a in absorbers], axis=1)  # region x absorber
    in_region = np.array([[lot.region == r for r in regions] for lot in lots], dtype=float)
    lot_ids, names = list(range(len(lots))), [a.name for a in absorbers]
    coords: list[Any] = [lot_ids, names]
    m = linopy.Model()
    upper = xr.DataArray(np.where(allowed, mw[:, None], 0.0), coords=coords, dims=["lot", "absorber"])
    y = m.add_variables(lower=0, upper=upper, coords=coords, dims=["lot", "absorber"], name="absorbed_mw")
    m.add_constraints(y.sum("absorber") <= xr.DataArray(mw, coords=[lot_ids], dims=["lot"]), name="lot_once")
    onehot = xr.DataArray(in_region, coords=[lot_ids, regions], dims=["lot", "region"])
    room_da = xr.DataArray(room, coords=[regions, names], dims=["region", "absorber"])
    m.add_constraints((y * onehot).sum("lot") <= room_da, name="room")
    value = xr.DataArray(np.where(allowed, values, 0.0) / 1e6, coords=coords, dims=["lot", "absorber"])
    m.add_objective((y * value).sum(), sense="max")
    with warnings.catch_warnings(), quiet_stdout():
        warnings.simplefilter("ignore")
        _, condition = m.solve(solver_name="highs", output_flag=False, progress=False, io_api="direct")
    if str(condition) != "optimal":
        raise SolverError(f"absorbing released capacity, quarter {t}: {condition}")
    out = np.clip(y.solution.to_numpy(), 0, None)
    return np.where(out > 1e-6, np.minimum(out, mw[:, None]), 0.0)


def _initial_shares(book: ContractBook, quarter: str, n_providers: int) -> np.ndarray:
    """Each provider's expected share of each tenant's demand before anything is sold."""
    providers = list(book.providers)
    share = np.full((len(book.tenants), n_providers), 1.0 / n_providers)
    for c in book.active(quarter):
        t = book.tenants.index(c.tenant)
        if isinstance(c, Exclusivity | Rofr):
            holder = c.provider if isinstance(c, Exclusivity) else c.holder
            share[t] = 0.0
            share[t, providers.index(holder)] = 1.0
    return share


def _planning_shares(book: ContractBook, quarter: str, holding: np.ndarray, request: np.ndarray,
                     demand: np.ndarray, bid: np.ndarray, ask: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Each provider's share of each tenant's demand to plan for next (tenant x provider): what it holds
    now, plus an equal part of what the tenant asked for and nobody holds, among the providers the
    tenant's contracts let it buy from at its bid (not a ROFR holder that declined). Demand the tenant
    cannot pay for is planned by nobody. A tenant with no demand keeps its previous shares."""
    providers = list(book.providers)
    n_t, n_p = holding.shape
    eligible = (ask[None, :] <= bid[:, None]).astype(float) * np.ones((n_t, n_p))
    for c in book.active(quarter):
        t = book.tenants.index(c.tenant)
        if isinstance(c, Exclusivity):
            allowed = {c.provider, *(e.provider for e in c.exceptions)}
            eligible[t] *= np.array([p in allowed for p in providers], dtype=float)
        elif isinstance(c, Rofr):
            eligible[t, providers.index(c.holder)] = 0.0
    open_kh100e = np.clip(request - holding.sum(axis=1), 0, None)
    spread = eligible / np.maximum(eligible.sum(axis=1, keepdims=True), 1.0)
    planned = holding + open_kh100e[:, None] * spread
    has = demand > EPSILON_KH100E
    out = previous.copy()
    out[has] = planned[has] / demand[has, None]
    return out


@dataclass
class MarketResult(Result):
    """A simulated market: per quarter and agent, capacity, money and contract events.

    ``providers``: one row per (quarter, provider); ``tenants``: one row per (quarter, tenant);
    ``allocations``: one row per (quarter, tenant, provider) with compute (kH100e) and money (USD);
    ``contracts``: one row per (quarter, tenant, provider, kind) while a contract binds (after triggers);
    ``events``: contract and capacity events in time order.
    """

    scenario: Scenario
    quarters: list[str]
    providers: pd.DataFrame
    tenants: pd.DataFrame
    allocations: pd.DataFrame
    events: list[dict[str, Any]]
    realised_path: int
    contracts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["quarter", "tenant", "provider",
                                                                                   "kind"]))
    timings: dict[str, float] = field(default_factory=dict)
    title = "market simulation"

    @cached_property
    def provider_names(self) -> list[str]:
        return list(dict.fromkeys(self.providers.provider))

    @cached_property
    def tenant_names(self) -> list[str]:
        return list(dict.fromkeys(self.tenants.tenant))

    def series(self, table: str, column: str) -> pd.DataFrame:
        """One column as quarter x agent."""
        frame = self.providers if table == "providers" else self.tenants
        key = "provider" if table == "providers" else "tenant"
        return frame.pivot(index="quarter", columns=key, values=column).reindex(self.quarters)

    def by_year(self, table: str, column: str, how: str = "sum") -> pd.DataFrame:
        """One column summed (or taken at year end, ``how="last"``) by calendar year: year x agent."""
        s = self.series(table, column)
        years = [q[:4] for q in s.index]
        return s.groupby(years).sum() if how == "sum" else s.groupby(years).last()

    def to_frame(self) -> pd.DataFrame:
        return self.providers

    def to_dataset(self) -> xr.Dataset:
        """Provider and tenant series as one dataset with dims (quarter, provider) and (quarter, tenant)."""
        data = {c: (("quarter", "provider"), self.series("providers", c).to_numpy()) for c in PROVIDER_SERIES}
        data |= {f"tenant_{c}": (("quarter", "tenant"), self.series("tenants", c).to_numpy()) for c in TENANT_SERIES}
        return xr.Dataset(data, coords={"quarter": self.quarters, "provider": self.provider_names,
                                        "tenant": self.tenant_names})

    def checks(self) -> dict[str, float]:
        """Largest imbalances (should be ~0): money out of tenants' cash vs revenue booked by providers, and
        providers' revenue vs the allocations' payments, per quarter (USD); pipeline MW change vs released,
        absorbed (the quarter before) and joined per provider and quarter (MW); compute sold above capacity
        (kH100e)."""
        t = self.tenants
        # What tenants paid, read from their cash (start + revenue + funding - other costs - end), against what
        # providers booked as revenue, and against the allocations' payments.
        paid_from_cash = (t.cash_start_usd + t.revenue_usd + t.funding_usd + t.equity_cash_usd - t.other_costs_usd
                          - t.cash_usd + t.credits_used_usd)
        spend = paid_from_cash.groupby(t.quarter).sum().reindex(self.quarters).fillna(0.0)
        received = self.providers.groupby("quarter").revenue_usd.sum().reindex(self.quarters).fillna(0.0)
        a = self.allocations.groupby("quarter")[["paid_usd"]].sum().reindex(self.quarters).fillna(0.0)
        pipeline = self.series("providers", "pipeline_mw")
        released = self.series("providers", "released_mw")
        absorbed = self.series("providers", "absorbed_mw")
        joined = self.series("providers", "joined_mw")
        balance = pipeline.diff().iloc[1:] + released.iloc[1:] - absorbed.shift(1).iloc[1:] - joined.iloc[1:]
        over = (self.series("providers", "sold_kh100e") - self.series("providers", "capacity_kh100e")).max().max()
        return {
            "money_paid_minus_received_usd": float((spend - received).abs().max()),
            "allocations_minus_paid_usd": float((a.paid_usd - received).abs().max()),
            "pipeline_balance_mw": float(balance.abs().max().max()),
            "sold_above_capacity_kh100e": float(max(over, 0.0)),
        }

    def to_dict(self) -> dict[str, Any]:
        per_q = lambda c: {p: self.series("providers", c)[p].round(6).tolist() for p in self.provider_names}  # noqa: E731
        per_t = lambda c: {t: self.series("tenants", c)[t].round(6).tolist() for t in self.tenant_names}  # noqa: E731
        yearly = lambda table, c, how="sum": {  # noqa: E731
            k: {y: float(v) for y, v in col.items()} for k, col in self.by_year(table, c, how).items()}
        alloc = self.allocations.pivot_table(index="quarter", columns=["tenant", "provider"], values="kh100e",
                                             aggfunc="sum").reindex(self.quarters).fillna(0.0)
        return plain({
            "scenario": self.scenario.name,
            "quarters": self.quarters,
            "providers": self.provider_names,
            "tenants": self.tenant_names,
            "realised_path": self.realised_path,
            **{name: per_q(name) for name in PROVIDER_SERIES},
            "provider_capex_usd": yearly("providers", "capex_usd"),
            "provider_revenue_usd": yearly("providers", "revenue_usd"),
            "tenant_spend_usd": yearly("tenants", "spend_usd"),
            "tenant_revenue_usd": yearly("tenants", "revenue_usd"),
            "tenant_net_income_usd": yearly("tenants", "net_income_usd"),
            "tenant_cash_usd": yearly("tenants", "cash_usd", "last"),
            **{f"tenant_{name}": per_t(name) for name in ("demand_kh100e", "served_kh100e", "cut_kh100e",
                                                            "waiting_kh100e")},
            "allocation_kh100e": {t: {p: alloc[(t, p)].round(6).tolist() for p in self.provider_names
                                      if (t, p) in alloc.columns} for t in self.tenant_names},
            "events": self.events,
            "triggers_fired": {e["trigger"]: e["quarter"] for e in self.events if e["type"] == "trigger_fired"},
            "facts": self.facts(),
            "totals": {
                "released_mw": self.providers.groupby("provider").released_mw.sum().to_dict(),
                "absorbed_mw": self.providers.groupby("provider").absorbed_mw.sum().to_dict(),
                "events": pd.Series([e["type"] for e in self.events]).value_counts().to_dict() if self.events else {},
            },
            "checks": self.checks(),
            "timings": self.timings,
        })

    @cached_property
    def fact_checks(self) -> list[Any]:
        """The scenario's reported facts against this run (:func:`pacer.facts.check_facts`), read once."""
        from pacer.facts import check_facts

        return check_facts(self.scenario, self)

    def facts(self) -> list[dict[str, Any]]:
        return [f.to_dict() for f in self.fact_checks]

    def summary_rows(self) -> list[tuple[str, Any]]:
        counts = pd.Series([e["type"] for e in self.events]).value_counts() if self.events else pd.Series(dtype=int)
        rows: list[tuple[str, Any]] = [("quarters", f"{self.quarters[0]}..{self.quarters[-1]}")]
        for p in self.provider_names:
            rows.append((f"{p}: released / absorbed",
                         f"{human(self.series('providers', 'released_mw')[p].sum(), 'MW')} / "
                         f"{human(self.series('providers', 'absorbed_mw')[p].sum(), 'MW')}"))
        spend = self.by_year("tenants", "spend_usd")
        net = self.by_year("tenants", "net_income_usd")
        for t in self.tenant_names:
            if spend[t].sum() > 0:
                years = [y for y in spend.index if spend.loc[y, t] > 0][:3]
                text = ", ".join(f"{y}: {human(spend.loc[y, t], 'USD')} / {human(net.loc[y, t], 'USD')}"
                                 for y in years)
                rows.append((f"{t}: compute spend / net income", text))
        for kind in ("rofr_exercised", "rofr_declined", "exception_used", "capacity_released", "capacity_absorbed"):
            rows.append((f"events: {kind}", int(counts.get(kind, 0))))
        rows.append(("provider re-plans", int(self.timings.get("solves", 0))))
        rows.append(("time taken", human(self.timings.get("seconds", 0.0), "s")))
        return rows


def simulate(scenario: Scenario | str | Path, *, executor: str | Executor = "auto",
             on_step: Callable[[str], None] | None = None) -> MarketResult:
    """Simulate the scenario's market quarter by quarter (see the module docstring).

    Parameters
    ----------
    executor
        Where the providers' re-plans of a quarter run (:mod:`pacer.runner`): ``auto``, ``local``,
        ``processes``, ``ray`` or an executor object. Results do not depend on it.

    Returns
    -------
    MarketResult
        Per quarter and provider: capacity (kH100e), GPUs, live/built/leased/released/absorbed MW,
        revenue and capex (USD); per quarter and tenant: demand, served, cut (kH100e), spend, revenue,
        net income and cash (USD); allocations; contract and capacity events.
    """
    started = time.perf_counter()
    s = load_scenario(scenario) if isinstance(scenario, str | Path) else scenario
    m = s.market
    if m is None:
        raise InputError("market", None, "the scenario needs a market section to simulate")
    step = on_step or (lambda _: None)
    quarters = [str(q) for q in s.quarters]
    t0 = quarters.index(m.start) if m.start else 0
    provider_names = [p.name for p in m.providers]
    tenant_names = [t.name for t in m.tenants]
    book = ContractBook(providers=provider_names, tenants=tenant_names, contracts=m.contracts, triggers=m.triggers)
    step("sampling tenant demand")
    paths = tenant_paths(s, m.tenants, m.realised.paths, m.realised.seed)
    # The realised path is picked on the demand layer's tenants (the scenario's story) where there are any.
    layer = [i for i, x in enumerate(m.tenants) if x.demand_tenant] or list(range(len(m.tenants)))
    end_total = paths[:, -1, layer].sum(axis=(1, 2, 3))
    realised = int(np.argmin(np.abs(end_total - np.quantile(end_total, m.realised.quantile))))
    neighbours = max(5, int(NEIGHBOUR_SHARE * len(paths)))
    agents = [ProviderAgent.create(s, spec, f"market.providers[{i}]") for i, spec in enumerate(m.providers)]
    tenants = [TenantAgent.create(spec, quarters) for spec in m.tenants]
    share = _initial_shares(book, quarters[t0], len(agents))
    pool = get_executor(executor) if isinstance(executor, str) else executor
    try:
        return _play(s, m, quarters, t0, paths, realised, neighbours, agents, tenants, book, share, pool, step,
                     started)
    finally:
        if isinstance(executor, str):
            pool.close()


def _play(s: Scenario, m: Any, quarters: list[str], t0: int, paths: np.ndarray, realised: int, neighbours: int,
          agents: list[ProviderAgent], tenants: list[TenantAgent], book: ContractBook, share: np.ndarray,
          pool: Executor, step: Callable[[str], None], started: float) -> MarketResult:
    provider_names = [a.name for a in agents]
    tenant_names = [t.spec.name for t in tenants]
    clouds = {a.name: cloud_capex(s, a.spec.conventional_cloud) for a in agents}
    holding = pd.DataFrame(0.0, index=tenant_names, columns=provider_names)  # compute held (incl. waiting)
    provider_rows: list[dict[str, Any]] = []
    tenant_rows: list[dict[str, Any]] = []
    alloc_rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    contract_rows: list[dict[str, Any]] = []
    last: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # holding, request, demand
    # What triggers watch, per tenant and metric: the last quarter's value and its sum from the market start.
    last_seen: dict[str, dict[str, float]] = {x: {} for x in tenant_names}
    summed: dict[str, dict[str, float]] = {x: {} for x in tenant_names}
    for t in range(t0, len(quarters)):
        q = quarters[t]
        step(f"market quarter {q} ({t - t0 + 1}/{len(quarters) - t0})")
        year = int(q[:4])
        for trigger in book.due_triggers(q, last_seen, summed):
            book.fire(trigger.name, q)
            changed = [f"{c.type} {c.tenant}" for c in book.contracts if trigger.name in (c.ends_on, c.starts_on)]
            events.append({"type": "trigger_fired", "quarter": q, "trigger": trigger.name, "mw": 0.0,
                           "tenant": trigger.tenant, "contracts": changed,
                           "parties": [trigger.tenant] if trigger.tenant else []})
        invested = dict.fromkeys(provider_names, 0.0)
        equity_cash: dict[str, float] = {}
        cash_start = {x.spec.name: x.cash_usd for x in tenants}  # before this quarter's investments
        for c in book.active(q):
            if isinstance(c, EquityForCompute) and c.start == q:
                tenant = tenants[tenant_names.index(c.tenant)]
                tenant.invest(c.provider, c.amount_usd * (1 - c.compute_share), c.amount_usd * c.compute_share)
                invested[c.provider] += c.amount_usd
                equity_cash[c.tenant] = equity_cash.get(c.tenant, 0.0) + c.amount_usd * (1 - c.compute_share)
                events.append({"type": "equity_invested", "quarter": q, "tenant": c.tenant, "provider": c.provider,
                               "amount_usd": c.amount_usd, "credits_usd": c.amount_usd * c.compute_share,
                               "mw": 0.0, "parties": [c.provider, c.tenant]})
        contract_rows += _contract_rows(book, q)
        bid = {x.name: price_in_year(x.bid_usd_per_h100e_hour, year) for x in m.tenants}
        ask = {x.name: price_in_year(x.ask_usd_per_h100e_hour, year) for x in m.providers}
        if last is not None:  # what providers expect to sell: last quarter's market under this quarter's contracts
            share = _planning_shares(book, q, *last, np.array([bid[x] for x in tenant_names]),
                                     np.array([ask[x] for x in provider_names]), share)
        # Futures (neighbour, quarter>=t, tenant, region, workload) per view (stance quantile).
        views: dict[float | None, np.ndarray] = {}
        jobs, due = [], []
        for k, agent in enumerate(agents):
            if agent.due(t, m.replan_every_quarters):
                stance = agent.spec.planning_quantile
                view = None if stance is None else price_in_year(stance, year)
                if view not in views:
                    views[view] = expected_futures(paths, realised, t, neighbours, view)
                futures = np.einsum("i,nqirw->nqrw", share[:, k], views[view])
                jobs.append((agent.prepare(t, futures.mean(axis=0), futures, m.replan_leaves,
                                           m.replan_every_quarters), REPLAN_TIME_LIMIT_S))
                due.append(agent)
        for agent, plan in zip(due, pool.map(solve_provider_plan, jobs), strict=True):
            agent.adopt(plan)
        states = {a.name: a.state(t) for a in agents}
        capacity = {a.name: states[a.name]["capacity_kh100e"] for a in agents}
        active = book.active(q)
        windows = {c.holder: c.window_quarters for c in active if isinstance(c, Rofr)}
        rofr_capacity = {a.name: a.planned_capacity_kh100e(t, windows.get(a.name, 1)) for a in agents}
        demand = paths[realised, t].sum(axis=(1, 2))
        inference = paths[realised, t, :, :, 1].sum(axis=1)
        request = {}
        for i, tenant in enumerate(tenants):
            name = tenant.spec.name
            owed = [c for c in active if isinstance(c, TakeOrPay) and c.tenant == name]
            committed = sum(c.volume_kh100e * c.price_usd_per_h100e_hour * 1e3 * HOURS_PER_QUARTER for c in owed)
            # Take-or-pay volume is paid whatever happens: the budget limits only what comes on top of it.
            volume = sum(c.volume_kh100e for c in owed)
            request[name] = float(min(demand[i], volume + tenant.affordable_kh100e(t, committed, bid[name])))
        clearing = clear_quarter(q, book, request, bid, capacity, ask, incumbent_kh100e=holding,
                                 rofr_capacity_kh100e=rofr_capacity,
                                 rofr_max_tenant_share={x.name: x.max_tenant_share for x in m.providers},
                                 switching_cost_usd_per_h100e_hour=m.switching_cost_usd_per_h100e_hour)
        alloc, paid, waiting = clearing.allocation_kh100e, clearing.payments_usd, clearing.pending_kh100e
        holding = alloc + waiting
        last = (holding.to_numpy(), np.array([request[x] for x in tenant_names]), demand)
        mw_per_kh100e = {a: (st["gpu_facility_mw"] / st["capacity_kh100e"] if st["capacity_kh100e"] > 0 else 0.0)
                         for a, st in states.items()}
        for e in clearing.events:
            holder = str(e.get("holder") or e.get("provider"))
            e["parties"] = [e["tenant"], holder, *e.get("served_by", {})]
            e["mw"] = e["kh100e"] * mw_per_kh100e.get(holder, 0.0)
            events.append(e)

        lots = [lot for a in agents for lot in a.lots_released(t, states[a.name])]
        absorbers = [a for a in agents if a.spec.absorbs]
        taken = absorb_lots(lots, absorbers, t)
        absorbed_by = dict.fromkeys(provider_names, 0.0)
        for i, lot in enumerate(lots):
            stage = lot.table.stage_of(lot.completed[None, :])[0]
            events.append({"type": "capacity_released", "quarter": q, "provider": lot.provider, "project": lot.project,
                           "region": lot.region, "stage": str(stage), "mw": lot.power_mw, "parties": [lot.provider]})
            for j, a in enumerate(absorbers):
                if taken[i, j] > 0:
                    a.pending_lots.append((lot, float(taken[i, j])))
                    absorbed_by[a.name] += float(taken[i, j])
                    events.append({"type": "capacity_absorbed", "quarter": q, "provider": a.name, "from": lot.provider,
                                   "project": lot.project, "region": lot.region, "stage": str(stage),
                                   "mw": float(taken[i, j]), "parties": [lot.provider, a.name]})

        received = paid.to_numpy().sum(axis=0)
        for k, a in enumerate(agents):
            st = states[a.name]
            released_mw = float((st["released_share"] * a.problem.pipeline.frame.power_mw.to_numpy()).sum())
            sold = float(alloc[a.name].to_numpy().sum())
            ai_capex = st["gpu_capex_usd"] + st["build_capex_usd"] + st["lease_capex_usd"]
            cloud = clouds[a.name]
            provider_rows.append({
                "quarter": q, "provider": a.name, "kind": a.spec.kind,
                "capacity_kh100e": st["capacity_kh100e"], "sold_kh100e": sold,
                "utilisation": sold / st["capacity_kh100e"] if st["capacity_kh100e"] > 0 else 0.0,
                "gpus": st["gpus"], "live_mw": st["live_mw"], "leased_live_mw": st["leased_live_mw"],
                "built_mw": st["built_mw"], "pipeline_mw": st["pipeline_mw"], "joined_mw": a.joined_mw.get(t, 0.0),
                "released_mw": released_mw,
                "absorbed_mw": absorbed_by[a.name], "revenue_usd": float(received[k]),
                "gpu_capex_usd": st["gpu_capex_usd"], "build_capex_usd": st["build_capex_usd"],
                "capex_usd": st["gpu_capex_usd"] + st["build_capex_usd"], "lease_capex_usd": st["lease_capex_usd"],
                "capex_with_leases_usd": ai_capex,
                "cloud_it_mw": float(cloud.it_mw[t]), "cloud_capex_usd": float(cloud.capex_usd[t]),
                "company_capex_usd": ai_capex + float(cloud.capex_usd[t]),
                "fees_usd": st["fees_usd"],
                "equity_invested_usd": invested[a.name],
            })
        alloc_a, paid_a, waiting_a = alloc.to_numpy(), paid.to_numpy(), waiting.to_numpy()
        for i, tenant in enumerate(tenants):
            name = tenant.spec.name
            spend = float(paid_a[i].sum())
            cash_before = cash_start[name]
            net, credits_used = tenant.settle(t, spend, dict(zip(provider_names, paid_a[i].tolist(), strict=True)))
            cut = float(demand[i] - request[name])
            if cut > EPSILON_KH100E:
                events.append({"type": "demand_cut", "quarter": q, "tenant": name, "kh100e": cut,
                               "cash_usd": cash_before, "parties": [name], "mw": 0.0})
            tenant_rows.append({
                "quarter": q, "tenant": name, "demand_kh100e": float(demand[i]),
                "demand_inference_kh100e": float(inference[i]), "request_kh100e": request[name],
                "served_kh100e": float(alloc_a[i].sum()), "waiting_kh100e": float(waiting_a[i].sum()),
                "cut_kh100e": cut, "spend_usd": spend, "revenue_usd": float(tenant.revenue_q_usd[t]),
                "other_costs_usd": float(tenant.other_q_usd[t]), "funding_usd": float(tenant.funding_q_usd[t]),
                "equity_cash_usd": equity_cash.get(name, 0.0), "credits_used_usd": credits_used,
                "credits_usd": float(sum(tenant.credits_usd.values())),
                "net_income_usd": net, "cash_start_usd": cash_before, "cash_usd": tenant.cash_usd,
            })
            last_seen[name] = {"revenue_usd": float(tenant.revenue_q_usd[t]), "net_income_usd": net,
                               "spend_usd": spend, "served_kh100e": float(alloc_a[i].sum()),
                               "demand_kh100e": float(demand[i])}
            summed[name] = {k: summed[name].get(k, 0.0) + v for k, v in last_seen[name].items()}
            last_seen[name]["cash_usd"] = summed[name]["cash_usd"] = tenant.cash_usd  # a balance: never summed
            for j, p in enumerate(provider_names):
                if alloc_a[i, j] > 0 or paid_a[i, j] > 0:
                    alloc_rows.append({"quarter": q, "tenant": name, "provider": p,
                                       "kh100e": float(alloc_a[i, j]), "paid_usd": float(paid_a[i, j])})
    solve_seconds = sum(a.solve_seconds for a in agents)
    return MarketResult(
        scenario=s, quarters=quarters[t0:], providers=pd.DataFrame(provider_rows), tenants=pd.DataFrame(tenant_rows),
        allocations=pd.DataFrame(alloc_rows, columns=["quarter", "tenant", "provider", "kh100e", "paid_usd"]),
        events=events, realised_path=realised,
        contracts=pd.DataFrame(contract_rows, columns=["quarter", "tenant", "provider", "kind"]),
        timings={"seconds": time.perf_counter() - started, "solve_seconds": solve_seconds,
                 "solves": float(sum(a.solves for a in agents))},
    )


def _contract_rows(book: ContractBook, quarter: str) -> list[dict[str, Any]]:
    """The contracts that bind in ``quarter``, one row per (tenant, provider, kind)."""
    rows = []
    for c in book.active(quarter):
        if isinstance(c, Exclusivity):
            rows.append({"quarter": quarter, "tenant": c.tenant, "provider": c.provider, "kind": "exclusivity"})
            rows += [{"quarter": quarter, "tenant": c.tenant, "provider": e.provider, "kind": "exception"}
                     for e in c.exceptions]
        elif isinstance(c, Rofr):
            rows.append({"quarter": quarter, "tenant": c.tenant, "provider": c.holder, "kind": "rofr"})
        elif isinstance(c, TakeOrPay | EquityForCompute):
            rows.append({"quarter": quarter, "tenant": c.tenant, "provider": c.provider, "kind": c.type})
    return rows
