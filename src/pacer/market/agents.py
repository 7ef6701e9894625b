"""Agents of the market: providers that plan and pace their pipelines on a rolling horizon, and tenants
that buy compute within their means.

A provider re-plans every ``market.replan_every_quarters`` quarters (and the quarter after it takes over
capacity): it rolls its planning problem forward to the current quarter (retained shares, stage progress,
GPUs alive and their book value), sets its demand to what it expects to sell (its share of each tenant's
purchases times the tenant's expected demand given what has been seen so far), and solves the planner's
LP on the remaining quarters. Between re-plans it carries out the plan. Its plan also values capacity:
the dual of the "fleet fits live power" constraint is what one more live MW is worth to it in each
quarter, which is how it prices capacity another provider releases.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from pacer.demand.scenarios import leaf_paths
from pacer.errors import InputError
from pacer.finance import discount_factors
from pacer.pipeline.projects import KEEP_TOLERANCE, PipelineTable, build_pipeline
from pacer.plan.evaluate import project_costs
from pacer.plan.problem import (
    HOURS_PER_QUARTER,
    PlanProblem,
    chain_nodes,
    fleet_and_book,
    provider_problem,
    roll_forward,
)
from pacer.plan.rolling import expectation_tree
from pacer.plan.solve import Decisions, solve_problem
from pacer.scenario import MarketProvider, MarketTenant, Project, Provider, Scenario

#: Quarters ahead over which a provider's planned shortfall counts as room to take over capacity.
SHORTFALL_LOOKAHEAD_QUARTERS = 8


@dataclass
class Lot:
    """Capacity a provider released in a quarter: a share of one project, at its stage progress."""

    quarter: int
    provider: str
    project: str
    region: str
    power_mw: float
    completed: np.ndarray  # stage -> completed fraction of the released share
    table: PipelineTable  # the whole project it came from, as a one-project pipeline

    @property
    def ready_quarters(self) -> float:
        """Quarters of work, at full pace, until the lot is live."""
        return float(((1 - self.completed) * self.table.stages.duration_quarters.to_numpy()[0]).sum())


def resolve_provider(s: Scenario, spec: MarketProvider) -> Provider:
    """The provider section a market provider plans with (the scenario's own when ``same_as_provider``)."""
    fields = set(Provider.model_fields)
    if spec.same_as_provider:
        if s.provider is None:
            raise InputError("market.providers.same_as_provider", True, "the scenario has no provider section")
        overrides = spec.model_dump(include=fields - {"name"}, exclude_unset=True)
        return Provider.model_validate(s.provider.model_dump() | overrides)
    return Provider.model_validate(spec.model_dump(include=fields))


@dataclass
class ProviderPlan:
    """What a provider keeps of a solve: its decisions, what live MW is worth to it per region and quarter
    (USD per MW, discounted), and the demand it plans to leave to others (kH100e per region and quarter)."""

    decisions: Decisions
    power_value_usd_per_mw: np.ndarray
    shortfall_kh100e: np.ndarray
    seconds: float
    path: np.ndarray | None = None  # the tree's nodes along the scenario whose decisions are kept


def solve_provider_plan(job: tuple[PlanProblem, float]) -> ProviderPlan:
    """Solve one provider's problem (a picklable job, for any executor) on its tree (a small tree of
    expectations, or one expected path). The decisions kept are those along the most probable scenario,
    which agree with every scenario until the tree's first branching (the next re-plan); the value of
    live MW and the planned shortfall are expected values per quarter over the tree."""
    problem, time_limit_s = job
    outcome = solve_problem(problem, time_limit_s=time_limit_s)
    assert outcome.model is not None  # the extensive form
    m = outcome.model.model
    nodes = problem.nodes
    quarter, prob = nodes.quarter.to_numpy(), nodes.probability.to_numpy()
    n_q = int(quarter.max()) + 1
    paths = leaf_paths(nodes)
    path = paths[int(np.argmax(prob[paths[:, -1]]))]
    by_quarter = lambda a: np.stack([a[..., quarter == q].sum(-1) for q in range(n_q)], axis=-1)  # noqa: E731
    short = (m.variables["third_party_kh100e"].solution + m.variables["unserved_kh100e"].solution).sum("workload")
    short = short.transpose("region", "node").to_numpy().clip(0) * prob[None, :]
    dual = np.abs(m.constraints["power_fits_live_mw"].dual.transpose("region", "node").to_numpy())
    d = outcome.decisions
    return ProviderPlan(
        decisions=Decisions(keep=d.keep[:, path], completed=d.completed[:, :, path], buy_kgpu=d.buy_kgpu[:, :, path],
                            dropped=None if d.dropped is None else d.dropped[:, :, path]),
        power_value_usd_per_mw=by_quarter(dual) * 1e6,  # the duals carry each node's probability
        shortfall_kh100e=by_quarter(short),
        seconds=outcome.build_seconds + outcome.solve_seconds,
        path=path,
    )


@dataclass
class ProviderAgent:
    """One provider: its planning problem at the last re-plan and the decisions it carries out."""

    name: str
    spec: MarketProvider
    problem: PlanProblem
    solved_at: int = -1
    decisions: Decisions | None = None
    fleet_kgpu: np.ndarray | None = None  # generation, region, quarter since solved_at
    capacity_kh100e: np.ndarray | None = None  # quarter since solved_at
    project_costs_usd: dict[str, np.ndarray] = field(default_factory=dict)  # (1, project, quarter since solved_at)
    power_value_usd_per_mw: np.ndarray | None = None  # region, quarter since solved_at
    shortfall_kh100e: np.ndarray | None = None  # region, quarter since solved_at
    pending_lots: list[tuple[Lot, float]] = field(default_factory=list)
    joining: dict[int, PipelineTable] = field(default_factory=dict)  # quarter index -> projects that join then
    joined_mw: dict[int, float] = field(default_factory=dict)  # quarter index -> MW that joined the pipeline
    solves: int = 0
    solve_seconds: float = 0.0

    @classmethod
    def create(cls, s: Scenario, spec: MarketProvider, where: str) -> ProviderAgent:
        provider = resolve_provider(s, spec)
        n_q, n_r = len(s.quarters), len(s.regions)
        problem = provider_problem(s, provider, chain_nodes(n_q), np.zeros((n_q, n_r, 2)), where=where)
        quarters = [str(q) for q in s.quarters]
        later: dict[int, list[Project]] = {}
        for p in provider.projects:
            if p.joins is not None and p.joins > quarters[0]:
                later.setdefault(quarters.index(p.joins), []).append(p)
        joining = {t: build_pipeline(provider, projects) for t, projects in later.items()}
        return cls(name=spec.name, spec=spec, problem=problem, joining=joining)

    # -- planning ----------------------------------------------------------------------------------
    def due(self, t: int, every: int) -> bool:
        return (self.decisions is None or t - self.solved_at >= every or bool(self.pending_lots)
                or any(q <= t for q in self.joining))

    def prepare(self, t: int, expected_kh100e: np.ndarray, futures_kh100e: np.ndarray | None = None,
                leaves: int = 1, every: int = 4) -> PlanProblem:
        """Roll forward to quarter ``t``, take over pending lots, and set the demand: a small tree of
        ``leaves`` scenarios from ``futures_kh100e`` (path, quarter >= t, region, workload), branching at
        the next re-plans (every ``every`` quarters), or one path, ``expected_kh100e`` (quarter >= t,
        region, workload). Returns the problem to re-solve."""
        if self.decisions is not None and t > self.solved_at:
            d = self.decisions
            self.problem = roll_forward(self.problem, d.keep, d.completed, d.buy_kgpu, t - self.solved_at)
        for lot, mw in self.pending_lots:
            share = mw / float(lot.table.frame.power_mw.iloc[0])
            taken = lot.table.carried(np.array([share]), lot.completed[None, :] * share)
            new_id = [f"{lot.project}@{self.name}.{self.problem.quarters[0]}"]
            table = PipelineTable(frame=taken.frame.set_axis(new_id), stages=taken.stages.assign_coords(project=new_id))
            self.problem = replace(self.problem, pipeline=self.problem.pipeline.concat(table))
        self.pending_lots = []
        for q in [q for q in self.joining if q <= t]:
            table = self.joining.pop(q)
            self.joined_mw[t] = self.joined_mw.get(t, 0.0) + float(table.frame.power_mw.sum())
            self.problem = replace(self.problem, pipeline=self.problem.pipeline.concat(table))
        if futures_kh100e is None or leaves <= 1:
            self.problem = self.problem.with_demand(chain_nodes(len(expected_kh100e)), expected_kh100e)
        else:
            self.problem = self.problem.with_demand(*expectation_tree(futures_kh100e, every, leaves))
        self.solved_at = t
        return self.problem

    def adopt(self, plan: ProviderPlan) -> None:
        """Carry out ``plan`` (solved for the problem of the last :meth:`prepare`) from now on."""
        if plan.path is not None and len(self.problem.nodes) != len(plan.path):  # a tree: follow its path
            self.problem = self.problem.with_demand(chain_nodes(len(plan.path)), self.problem.demand_kh100e[plan.path])
        self.decisions = plan.decisions
        self.power_value_usd_per_mw = plan.power_value_usd_per_mw
        self.shortfall_kh100e = plan.shortfall_kh100e
        self.fleet_kgpu, _ = fleet_and_book(self.problem, plan.decisions.buy_kgpu)
        # The plan's trajectories, computed once per solve and read quarter by quarter.
        self.capacity_kh100e = (self.fleet_kgpu * self.problem.generations.h100e.to_numpy()[:, None, None]).sum((0, 1))
        d = plan.decisions
        self.project_costs_usd = project_costs(self.problem, d.keep[None], d.completed[None],
                                               None if d.dropped is None else d.dropped[None])
        self.solves += 1
        self.solve_seconds += plan.seconds

    def replan(self, t: int, expected_kh100e: np.ndarray, time_limit_s: float) -> None:
        """:meth:`prepare` and solve here, then :meth:`adopt` the plan."""
        self.adopt(solve_provider_plan((self.prepare(t, expected_kh100e), time_limit_s)))

    # -- what the plan does in quarter t ------------------------------------------------------------
    def state(self, t: int) -> dict[str, Any]:
        """The plan carried out in quarter ``t``: capacity, power, spend and released shares."""
        assert self.decisions is not None and self.fleet_kgpu is not None and self.capacity_kh100e is not None
        k = t - self.solved_at
        p, d = self.problem, self.decisions
        frame, st = p.pipeline.frame, p.pipeline.stages
        mw = frame.power_mw.to_numpy()
        keep, completed = d.keep[:, k], d.completed[:, :, k]
        keep_prev = d.keep[:, k - 1] if k > 0 else np.ones_like(keep)
        prior = d.completed[:, :, k - 1] if k > 0 else st.completed_now.to_numpy()
        costs = self.project_costs_usd
        price = p.generations.price_usd.to_numpy()[:, None] * 1e3
        fleet = self.fleet_kgpu[:, :, k]
        live_prev = prior[:, -1]
        leased = (frame.ownership == "leased").to_numpy()
        gpu_mw = (fleet * p.generations.it_mw_per_kgpu.to_numpy()[:, None]).sum(0) * p.pue
        live_mw = completed[:, -1] * mw
        # A lease counts as capex when it commences (finance-lease accounting): the present value of its
        # rent over its term, for the share of the project that went live this quarter.
        new_live = np.clip(completed[:, -1] - live_prev, 0, None)
        quarters_of_term = np.round(frame.lease_term_years.to_numpy() * 4)
        rate = (1 + p.discount_rate) ** 0.25 - 1
        annuity = np.where(quarters_of_term > 0, (1 - (1 + rate) ** -quarters_of_term) / rate, 0.0) if rate > 0 \
            else quarters_of_term
        lease_capex = float((new_live * leased * frame.rent_usd_per_quarter.to_numpy() * annuity).sum())
        return {
            "lease_capex_usd": lease_capex,
            "capacity_kh100e": float(self.capacity_kh100e[k]),
            "gpus": float(fleet.sum() * 1e3),
            "gpu_capex_usd": float((price * d.buy_kgpu[:, :, k]).sum()),
            "build_capex_usd": float(costs["spend_usd"][0, :, k].sum()),
            "fees_usd": float(costs["fees_usd"][0, :, k].sum()),
            "live_mw": float(live_mw.sum()),
            "leased_live_mw": float(live_mw[leased].sum()),
            "built_mw": float((np.clip(completed[:, -1] - live_prev, 0, None) * mw).sum()),
            "pipeline_mw": float((keep * mw).sum()),
            "gpu_facility_mw": float(gpu_mw.sum()),
            "released_share": np.clip(keep_prev - keep, 0, None),
            "released_completed": (np.clip(prior - completed, 0, None) if d.dropped is None else
                                   np.cumsum(d.dropped[:, ::-1, k], axis=1)[:, ::-1][:, 1:]),
        }

    def planned_capacity_kh100e(self, t: int, window: int) -> float:
        """Most capacity the plan has in quarters ``t`` .. ``t + window - 1`` (what a ROFR holder can offer)."""
        assert self.capacity_kh100e is not None
        k = t - self.solved_at
        return float(self.capacity_kh100e[k: k + window].max())

    def lots_released(self, t: int, state: dict[str, Any]) -> list[Lot]:
        """The shares of projects the plan dropped in quarter ``t``, as lots others may take over."""
        share, done = state["released_share"], state["released_completed"]
        p = self.problem
        frame = p.pipeline.frame
        lots = []
        for j in np.flatnonzero(share > KEEP_TOLERANCE * 10).tolist():  # released projects, few per quarter
            sub = PipelineTable(frame=frame.iloc[[j]], stages=p.pipeline.stages.isel(project=[j]))
            lots.append(Lot(quarter=t, provider=self.name, project=str(frame.index[j]),
                            region=str(frame.region.iloc[j]), power_mw=float(share[j] * frame.power_mw.iloc[j]),
                            completed=np.clip(done[j] / share[j], 0, 1), table=sub))
        return lots

    def value_of_lots_usd_per_mw(self, t: int, lots: list[Lot]) -> np.ndarray:
        """What one MW of each lot is worth to this provider's current plan (USD per MW): the value of live
        MW from when the lot could be live, less the lot's remaining build spend, holding and running costs."""
        assert self.power_value_usd_per_mw is not None
        k = t - self.solved_at
        # Quarters after this one, less the last: its dual carries the terminal book value of GPUs that
        # could be placed at the horizon, which would flatter a lot that is only just live by then.
        value = self.power_value_usd_per_mw[:, k + 1:-1]
        n_after = value.shape[1]
        disc = discount_factors(np.arange(1, n_after + 1), self.problem.discount_rate)
        regions = list(self.problem.regions)
        out = np.full(len(lots), -np.inf)
        for i, lot in enumerate(lots):  # lots released in a quarter: a handful
            if lot.region not in regions:
                continue
            ready = int(np.ceil(lot.ready_quarters))
            live = np.arange(n_after) >= ready
            st = lot.table.stages
            frame = lot.table.frame.iloc[0]
            per_mw = 1.0 / lot.table.frame.power_mw.iloc[0]
            remaining_spend = float(((1 - lot.completed) * st.spend_usd.to_numpy()[0]).sum()) * per_mw
            running = (frame.rent_usd_per_quarter + frame.opex_usd_per_quarter) * per_mw
            hold = frame.hold_usd_per_quarter * per_mw
            gain = float((value[regions.index(lot.region)] * live).sum())
            cost = remaining_spend + float((disc * np.where(live, running, hold)).sum())
            out[i] = gain - cost
        return out

    def room_to_absorb_mw(self, t: int) -> np.ndarray:
        """MW per region the plan would fill: its planned third-party and unserved demand ahead."""
        assert self.shortfall_kh100e is not None
        k = t - self.solved_at
        ahead = self.shortfall_kh100e[:, k + 1: k + 1 + SHORTFALL_LOOKAHEAD_QUARTERS]
        if ahead.shape[1] == 0:
            return np.zeros(len(self.problem.regions))
        g = self.problem.generations.iloc[-1]
        mw_per_kh100e = g.it_mw_per_kgpu / g.h100e * self.problem.pue
        taken = np.zeros(len(self.problem.regions))
        for lot, mw in self.pending_lots:
            taken[list(self.problem.regions).index(lot.region)] += mw
        return np.clip(ahead.max(axis=1) * mw_per_kh100e - taken, 0, None)


@dataclass
class TenantAgent:
    """A tenant's money: revenue and other costs by year, cash, funding rounds."""

    spec: MarketTenant
    quarters: list[str]
    cash_usd: float = 0.0
    revenue_q_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    other_q_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    funding_q_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    credits_usd: dict[str, float] = field(default_factory=dict)  # provider -> compute credits left (USD)

    @classmethod
    def create(cls, spec: MarketTenant, quarters: list[str]) -> TenantAgent:
        years = np.array([int(q[:4]) for q in quarters])
        funding = np.zeros(len(quarters))
        for f in spec.funding:
            if f.quarter in quarters:
                funding[quarters.index(f.quarter)] += f.amount_usd
        return cls(spec=spec, quarters=quarters, cash_usd=spec.cash_usd,
                   revenue_q_usd=_per_quarter(spec.revenue_usd_per_year, years),
                   other_q_usd=_per_quarter(spec.other_costs_usd_per_year, years), funding_q_usd=funding)

    @property
    def budgeted(self) -> bool:
        """Whether the tenant's money limits what it buys (it gave revenue, cash or funding)."""
        s = self.spec
        return bool(s.revenue_usd_per_year or s.cash_usd or s.funding or s.other_costs_usd_per_year
                    or self.credits_usd)

    def invest(self, provider: str, cash_usd: float, credits_usd: float) -> None:
        """An equity investment arrives: ``cash_usd`` to spend on anything, ``credits_usd`` on ``provider``'s
        compute only."""
        self.cash_usd += cash_usd
        self.credits_usd[provider] = self.credits_usd.get(provider, 0.0) + credits_usd

    def affordable_kh100e(self, t: int, committed_usd: float, price_usd_per_h100e_hour: float) -> float:
        """Most compute the tenant can pay for in quarter ``t`` beyond its committed payments (its compute
        credits count: the clearing routes it to the cheapest provider it may buy from, so credits with a
        provider it ends up not using only flatter its budget in that quarter)."""
        if not self.budgeted:
            return np.inf
        money = (self.cash_usd + self.revenue_q_usd[t] + self.funding_q_usd[t] - self.other_q_usd[t]
                 - self.spec.min_cash_usd - committed_usd + sum(self.credits_usd.values()))
        return max(money, 0.0) / max(price_usd_per_h100e_hour * 1e3 * HOURS_PER_QUARTER, 1e-9)

    def settle(self, t: int, paid_usd: float,
               paid_by_provider_usd: dict[str, float] | None = None) -> tuple[float, float]:
        """Book quarter ``t``: payments to a provider draw on its credits first; cash moves by revenue +
        funding - other costs - what the credits did not cover. Returns (net income, credits used); compute
        is an expense however it was paid."""
        used = 0.0
        for provider, paid in (paid_by_provider_usd or {}).items():
            take = min(self.credits_usd.get(provider, 0.0), paid)
            if take > 0:
                self.credits_usd[provider] -= take
                used += take
        net = self.revenue_q_usd[t] - self.other_q_usd[t] - paid_usd
        self.cash_usd += net + used + self.funding_q_usd[t]
        return float(net), float(used)


def _per_quarter(per_year: dict[int, float], years: np.ndarray) -> np.ndarray:
    """A yearly amount spread evenly over each year's quarters; after the last year given it grows at the
    last year-on-year rate, before the first it stays at the first."""
    if not per_year:
        return np.zeros(len(years))
    known = sorted(per_year)
    values = np.array([per_year[y] for y in known], dtype=float)
    rate = values[-1] / values[-2] if len(known) > 1 and values[-2] > 0 else 1.0
    annual = np.interp(years, known, values)
    annual = np.where(years > known[-1], values[-1] * rate ** (years - known[-1]), annual)
    return annual / 4.0


def expected_futures(paths_kh100e: np.ndarray, realised: int, t: int, neighbours: int,
                     quantile: float | None = None) -> np.ndarray:
    """The futures behind :func:`expected_demand`: (neighbour, quarter >= t, tenant, region, workload), the
    ``neighbours`` sampled paths closest to the realised one per tenant, scaled by the stance ``quantile``,
    with quarter ``t`` the realised value; their mean is the expected demand."""
    seen = slice(max(0, t - 3), t + 1)
    totals = np.log1p(paths_kh100e[:, seen].sum(axis=(3, 4)))  # path, quarters seen, tenant
    distance = ((totals - totals[realised][None]) ** 2).sum(axis=1)  # path, tenant
    nearest = np.argsort(distance, axis=0, kind="stable")[:neighbours]  # neighbour, tenant
    tenant = np.arange(paths_kh100e.shape[2])
    future = paths_kh100e[nearest[:, None, :], np.arange(t, paths_kh100e.shape[1])[None, :, None], tenant[None, None]]
    if quantile is not None:
        total = future.sum(axis=(3, 4))  # neighbour, quarter, tenant
        mean = total.mean(axis=0)
        ratio = np.where(mean > 0, np.quantile(total, quantile, axis=0) / np.maximum(mean, 1e-12), 1.0)
        future = future * ratio[None, :, :, None, None]
    future[:, 0] = paths_kh100e[realised, t]
    return future


def expected_demand(paths_kh100e: np.ndarray, realised: int, t: int, neighbours: int,
                    quantile: float | None = None) -> np.ndarray:
    """Expected demand from quarter ``t`` on (quarter, tenant, region, workload), given what has been seen
    up to ``t`` on the realised path: for each tenant, the mean of the ``neighbours`` sampled paths
    closest to its realised demand (log, last four quarters). With ``quantile``, that mean is scaled per
    quarter and tenant to the quantile of the neighbours' totals (an optimist plans to a high one).
    Quarter ``t`` itself is the realised value."""
    return expected_futures(paths_kh100e, realised, t, neighbours, quantile).mean(axis=0)


def tenant_paths(s: Scenario, tenants: list[MarketTenant], n_paths: int, seed: int) -> np.ndarray:
    """Sampled demand (path, quarter, tenant, region, workload) in kH100e for the market's tenants."""
    from pacer.demand.forecast import tenant_demand_paths

    n_q, regions = len(s.quarters), list(s.regions)
    out = np.zeros((n_paths, n_q, len(tenants), len(regions), 2))
    if any(t.demand_tenant for t in tenants):
        names, by_tenant = tenant_demand_paths(s, n_paths, seed)
        for i, t in enumerate(tenants):
            if t.demand_tenant:
                out[:, :, i] = by_tenant[:, :, names.index(t.demand_tenant)] / 1e3
    rng = np.random.default_rng(seed + 1)
    step_quarters = np.array([str(x) for x in s.quarters[1:]])  # step k moves demand into quarter k + 1
    for i, t in enumerate(tenants):
        d = t.demand
        if d is None:
            continue
        shocks = rng.normal(0.0, d.annual_volatility / 2, size=(n_paths, n_q - 1))
        growth = np.full(n_q - 1, d.annual_growth)  # changed from each scheduled quarter on
        for q, g in sorted(d.growth_from.items()):
            growth[step_quarters >= q] = g
        log_growth = np.log1p(growth)[None, :] / 4 - (d.annual_volatility / 2) ** 2 / 2 + shocks
        level = d.start_kh100e * np.exp(np.concatenate([np.zeros((n_paths, 1)), np.cumsum(log_growth, 1)], 1))
        r = regions.index(d.region)
        out[:, :, i, r, 0] = level * (1 - d.inference_share)
        out[:, :, i, r, 1] = level * d.inference_share
    return out
