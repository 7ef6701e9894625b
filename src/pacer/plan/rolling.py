"""Re-planning policies: judge a plan the way planners use it, re-solving as demand is learnt.

At each decision epoch (yearly by default) a policy looks at the demand realised so far, forms its
expectations of the rest (the sampled paths of a bank whose recent history is closest to what was
realised, scaled to meet it), re-solves the planning problem from the state it is in (retained shares,
stage progress, GPUs and their book value; :func:`pacer.plan.problem.roll_forward`) and carries out the
first epoch of the new plan:

* ``rolling_stochastic`` re-plans on a small tree of those expectations (``leaves`` scenarios branching
  at the next epochs);
* ``rolling_deterministic`` re-plans to their mean, on one path.

Each evaluation path is one independent task (one item for :mod:`pacer.runner`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pacer.demand.scenarios import reduce_to_tree
from pacer.pipeline.projects import KEEP_TOLERANCE
from pacer.plan.evaluate import PathDecisions
from pacer.plan.problem import PlanProblem, chain_nodes, roll_forward
from pacer.plan.solve import solve_problem

#: Quarters of recent history compared when choosing the bank paths that resemble the realised one.
HISTORY_QUARTERS = 4


@dataclass(frozen=True)
class RollingSettings:
    """How a rolling policy re-plans: every ``epoch_quarters``, on ``leaves`` scenarios (1: the mean) formed
    from the ``neighbours`` bank paths closest to the realised history."""

    epoch_quarters: int = 4
    leaves: int = 4
    neighbours: int = 60
    solver: str = "highs"
    time_limit_s: float = 60.0
    mip_gap: float = 0.01


def expectations(bank_kh100e: np.ndarray, realised_kh100e: np.ndarray, t: int, neighbours: int) -> np.ndarray:
    """Futures (path, quarter >= t, region, workload) of the ``neighbours`` bank paths whose last
    :data:`HISTORY_QUARTERS` quarters before ``t`` are closest (in log) to ``realised_kh100e``, each scaled
    so that its quarter ``t - 1`` meets the realised one (per region and workload)."""
    if t == 0:
        return bank_kh100e[:neighbours]
    lo = max(0, t - HISTORY_QUARTERS)
    seen = np.log1p(realised_kh100e[lo:t])
    dist = ((np.log1p(bank_kh100e[:, lo:t]) - seen[None]) ** 2).sum(axis=(1, 2, 3))
    near = np.argsort(dist, kind="stable")[:neighbours]
    last = bank_kh100e[near, t - 1]
    ratio = np.where(last > 1e-9, realised_kh100e[t - 1][None] / np.maximum(last, 1e-9), 1.0)
    return bank_kh100e[near, t:] * np.clip(ratio, 0.2, 5.0)[:, None]


def expectation_tree(futures: np.ndarray, epoch: int, leaves: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Nodes and demand (node, region, workload) of the tree a re-plan solves, from ``futures`` (path,
    quarter, region, workload): their mean on one path for one leaf, else ``leaves`` scenarios branching
    at each of the next two epochs. Used by the re-planning policies and the market's providers."""
    n_q = futures.shape[1]
    branch = [q for q in (epoch, 2 * epoch) if q < n_q]
    if leaves <= 1 or not branch:
        return chain_nodes(n_q), futures.mean(axis=0)
    flat = futures.reshape(futures.shape[0], n_q, -1)
    tree = reduce_to_tree(flat, branch, min(leaves, futures.shape[0]))
    return tree.nodes[["node", "parent", "quarter", "probability"]], tree.values.to_numpy().reshape(
        len(tree.nodes), *futures.shape[2:])


def rolling_path(item: tuple[PlanProblem, np.ndarray, np.ndarray, RollingSettings]) -> PathDecisions:
    """The decisions a rolling policy carries out along one realised path (quarter, region, workload),
    in the original problem's projects: re-plan at each epoch, apply the first epoch, roll forward."""
    problem, realised, bank, cfg = item
    n_q = len(problem.quarters)
    st = problem.pipeline.stages
    n_j, n_k = st.completed_now.shape
    n_g, n_r = problem.init_fleet_kgpu.shape
    keep, completed = np.zeros((n_j, n_q)), np.zeros((n_j, n_k, n_q))
    dropped, buy = np.zeros((n_j, n_k + 1, n_q)), np.zeros((n_g, n_r, n_q))
    index, scale = np.arange(n_j), np.ones(n_j)  # current projects in the original ones, and their share
    current = problem.with_demand(chain_nodes(n_q), realised)
    t = 0
    while t < n_q:
        n = min(cfg.epoch_quarters, n_q - t)
        futures = expectations(bank, realised, t, cfg.neighbours)
        nodes, demand = expectation_tree(futures, n, cfg.leaves)
        d = solve_problem(current.with_demand(nodes, demand), solver=cfg.solver, time_limit_s=cfg.time_limit_s,
                          mip_gap=cfg.mip_gap).decisions
        quarter = nodes.quarter.to_numpy()
        first = np.array([int(np.flatnonzero(quarter == q)[0]) for q in range(n)])  # one node each before branching
        window = slice(t, t + n)
        keep[index, window] = d.keep[:, first] * scale[:, None]
        completed[index, :, window] = d.completed[:, :, first] * scale[:, None, None]
        if d.dropped is not None:
            dropped[index, :, window] = d.dropped[:, :, first] * scale[:, None, None]
        buy[:, :, window] = d.buy_kgpu[:, :, first]
        if t + n >= n_q:
            break
        rest = n_q - t - n
        current = roll_forward(current.with_demand(chain_nodes(n_q - t), realised[t:]), _pad(d.keep[:, first], rest),
                               _pad(d.completed[:, :, first], rest), _pad(d.buy_kgpu[:, :, first], rest), n)
        alive = d.keep[:, first[-1]] > KEEP_TOLERANCE
        index, scale = index[alive], scale[alive] * d.keep[alive, first[-1]]
        current = current.with_demand(chain_nodes(n_q - t - n), realised[t + n:])
        t += n
    return PathDecisions(keep=keep[None], completed=completed[None], buy_kgpu=buy[None], dropped=dropped[None])


def _pad(a: np.ndarray, quarters: int) -> np.ndarray:
    """``a`` with ``quarters`` zero quarters appended on its last axis."""
    return np.concatenate([a, np.zeros((*a.shape[:-1], quarters))], axis=-1)


def stack(decisions: list[PathDecisions]) -> PathDecisions:
    """Per-path decisions as one set (path first)."""
    return PathDecisions(keep=np.concatenate([d.keep for d in decisions]),
                         completed=np.concatenate([d.completed for d in decisions]),
                         buy_kgpu=np.concatenate([d.buy_kgpu for d in decisions]),
                         dropped=np.concatenate([d.dropped for d in decisions if d.dropped is not None]))
