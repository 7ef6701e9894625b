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
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pacer.plan.problem import HOURS_PER_QUARTER, PlanProblem, chain_nodes
from pacer.plan.solve import Decisions, solve_problem


@dataclass
class PathDecisions:
    """Decisions along evaluation paths: (path, project, quarter) and (path, generation, region, quarter)."""

    advance: np.ndarray
    keep: np.ndarray
    done: np.ndarray
    buy_kgpu: np.ndarray


def _lines_max(lines: Any, x: np.ndarray) -> np.ndarray:
    """max_k value_k + slope_k (x - start_k) for x of shape (path, project, quarter)."""
    start, value, slope = (lines[v].to_numpy()[None, :, None, :] for v in ("start", "value", "slope"))
    return (value + slope * (x[..., None] - start)).max(axis=-1)


def simulate(problem: PlanProblem, d: PathDecisions, demand_kh100e: np.ndarray) -> dict[str, np.ndarray]:
    """Cash flows (USD) and metrics of decisions ``d`` on demand paths (path, quarter, region, workload)."""
    p = problem
    frame = p.pipeline.frame
    n_paths, n_q = demand_kh100e.shape[:2]
    work = frame.remaining_quarters.to_numpy()[None, :, None]
    progress = np.minimum(np.cumsum(d.advance, axis=2), work)
    progress_prev = np.concatenate([np.zeros_like(progress[:, :, :1]), progress[:, :, :-1]], axis=2)
    spent = np.maximum(_lines_max(p.pipeline.capex, progress), 0.0)
    spend = np.diff(spent, axis=2, prepend=0.0)
    keep_prev = np.concatenate([np.ones_like(d.keep[:, :, :1]), d.keep[:, :, :-1]], axis=2)
    cancel = np.clip(keep_prev - d.keep, 0, 1)
    fee = cancel * np.maximum(_lines_max(p.pipeline.fee, progress_prev), 0.0)
    col = lambda name: frame[name].to_numpy()[None, :, None]  # noqa: E731
    hold = col("hold_usd_per_quarter") * np.clip(d.keep - d.advance - d.done, 0, None)
    project_cost = (spend + fee + hold + d.done * (col("rent_usd_per_quarter") + col("opex_usd_per_quarter"))).sum(1)

    gens = p.generations
    price = gens.price_usd.to_numpy()[None, :, None, None] * 1e3  # USD per kGPU
    L = p.life_quarters
    shifted = np.zeros_like(d.buy_kgpu)
    if L < n_q:
        shifted[..., L:] = d.buy_kgpu[..., :-L]
    retire_init = p.init_retire_kgpu[None, :, :, :n_q]
    fleet = p.init_fleet_kgpu[None, :, :, None] + np.cumsum(d.buy_kgpu - shifted - retire_init, axis=3)
    fleet_prev = np.concatenate([np.broadcast_to(p.init_fleet_kgpu[None, :, :, None], fleet[..., :1].shape),
                                 fleet[..., :-1]], axis=3)
    book = p.init_book_usd[None, :, :, None] + np.cumsum(price * d.buy_kgpu - price / L * fleet_prev, axis=3)
    it_mw = gens.it_mw_per_kgpu.to_numpy()[None, :, None, None]
    gpu_mw = (fleet * it_mw).sum(1) * p.pue[None, :, None]  # path, region, quarter
    region_of = (frame.region.to_numpy()[:, None] == np.array(p.regions)[None, :]).astype(float)
    live_mw = np.einsum("pjq,j,jr->prq", d.done, frame.power_mw.to_numpy(), region_of)
    capacity = (fleet * gens.h100e.to_numpy()[None, :, None, None]).sum(1)  # path, region, quarter

    rev, tp, pen = (p.revenue_usd_per_h100e_hour, p.third_party_usd_per_h100e_hour,
                    p.unserved_penalty_usd_per_h100e_hour)
    gain = np.minimum(tp, rev + pen)
    order = np.argsort(-gain, kind="stable")
    demand = demand_kh100e.transpose(0, 2, 3, 1)  # path, region, workload, quarter
    own = np.zeros_like(demand)
    left = capacity.copy()
    for w in order:
        own[:, :, w] = np.minimum(demand[:, :, w], left)
        left = left - own[:, :, w]
    rest = demand - own
    to_third = (rev - tp >= -pen)[None, None, :, None]
    third = np.where(to_third, rest, 0.0)
    unserved = np.where(to_third, 0.0, rest)
    per = 1e3 * HOURS_PER_QUARTER  # H100e-hours per kH100e-quarter
    w_ = lambda a: a[None, None, :, None]  # noqa: E731
    revenue = ((own + third) * w_(rev) * per).sum((1, 2))
    costs = (third * w_(tp) * per + unserved * w_(pen) * per).sum((1, 2))
    energy = gpu_mw.sum(1) * HOURS_PER_QUARTER * p.gpu_utilisation * p.power_usd_per_mwh
    gpu_capex = (price * d.buy_kgpu).sum((1, 2))
    cash = revenue - costs - energy - gpu_capex - project_cost
    residual = np.where(frame.ownership.to_numpy() == "owned",
                        frame.build_capex_usd.to_numpy() * p.facility_residual_fraction, 0.0)
    terminal = book[..., -1].sum((1, 2)) + (d.done[:, :, -1] * residual[None, :]).sum(1)
    disc = (1.0 + p.discount_rate) ** (-(np.arange(n_q) + 1) / 4.0)
    npv = (cash * disc[None, :]).sum(1) + terminal * disc[-1]
    served_own = own.sum((1, 2))
    return {
        "npv_usd": npv,
        "cash_flow_usd": cash,
        "utilisation": served_own.sum(1) / np.maximum(capacity.sum((1, 2)), 1e-12),
        "stranded_mw": np.clip(live_mw - gpu_mw, 0, None).sum(1).mean(1),
        "unserved_share": unserved.sum((1, 2, 3)) / np.maximum(demand.sum((1, 2, 3)), 1e-12),
        "third_party_share": third.sum((1, 2, 3)) / np.maximum(demand.sum((1, 2, 3)), 1e-12),
        "live_mw_end": live_mw[..., -1].sum(1),
        "cancelled_mw": (cancel * frame.power_mw.to_numpy()[None, :, None]).sum((1, 2)),
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
    return PathDecisions(
        advance=decisions.advance[:, node_path].transpose(1, 0, 2),
        keep=decisions.keep[:, node_path].transpose(1, 0, 2),
        done=decisions.done[:, node_path].transpose(1, 0, 2),
        buy_kgpu=decisions.buy_kgpu[:, :, node_path].transpose(2, 0, 1, 3),
    )


def chain_policy(decisions: Decisions, n_paths: int) -> PathDecisions:
    """Decisions of a single-path plan, applied to every path."""
    rep = lambda a: np.broadcast_to(a[None], (n_paths, *a.shape))  # noqa: E731
    return PathDecisions(advance=rep(decisions.advance), keep=rep(decisions.keep), done=rep(decisions.done),
                         buy_kgpu=rep(decisions.buy_kgpu))


def rule_policy(problem: PlanProblem, n_q: int, *, build: bool) -> Decisions:
    """``build_all`` (advance everything) or ``never_build`` (drop what is not live); fill live MW with GPUs."""
    frame = problem.pipeline.frame
    work = frame.remaining_quarters.to_numpy()
    n_j = len(frame)
    live_now = work <= 0
    if build:
        keep = np.ones((n_j, n_q))
        advance = (np.arange(n_q)[None, :] < work[:, None]).astype(float)
        progress = np.cumsum(advance, axis=1)
        done = (progress >= work[:, None] - 1e-9).astype(float)
    else:
        keep = np.repeat(live_now[:, None].astype(float), n_q, axis=1)
        advance = np.zeros((n_j, n_q))
        done = keep.copy()
    gens = problem.generations
    n_g, n_r = len(gens), len(problem.regions)
    region_of = (frame.region.to_numpy()[:, None] == np.array(problem.regions)[None, :]).astype(float)
    live_mw = np.einsum("jq,j,jr->rq", done, frame.power_mw.to_numpy(), region_of)
    it_mw = gens.it_mw_per_kgpu.to_numpy()
    buy = np.zeros((n_g, n_r, n_q))
    fleet = problem.init_fleet_kgpu.copy()
    L = problem.life_quarters
    for q in range(n_q):  # one step per quarter: the rule looks at retirements and new live MW
        fleet = fleet - problem.init_retire_kgpu[:, :, q] - (buy[:, :, q - L] if q >= L else 0.0)
        newest = int(np.flatnonzero(gens.available.to_numpy() <= q).max())
        headroom = live_mw[:, q] - (fleet * it_mw[:, None]).sum(0) * problem.pue
        buy[newest, :, q] = np.clip(headroom, 0, None) / (it_mw[newest] * problem.pue)
        fleet = fleet + buy[:, :, q]
    return Decisions(advance=advance, keep=keep, done=done, buy_kgpu=buy)


def cvar(values: np.ndarray, alpha: float) -> float:
    """Mean of the worst ``1 - alpha`` share of ``values``."""
    k = max(1, int(np.ceil((1 - alpha) * len(values))))
    return float(np.sort(values)[:k].mean())


def summarise(sim: dict[str, np.ndarray], alpha: float) -> dict[str, float]:
    npv = sim["npv_usd"]
    return {
        "mean_npv_usd": float(npv.mean()),
        "cvar_npv_usd": cvar(npv, alpha),
        "p10_npv_usd": float(np.quantile(npv, 0.1)),
        "utilisation": float(sim["utilisation"].mean()),
        "stranded_mw": float(sim["stranded_mw"].mean()),
        "unserved_share": float(sim["unserved_share"].mean()),
        "third_party_share": float(sim["third_party_share"].mean()),
        "live_mw_end": float(sim["live_mw_end"].mean()),
        "cancelled_mw": float(sim["cancelled_mw"].mean()),
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
) -> dict[str, Any]:
    """Score the policies on fresh demand paths (path, quarter, region, workload) in kH100e."""
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
        bounds, primal = [], []
        for i in range(k):
            step(f"perfect foresight {i + 1}/{k}")
            pf = solve_problem(problem.with_demand(chain_nodes(n_q), paths_kh100e[i]).with_cvar_weight(0.0),
                               solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap / 4)
            bounds.append(pf.bound_usd)
            primal.append(pf.objective_usd)
        bound = np.array(bounds)
        results["perfect_foresight"] = {
            "mean_npv_usd": float(bound.mean()), "cvar_npv_usd": cvar(bound, alpha),
            "mean_primal_npv_usd": float(np.mean(primal)), "paths": k,
            "note": "dual bound of each path's problem solved with its future known",
        }
        subset = {name: float(sim["npv_usd"][:k].mean()) for name, sim in sims.items()}
        results["same_paths_mean_npv_usd"] = subset | {"perfect_foresight": float(bound.mean())}
        results["expected_value_of_perfect_information_usd"] = float(bound.mean() - subset["stochastic"])
    results["value_of_stochastic_solution_usd"] = (results["stochastic"]["mean_npv_usd"]
                                                   - results["deterministic"]["mean_npv_usd"])
    results["paths"] = n_paths
    results["_deterministic_decisions"] = det.decisions
    return results
