"""Out-of-sample evaluation: score policies on fresh demand paths with the planner's cash-flow model.

Policies: ``stochastic`` (the tree plan applied with recourse: each fresh path follows the tree,
choosing at every branching quarter the child closest to the demand it has seen so far), ``deterministic``
(the plan solved for the mean forecast, applied whatever happens), ``build_all`` (advance every project
and fill live power with the newest GPUs: the 2023-24 habit), ``never_build`` (drop every project not
yet live) and ``perfect_foresight`` (each path solved knowing its future; its dual bound is the value no
policy can beat). Operations are optimal given capacity in every policy: own GPUs serve the workload
whose alternative costs most, the rest goes to third parties when that beats leaving it unserved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from pacer.finance import cvar, npv
from pacer.pipeline import least_advanced_drops
from pacer.plan.problem import HOURS_PER_QUARTER, PlanProblem, chain_nodes, fleet_and_book, live_from_quarter
from pacer.plan.solve import Decisions, solve_problem
from pacer.runner import Executor, run_map


@dataclass
class PathDecisions:
    """Decisions along evaluation paths: keep (path, project, quarter), completed (path, project, stage,
    quarter), buy (path, generation, region, quarter) and dropped (path, project, level, quarter; ``None``
    where the least advanced shares go first)."""

    keep: np.ndarray
    completed: np.ndarray
    buy_kgpu: np.ndarray
    dropped: np.ndarray | None = None


def _previous(a: np.ndarray, first: np.ndarray | float) -> np.ndarray:
    """Values at the previous quarter along the last axis, ``first`` before the first quarter."""
    start = np.broadcast_to(first, a[..., :1].shape) if np.ndim(first) else np.full(a[..., :1].shape, first)
    return np.concatenate([start, a[..., :-1]], axis=-1)


def project_costs(problem: PlanProblem, keep: np.ndarray, completed: np.ndarray,
                  dropped: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Cash out (USD) per (path, project, quarter) of pipeline decisions ``keep`` (path, project, quarter),
    ``completed`` (path, project, stage, quarter) and the share ``dropped`` from each level (path, project,
    level, quarter; by default the least advanced shares go first): ``spend_usd`` (build steps),
    ``fees_usd`` (cancellation), ``hold_usd`` (carrying the retained, not yet live share), ``running_usd``
    (rent, opex)."""
    st = problem.pipeline.stages
    frame = problem.pipeline.frame
    keep_prev = _previous(keep, 1.0)
    prior = _previous(completed, st.completed_now.to_numpy()[None, :, :, None])
    if dropped is None:
        dropped = least_advanced_drops(keep_prev, keep, prior)
    # Progress on stage k: the change in its completed share plus what was dropped beyond it.
    dropped_beyond = np.cumsum(dropped[:, :, ::-1], axis=2)[:, :, ::-1][:, :, 1:]
    step = np.clip(completed - prior + dropped_beyond, 0, None)
    fee = np.concatenate([st.fee_usd.to_numpy(), frame.fee_live_usd.to_numpy()[:, None]], axis=1)
    live_share = completed[:, :, -1, :]
    col = lambda name: frame[name].to_numpy()[None, :, None]  # noqa: E731
    return {
        "spend_usd": (step * st.spend_usd.to_numpy()[None, :, :, None]).sum(2),
        "fees_usd": (dropped * fee[None, :, :, None]).sum(2),
        "hold_usd": col("hold_usd_per_quarter") * (keep - live_share),
        "running_usd": live_share * (col("rent_usd_per_quarter") + col("opex_usd_per_quarter")),
    }


def dispatch_own(fleet: np.ndarray, worth: np.ndarray, demand: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Own capacity (kH100e) serving each workload: the best split of each generation's GPUs.

    ``fleet`` (path, generation, region, quarter) kGPU, ``worth`` (generation, workload) H100e per GPU,
    ``demand`` (path, region, workload, quarter) kH100e, ``gain`` per workload (USD per kH100e-hour
    that own capacity saves). The same optimum as the planner's split (``allocated_kgpu``): with two
    workloads, the first takes generations in order of its comparative advantage
    ``worth[:, 0] / worth[:, 1]``, so the value is concave in how far along that order the split lies
    and is largest at a generation boundary or where one workload's demand is just met; every such
    point is evaluated at once.
    """
    order = np.argsort(-worth[:, 0] / np.maximum(worth[:, 1], 1e-12), kind="stable")
    f = np.moveaxis(fleet[:, order], 1, -1)  # path, region, quarter, generation
    e0, e1 = worth[order, 0], worth[order, 1]
    d0, d1 = demand[:, :, 0][..., None], demand[:, :, 1][..., None]
    zero = np.zeros((*f.shape[:-1], 1))
    head0 = np.concatenate([zero, np.cumsum(f * e0, axis=-1)], axis=-1)  # first k generations to workload 0
    tail1 = np.concatenate([np.cumsum((f * e1)[..., ::-1], axis=-1)[..., ::-1], zero], axis=-1)  # rest to 1
    seg0, seg1 = f * e0, f * e1  # generation k split between the two
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        meet0 = np.clip((d0 - head0[..., :-1]) / seg0, 0.0, 1.0)  # share of generation k meeting demand 0
        meet1 = np.clip((tail1[..., 1:] + seg1 - d1) / seg1, 0.0, 1.0)  # share leaving exactly demand 1
    meet0, meet1 = np.nan_to_num(meet0), np.nan_to_num(meet1)
    cap0 = np.concatenate([head0, head0[..., :-1] + meet0 * seg0, head0[..., :-1] + meet1 * seg0], axis=-1)
    cap1 = np.concatenate([tail1, tail1[..., 1:] + (1 - meet0) * seg1, tail1[..., 1:] + (1 - meet1) * seg1], axis=-1)
    own0, own1 = np.minimum(d0, cap0) * (gain[0] > 0), np.minimum(d1, cap1) * (gain[1] > 0)
    best = np.argmax(gain[0] * own0 + gain[1] * own1, axis=-1)[..., None]
    pick = lambda a: np.take_along_axis(a, best, axis=-1)[..., 0]  # noqa: E731
    return np.stack([pick(own0), pick(own1)], axis=2)  # path, region, workload, quarter


def simulate(problem: PlanProblem, d: PathDecisions, demand_kh100e: np.ndarray) -> dict[str, np.ndarray]:
    """Cash flows (USD) and metrics of decisions ``d`` on demand paths (path, quarter, region, workload).

    The same accounting as the planner's objective: applied to the planner's own tree it reproduces
    the objective value (tested).
    """
    p = problem
    frame = p.pipeline.frame
    keep_prev = _previous(d.keep, 1.0)
    costs = project_costs(p, d.keep, d.completed, d.dropped)
    live_share = d.completed[:, :, -1, :]
    project_cost = (costs["spend_usd"] + costs["fees_usd"] + costs["hold_usd"] + costs["running_usd"]).sum(1)

    gens = p.generations
    price = gens.price_usd.to_numpy()[None, :, None, None] * 1e3  # USD per kGPU
    fleet, book = fleet_and_book(p, d.buy_kgpu)
    it_mw = gens.it_mw_per_kgpu.to_numpy()[None, :, None, None]
    gpu_mw = (fleet * it_mw).sum(1) * p.pue[None, :, None]  # path, region, quarter
    region_of = (frame.region.to_numpy()[:, None] == np.array(p.regions)[None, :]).astype(float)
    live_mw = np.einsum("pjq,j,jr->prq", live_share, frame.power_mw.to_numpy(), region_of)
    worth = gens[["h100e_training", "h100e_inference"]].to_numpy()  # generation, workload
    capacity = (fleet * gens.h100e.to_numpy()[None, :, None, None]).sum(1)  # path, region, quarter (blended)

    rev, tp, pen = (p.revenue_usd_per_h100e_hour, p.third_party_usd_per_h100e_hour,
                    p.unserved_penalty_usd_per_h100e_hour)
    gain = np.minimum(tp, rev + pen)  # what own capacity saves over the best alternative, per workload
    demand = demand_kh100e.transpose(0, 2, 3, 1)  # path, region, workload, quarter
    own = dispatch_own(fleet, worth, demand, gain)
    rest = demand - own
    to_third = (rev - tp >= -pen)[None, None, :, None]
    third = np.where(to_third, rest, 0.0)
    unserved = np.where(to_third, 0.0, rest)
    per = 1e3 * HOURS_PER_QUARTER
    w_ = lambda a: a[None, None, :, None]  # noqa: E731
    revenue = ((own + third) * w_(rev) * per).sum((1, 2))
    costs = (third * w_(tp) * per + unserved * w_(pen) * per).sum((1, 2))
    energy = gpu_mw.sum(1) * HOURS_PER_QUARTER * p.gpu_utilisation * p.power_usd_per_mwh
    gpu_capex = (price * d.buy_kgpu).sum((1, 2))
    cash = revenue - costs - energy - gpu_capex - project_cost
    residual = np.where(frame.ownership.to_numpy() == "owned",
                        frame.build_capex_usd.to_numpy() * p.facility_residual_fraction, 0.0)
    terminal = book[..., -1].sum((1, 2)) + (live_share[:, :, -1] * residual[None, :]).sum(1)
    value = npv(cash, p.discount_rate, terminal)
    return {
        "npv_usd": value,
        "cash_flow_usd": cash,
        "utilisation": own.sum((1, 2)).sum(1) / np.maximum(capacity.sum((1, 2)), 1e-12),
        "stranded_mw": np.clip(live_mw - gpu_mw, 0, None).sum(1).mean(1),
        "unserved_share": unserved.sum((1, 2, 3)) / np.maximum(demand.sum((1, 2, 3)), 1e-12),
        "third_party_share": third.sum((1, 2, 3)) / np.maximum(demand.sum((1, 2, 3)), 1e-12),
        "live_mw_end": live_mw[..., -1].sum(1),
        "cancelled_mw": ((keep_prev - d.keep).clip(0, None) * frame.power_mw.to_numpy()[None, :, None]).sum((1, 2)),
        # Per quarter, for tables and charts: (path, region, workload, quarter) and (path, generation, region,
        # quarter).
        "own_kh100e": own, "third_party_kh100e": third, "unserved_kh100e": unserved, "fleet_kgpu": fleet,
    }


def follow_tree(problem: PlanProblem, path_kh100e: np.ndarray) -> np.ndarray:
    """Node of the tree each fresh path is at in each quarter (closest child at each branching)."""
    nodes = problem.nodes
    parent = nodes.parent.to_numpy()
    n_nodes = len(nodes)
    counts = np.bincount(parent[parent >= 0], minlength=n_nodes)
    width = max(int(counts.max()), 1)
    children = -np.ones((n_nodes, width), dtype=int)
    fill = np.zeros(n_nodes, dtype=int)
    for child, par in enumerate(parent):  # one pass over the tree's nodes (not paths)
        if par >= 0:
            children[par, fill[par]] = child
            fill[par] += 1
    node_values = np.log1p(problem.demand_kh100e.reshape(n_nodes, -1))
    paths = np.log1p(path_kh100e.reshape(*path_kh100e.shape[:2], -1))
    n_paths, n_q = paths.shape[:2]
    roots = nodes.node.to_numpy()[parent < 0]
    out = np.empty((n_paths, n_q), dtype=int)
    first = node_values[roots]  # several roots only in a fan from a table
    out[:, 0] = roots[np.argmin(((paths[:, None, 0, :] - first[None]) ** 2).sum(-1), axis=1)]
    for q in range(1, n_q):
        cand = children[out[:, q - 1]]  # path x width
        dist = ((node_values[np.maximum(cand, 0)] - paths[:, None, q, :]) ** 2).sum(-1)
        dist = np.where(cand >= 0, dist, np.inf)
        out[:, q] = cand[np.arange(n_paths), np.argmin(dist, axis=1)]
    return out


def tree_policy(decisions: Decisions, node_path: np.ndarray) -> PathDecisions:
    """The tree's decisions along each path's nodes."""
    return PathDecisions(
        keep=decisions.keep[:, node_path].transpose(1, 0, 2),
        completed=decisions.completed[:, :, node_path].transpose(2, 0, 1, 3),
        buy_kgpu=decisions.buy_kgpu[:, :, node_path].transpose(2, 0, 1, 3),
        dropped=None if decisions.dropped is None else decisions.dropped[:, :, node_path].transpose(2, 0, 1, 3),
    )


def chain_policy(decisions: Decisions, n_paths: int) -> PathDecisions:
    """Decisions of a single-path plan, applied to every path."""
    rep = lambda a: np.broadcast_to(a[None], (n_paths, *a.shape))  # noqa: E731
    return PathDecisions(keep=rep(decisions.keep), completed=rep(decisions.completed), buy_kgpu=rep(decisions.buy_kgpu),
                         dropped=None if decisions.dropped is None else rep(decisions.dropped))


def rule_policy(problem: PlanProblem, n_q: int, *, build: bool) -> Decisions:
    """``build_all`` (advance everything at full pace) or ``never_build`` (drop what is not live or held by a
    signed lease); both take the committed orders and fill the rest of live MW with the newest GPUs as it
    comes."""
    frame = problem.pipeline.frame
    st = problem.pipeline.stages
    durations = st.duration_quarters.to_numpy()
    completed_now = st.completed_now.to_numpy()
    n_j, n_k = completed_now.shape
    live_now = completed_now[:, -1] >= 1 - 1e-9
    full_pace = np.zeros((n_j, n_k, n_q))
    state = completed_now.copy()
    for q in range(n_q):  # one quarter of work per quarter, stage after stage
        budget = np.ones(n_j)
        for k in range(n_k):
            need = (1 - state[:, k]) * durations[:, k]
            used = np.minimum(need, budget)
            state[:, k] = np.where(durations[:, k] > 0, state[:, k] + used / np.maximum(durations[:, k], 1e-12),
                                   np.where(k == 0, 1.0, state[:, k - 1]))
            state[:, k] = np.minimum(state[:, k], state[:, k - 1] if k else 1.0)
            budget = budget - used
        full_pace[:, :, q] = state
    if build:
        keep, completed = np.ones((n_j, n_q)), full_pace
    else:  # drop all but what is live and what signed leases hold (built at full pace)
        signed = live_from_quarter(frame, problem.quarters) < n_q
        keep = np.repeat((live_now | signed)[:, None].astype(float), n_q, axis=1)
        completed = np.where(signed[:, None, None], full_pace, (completed_now * live_now[:, None])[:, :, None])
    gens = problem.generations
    n_g, n_r = len(gens), len(problem.regions)
    region_of = (frame.region.to_numpy()[:, None] == np.array(problem.regions)[None, :]).astype(float)
    live_mw = np.einsum("jq,j,jr->rq", completed[:, -1, :], frame.power_mw.to_numpy(), region_of)
    it_mw = gens.it_mw_per_kgpu.to_numpy()
    buy = np.zeros((n_g, n_r, n_q))
    fleet = problem.init_fleet_kgpu.copy()
    life = problem.life_quarters
    for q in range(n_q):  # one step per quarter: the rule looks at retirements and new live MW
        fleet = fleet - problem.init_retire_kgpu[:, :, q] - (buy[:, :, q - life] if q >= life else 0.0)
        newest = int(np.flatnonzero(gens.available.to_numpy() <= q).max())
        headroom = live_mw[:, q] - (fleet * it_mw[:, None]).sum(0) * problem.pue
        headroom = headroom - (problem.orders_kgpu[:, :, q] * it_mw[:, None]).sum(0) * problem.pue
        buy[:, :, q] = problem.orders_kgpu[:, :, q]
        buy[newest, :, q] += np.clip(headroom, 0, None) / (it_mw[newest] * problem.pue)
        fleet = fleet + buy[:, :, q]
    return Decisions(keep=keep, completed=completed, buy_kgpu=buy)


def _stderr(values: np.ndarray) -> float:
    """Standard error of the mean of ``values`` (0 for fewer than two)."""
    return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0


def _perfect_foresight(item: tuple[PlanProblem, str, float, float]) -> tuple[float, float]:
    """Dual bound and objective (USD) of one path's problem solved knowing its future."""
    problem, solver, time_limit_s, gap = item
    outcome = solve_problem(problem, solver=solver, time_limit_s=time_limit_s, mip_gap=gap)
    return outcome.bound_usd, outcome.objective_usd


def summarise(sim: dict[str, np.ndarray], alpha: float) -> dict[str, float]:
    npv = sim["npv_usd"]
    return {
        "mean_npv_usd": float(npv.mean()),
        "mean_npv_stderr_usd": _stderr(npv),
        "cvar_npv_usd": cvar(npv, alpha),
        "p10_npv_usd": float(np.quantile(npv, 0.1)),
        "utilisation": float(sim["utilisation"].mean()),
        "stranded_mw": float(sim["stranded_mw"].mean()),
        "unserved_share": float(sim["unserved_share"].mean()),
        "third_party_share": float(sim["third_party_share"].mean()),
        "live_mw_end": float(sim["live_mw_end"].mean()),
        "cancelled_mw": float(sim["cancelled_mw"].mean()),
        # The distribution of NPV (5% steps) and the mean cash flow per quarter, for reports.
        "npv_quantiles_usd": np.quantile(npv, np.linspace(0, 1, 21)).tolist(),
        "mean_cash_flow_usd": sim["cash_flow_usd"].mean(axis=0).tolist(),
    }


def mean_chain_nodes_and_demand(problem: PlanProblem) -> tuple[pd.DataFrame, np.ndarray]:
    """The expected-demand path of the tree, as a one-path tree."""
    q = problem.nodes.quarter.to_numpy()
    prob = problem.nodes.probability.to_numpy()
    n_q = int(q.max()) + 1
    mean = np.zeros((n_q, *problem.demand_kh100e.shape[1:]))
    np.add.at(mean, q, problem.demand_kh100e * prob[:, None, None])
    return chain_nodes(n_q), mean


def evaluate(
    problem: PlanProblem,
    stochastic: Decisions,
    paths_kh100e: np.ndarray,
    *,
    perfect_foresight_paths: int = 12,
    solver: str = "highs",
    time_limit_s: float = 60.0,
    mip_gap: float = 0.01,
    on_step: Callable[[str], None] | None = None,
    executor: str | Executor = "local",
    workers: int | None = None,
    rolling_paths: int = 0,
    bank_kh100e: np.ndarray | None = None,
    rolling: Any = None,
) -> dict[str, Any]:
    """Score the policies on fresh demand paths (path, quarter, region, workload) in kH100e. The
    independent solves (perfect foresight, re-planning) run on ``executor`` (:mod:`pacer.runner`: a name
    or an executor object); results do not depend on it."""
    step = on_step or (lambda _: None)
    n_paths, n_q = paths_kh100e.shape[:2]
    alpha = problem.cvar_alpha
    results: dict[str, Any] = {}

    step("stochastic plan on fresh paths")
    sims = {"stochastic": simulate(problem, tree_policy(stochastic, follow_tree(problem, paths_kh100e)),
                                   paths_kh100e)}
    step("deterministic plan (mean forecast)")
    nodes, mean = mean_chain_nodes_and_demand(problem)
    det = solve_problem(problem.with_demand(nodes, mean).with_cvar_weight(0.0), solver=solver,
                        time_limit_s=time_limit_s, mip_gap=mip_gap)
    sims["deterministic"] = simulate(problem, chain_policy(det.decisions, n_paths), paths_kh100e)
    sims["build_all"] = simulate(problem, chain_policy(rule_policy(problem, n_q, build=True), n_paths), paths_kh100e)
    sims["never_build"] = simulate(problem, chain_policy(rule_policy(problem, n_q, build=False), n_paths),
                                   paths_kh100e)
    for name, sim in sims.items():
        results[name] = summarise(sim, alpha)

    k = min(perfect_foresight_paths, n_paths)
    if k:
        step(f"perfect foresight on {k} paths")
        items = [(problem.with_demand(chain_nodes(n_q), paths_kh100e[i]).with_cvar_weight(0.0), solver,
                  time_limit_s, mip_gap / 4) for i in range(k)]
        solved = run_map(executor, _perfect_foresight, items, workers)
        bounds, primal = [b for b, _ in solved], [o for _, o in solved]
        bound = np.array(bounds)
        results["perfect_foresight"] = {
            "mean_npv_usd": float(bound.mean()), "cvar_npv_usd": cvar(bound, alpha),
            "mean_primal_npv_usd": float(np.mean(primal)), "paths": k,
            "note": "dual bound of each path's problem solved with its future known",
        }
        subset = {name: float(sim["npv_usd"][:k].mean()) for name, sim in sims.items()}
        results["same_paths_mean_npv_usd"] = subset | {"perfect_foresight": float(bound.mean())}
        results["expected_value_of_perfect_information_usd"] = float(bound.mean() - subset["stochastic"])
        results["expected_value_of_perfect_information_stderr_usd"] = _stderr(bound - sims["stochastic"]["npv_usd"][:k])
    results["value_of_stochastic_solution_usd"] = (results["stochastic"]["mean_npv_usd"]
                                                   - results["deterministic"]["mean_npv_usd"])
    # Paired on the same paths: the standard error of the difference, not of each mean.
    results["value_of_stochastic_solution_stderr_usd"] = _stderr(sims["stochastic"]["npv_usd"]
                                                                 - sims["deterministic"]["npv_usd"])
    results["paths"] = n_paths
    k = min(rolling_paths, n_paths)
    if k and bank_kh100e is not None:
        results |= _rolling(problem, paths_kh100e[:k], bank_kh100e, sims, rolling, executor, workers, step)
    return results


def _rolling(problem: PlanProblem, paths_kh100e: np.ndarray, bank_kh100e: np.ndarray, sims: dict[str, Any],
             settings: Any, executor: str | Executor, workers: int | None,
             step: Callable[[str], None]) -> dict[str, Any]:
    """The re-planning policies on the first paths, compared on the same paths with the others."""
    from pacer.plan.rolling import RollingSettings, rolling_path, stack

    cfg = settings or RollingSettings()
    k = len(paths_kh100e)
    out: dict[str, Any] = {}
    npv: dict[str, np.ndarray] = {name: sim["npv_usd"][:k] for name, sim in sims.items()}
    for name, leaves in (("rolling_deterministic", 1), ("rolling_stochastic", cfg.leaves)):
        step(f"{name}: re-planning every {cfg.epoch_quarters} quarters on {k} paths")
        items = [(problem, paths_kh100e[i], bank_kh100e, replace(cfg, leaves=leaves)) for i in range(k)]
        decisions = stack(run_map(executor, rolling_path, items, workers))
        sim = simulate(problem, decisions, paths_kh100e)
        out[name] = summarise(sim, problem.cvar_alpha) | {"paths": k}
        npv[name] = sim["npv_usd"]
    out["rolling_same_paths_mean_npv_usd"] = {name: float(v.mean()) for name, v in npv.items()}
    diff = npv["rolling_stochastic"] - npv["rolling_deterministic"]
    out["rolling_value_of_stochastic_solution_usd"] = float(diff.mean())
    out["rolling_value_of_stochastic_solution_stderr_usd"] = _stderr(diff)
    return out
