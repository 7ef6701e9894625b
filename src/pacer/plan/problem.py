"""The data of one planning problem: a tree of demand, a pipeline, GPU generations and economics."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from pacer.catalog import get_accelerator, load_facilities
from pacer.demand.forecast import DemandForecast, h100e_per_gpu_of
from pacer.demand.scenarios import leaf_paths
from pacer.errors import InputError
from pacer.finance import discount_factors, straight_line_book_value
from pacer.pipeline import PipelineTable, build_pipeline, first_live_quarter
from pacer.scenario import Provider, Scenario, quarter

HOURS_PER_QUARTER = 365.25 * 24 / 4
WORKLOADS = ("training", "inference")


@dataclass(frozen=True)
class PlanProblem:
    """Everything the planner and the evaluator need, as arrays (units in the field names).

    Demand and capacity are in thousands of H100-equivalents (``kh100e``), GPUs in thousands
    (``kgpu``), money in USD.
    """

    nodes: pd.DataFrame  # node, parent, quarter (index into quarters), probability
    quarters: list[str]
    regions: list[str]
    demand_kh100e: np.ndarray  # node x region x workload
    pipeline: PipelineTable
    generations: pd.DataFrame  # accelerator, available (quarter index), price_usd, h100e, it_mw_per_kgpu
    life_quarters: int
    init_fleet_kgpu: np.ndarray  # generation x region, alive at the start
    init_retire_kgpu: np.ndarray  # generation x region x quarter: initial GPUs retiring in each quarter
    init_book_usd: np.ndarray  # generation x region
    orders_kgpu: np.ndarray  # generation x region x quarter: committed deliveries (the least bought then)
    revenue_usd_per_h100e_hour: np.ndarray  # workload
    third_party_usd_per_h100e_hour: np.ndarray
    unserved_penalty_usd_per_h100e_hour: np.ndarray
    power_usd_per_mwh: float
    gpu_utilisation: float
    pue: np.ndarray  # region
    discount_rate: float
    facility_residual_fraction: float
    cvar_alpha: float
    cvar_weight: float

    @property
    def discount(self) -> np.ndarray:
        """Discount factor of each node's cash flow (end of its quarter)."""
        return discount_factors(self.nodes.quarter.to_numpy(), self.discount_rate)

    @property
    def leaves(self) -> np.ndarray:
        q = self.nodes.quarter.to_numpy()
        return self.nodes.node.to_numpy()[q == q.max()]

    def path_matrix(self) -> np.ndarray:
        """leaves x nodes: 1 where the node lies on the leaf's path."""
        paths = leaf_paths(self.nodes)
        out = np.zeros((len(paths), len(self.nodes)))
        out[np.arange(len(paths))[:, None], paths] = 1.0
        return out

    def with_demand(self, nodes: pd.DataFrame, demand_kh100e: np.ndarray) -> PlanProblem:
        """The same problem on another tree (e.g. one path for perfect foresight)."""
        return replace(self, nodes=nodes, demand_kh100e=demand_kh100e)

    def with_cvar_weight(self, weight: float) -> PlanProblem:
        return replace(self, cvar_weight=weight)


def chain_nodes(n_quarters: int) -> pd.DataFrame:
    """A single-path tree: one node per quarter."""
    q = np.arange(n_quarters)
    return pd.DataFrame({"node": q, "parent": q - 1, "quarter": q, "probability": 1.0, "paths": 1})


def build_problem(scenario: Scenario, demand: DemandForecast) -> PlanProblem:
    """Assemble the planning problem of ``scenario``'s provider against ``demand``'s tree."""
    if scenario.provider is None:
        raise InputError("provider", None, "the scenario needs a provider section to plan")
    ds = demand.dataset
    demand_kh100e = ds.gpus_h100e.transpose("node", "region", "workload").sel(
        region=list(scenario.regions), workload=list(WORKLOADS)).to_numpy() / 1e3
    nodes = demand.tree.nodes[["node", "parent", "quarter", "probability"]].copy()
    return provider_problem(scenario, scenario.provider, nodes, demand_kh100e)


def provider_problem(scenario: Scenario, provider: Provider, nodes: pd.DataFrame, demand_kh100e: np.ndarray,
                     where: str = "provider") -> PlanProblem:
    """The planning problem of any ``provider`` (its pipeline, fleet and economics) on a tree of
    ``nodes`` with demand (node, region, workload) in kH100e, over the scenario's horizon."""
    start = scenario.quarters[0]
    later = [(i, p) for i, p in enumerate(provider.projects) if p.joins is not None and quarter(p.joins) > start]
    if later and where == "provider":
        i, p = later[0]
        raise InputError(f"provider.projects[{i}].joins", p.joins,
                         "only the market simulation adds projects later; remove it to plan")
    present = [p for p in provider.projects if p.joins is None or quarter(p.joins) <= start]
    if not present:
        raise InputError(f"{where}.projects", [], "needs at least one project in the pipeline at the start")
    if provider.economics is None:
        raise InputError(f"{where}.economics", None, "is required to plan")
    quarters = [str(q) for q in scenario.quarters]
    q0 = quarter(quarters[0])
    regions = list(scenario.regions)

    life = max(1, round(provider.gpu_life_years * 4))
    overhead = load_facilities().network_storage_overhead.value
    entries = sorted(scenario.roadmap, key=lambda e: quarter(e.available))
    # H100-equivalents per workload from the sizing engine (the scenario's own training and serving);
    # ``h100e`` is their blend by the scenario's expected demand mix, for tables, charts and the market.
    per_workload = h100e_per_gpu_of(scenario, [e.accelerator for e in entries])
    mix = np.einsum("n,nrw->w", nodes.probability.to_numpy(float), np.asarray(demand_kh100e, dtype=float))
    share = float(mix[WORKLOADS.index("inference")] / mix.sum()) if mix.sum() > 0 else 0.5
    rows = []
    for e in entries:
        acc = get_accelerator(e.accelerator)
        train, serve = per_workload[acc.id]["training"], per_workload[acc.id]["inference"]
        rows.append({
            "accelerator": acc.id, "available": max(0, (quarter(e.available) - q0).n),
            "price_usd": acc.price_usd * (1 + provider.economics.server_capex_fraction),
            "h100e": (1 - share) * train + share * serve, "h100e_training": train, "h100e_inference": serve,
            "it_mw_per_kgpu": acc.server_power_per_accelerator_w * (1 + overhead) * 1000 / 1e6,
        })
    generations = pd.DataFrame(rows).drop_duplicates("accelerator").reset_index(drop=True)
    gen_index = {a: i for i, a in enumerate(generations.accelerator)}
    init = np.zeros((len(generations), len(regions)))
    retire = np.zeros((len(generations), len(regions), len(quarters)))
    book = np.zeros_like(init)
    orders = np.zeros_like(retire)
    for i, f in enumerate(provider.fleet):
        if f.accelerator not in gen_index:
            raise InputError(f"{where}.fleet[{i}].accelerator", f.accelerator, "must be on the roadmap")
        g, r = gen_index[f.accelerator], regions.index(f.region)
        age = (q0 - quarter(f.bought)).n
        if age < 0:  # a committed order, delivered inside the horizon
            orders[g, r, -age] += f.gpus / 1e3
            continue
        if age >= life:
            continue
        init[g, r] += f.gpus / 1e3
        retire_at = life - age
        if retire_at < len(quarters):
            retire[g, r, retire_at] += f.gpus / 1e3
        book[g, r] += f.gpus * float(straight_line_book_value(generations.price_usd[g], age, life))

    _check_commencements(provider, quarters, where)
    econ = provider.economics
    price = lambda d: np.array([d.get(w, 0.0) for w in WORKLOADS])  # noqa: E731
    return PlanProblem(
        nodes=nodes, quarters=quarters, regions=regions, demand_kh100e=demand_kh100e,
        pipeline=build_pipeline(provider, present), generations=generations, life_quarters=life,
        init_fleet_kgpu=init, init_retire_kgpu=retire, init_book_usd=book, orders_kgpu=orders,
        revenue_usd_per_h100e_hour=price(econ.revenue_usd_per_h100e_hour),
        third_party_usd_per_h100e_hour=price(econ.third_party_usd_per_h100e_hour),
        unserved_penalty_usd_per_h100e_hour=price(econ.unserved_penalty_usd_per_h100e_hour),
        power_usd_per_mwh=econ.power_usd_per_mwh, gpu_utilisation=econ.gpu_utilisation,
        pue=np.array([scenario.pue_of(r) for r in regions]), discount_rate=provider.discount_rate,
        facility_residual_fraction=provider.facility_residual_fraction,
        cvar_alpha=provider.cvar.alpha, cvar_weight=provider.cvar.weight,
    )


def _check_commencements(provider: Provider, quarters: list[str], where: str) -> None:
    """A signed lease's commencement must fall in the horizon and be reachable at full pace from the quarter
    its project is in the pipeline (the start, or when it joins)."""
    signed = [(i, p) for i, p in enumerate(provider.projects) if p.lease is not None and p.lease.commences]
    if not signed:
        return
    frame = build_pipeline(provider, [p for _, p in signed]).frame
    live_from = live_from_quarter(frame, quarters)
    earliest = first_live_quarter(frame.remaining_quarters.to_numpy())
    for (i, p), date, due, soonest, left in zip(signed, frame.commences, live_from, earliest,
                                                 frame.remaining_quarters, strict=True):
        at = f"{where}.projects[{i}].lease.commences"
        if date > quarters[-1]:
            raise InputError(at, date, f"must be at or before the horizon end {quarters[-1]}")
        joins = quarters.index(p.joins) if p.joins is not None and p.joins > quarters[0] else 0
        if joins + soonest > max(due, joins):
            raise InputError(at, date, f"project {p.id} has {left:g} quarters of work left at full pace: too "
                             "many to be live by then")


def live_from_quarter(frame: pd.DataFrame, quarters: list[str]) -> np.ndarray:
    """Per project, the index of the quarter from which a signed lease holds it live (``len(quarters)``
    where none does; 0 for a date before the horizon)."""
    commences = frame["commences"].to_numpy(str)
    return np.where(commences == "", len(quarters), np.searchsorted(np.array(quarters), commences))


def fleet_and_book(problem: PlanProblem, buy_kgpu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GPUs alive (kGPU) and their book value (USD) after each quarter's purchases along a path:
    ``buy_kgpu`` (..., generation, region, quarter) -> two arrays of the same shape."""
    p = problem
    n_q = buy_kgpu.shape[-1]
    price = p.generations.price_usd.to_numpy()[:, None, None] * 1e3  # USD per kGPU
    life = p.life_quarters
    retired_buys = np.zeros_like(buy_kgpu)
    if life < n_q:
        retired_buys[..., life:] = buy_kgpu[..., :-life]
    fleet = p.init_fleet_kgpu[..., None] + np.cumsum(buy_kgpu - retired_buys - p.init_retire_kgpu[..., :n_q], axis=-1)
    before = np.concatenate([np.broadcast_to(p.init_fleet_kgpu[..., None], (*fleet.shape[:-1], 1)),
                             fleet[..., :-1]], axis=-1)
    book = p.init_book_usd[..., None] + np.cumsum(price * buy_kgpu - price / life * before, axis=-1)
    return fleet, book


def roll_forward(problem: PlanProblem, keep: np.ndarray, completed: np.ndarray, buy_kgpu: np.ndarray,
                 n: int) -> PlanProblem:
    """The problem ``n`` quarters later, after the decisions of its first ``n`` quarters along one path:
    ``keep`` (project, quarter), ``completed`` (project, stage, quarter), ``buy_kgpu`` (generation,
    region, quarter). The state carried over is the retained share and stage progress of every project
    (fully dropped ones leave), and the GPUs alive with their book value and retirement dates. The new
    problem is a chain over the remaining quarters; its demand is the old one's, to be replaced."""
    p = problem
    if n <= 0:
        return p
    if n >= len(p.quarters):
        raise InputError("n", n, f"must leave at least one of the {len(p.quarters)} quarters")
    if len(p.nodes) != len(p.quarters):
        raise InputError("nodes", len(p.nodes), "only a single-path (chain) plan can be rolled forward")
    fleet, book = fleet_and_book(p, buy_kgpu[..., :n])
    life = p.life_quarters
    retire = p.init_retire_kgpu[..., n:].copy()
    bought_at = np.arange(n)
    retire_index = bought_at + life - n
    inside = (retire_index >= 0) & (retire_index < retire.shape[-1])
    retire[..., retire_index[inside]] += buy_kgpu[..., bought_at[inside]]  # one purchase per quarter: no clashes
    generations = p.generations.copy()
    generations["available"] = np.maximum(generations.available - n, 0)
    return replace(
        p, nodes=chain_nodes(len(p.quarters) - n), quarters=p.quarters[n:], demand_kh100e=p.demand_kh100e[n:],
        pipeline=p.pipeline.carried(keep[:, n - 1], completed[:, :, n - 1]), generations=generations,
        init_fleet_kgpu=fleet[..., -1], init_retire_kgpu=retire, init_book_usd=book[..., -1],
        orders_kgpu=p.orders_kgpu[..., n:],
    )
