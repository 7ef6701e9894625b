"""Scenario trees: reduce sampled demand paths to a tree of a requested size.

A tree is a table of nodes, one per (branch, quarter): each node has a quarter index, a parent (the
node of the previous quarter on the same branch, ``-1`` for the root) and an unconditional probability.
Decisions indexed by node are non-anticipative by construction: two scenarios share a node, and so a
decision, until the quarter where they branch.

Reduction (``reduce_to_tree``) is forward clustering, stage by stage: at each branching quarter the
paths of every current branch are split by k-means on their (standardised, log) trajectories up to the
next branching quarter; the number of children of a branch is proportional to its share of paths, so
the last stage has exactly the requested leaves. Each node's value is the mean of its member paths and
its probability their share, so the tree reproduces the sampled mean at every quarter exactly (up to
rounding) and keeps as much of the spread as ``leaves`` allow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import NDArray

from pacer.errors import InputError

FloatArray = NDArray[np.float64]


def leaf_paths(nodes: pd.DataFrame) -> NDArray[np.int64]:
    """Node of each leaf scenario at each quarter: (leaves, quarters), leaves in node order.

    ``nodes`` has columns ``node`` (0..n-1), ``parent`` (-1 at a root) and ``quarter``.
    """
    parent = nodes.parent.to_numpy()
    quarter = nodes.quarter.to_numpy()
    n_q = int(quarter.max()) + 1
    index = np.empty((int((quarter == n_q - 1).sum()), n_q), dtype=np.int64)
    current = nodes.node.to_numpy()[quarter == n_q - 1]
    for q in range(n_q - 1, -1, -1):  # one step per quarter, vectorised over scenarios
        index[:, q] = current
        current = parent[current]
    return index


@dataclass(frozen=True)
class ScenarioTree:
    """A scenario tree: ``nodes`` (one row per node) and ``values`` (node x driver).

    ``path_nodes[p, q]`` is the node that sampled path ``p`` belongs to at quarter ``q``, so any other
    per-path quantity can be averaged onto the tree with :meth:`aggregate`.
    """

    nodes: pd.DataFrame
    values: xr.DataArray
    path_nodes: NDArray[np.int64]
    path_weights: FloatArray | None = None

    def aggregate(self, per_path: FloatArray) -> FloatArray:
        """Average ``per_path`` (paths x quarters x ...) over each node's member paths: (nodes x ...)."""
        per_path = np.asarray(per_path, dtype=float)
        n_paths, n_q = self.path_nodes.shape
        if per_path.shape[:2] != (n_paths, n_q):
            raise ValueError(f"expected leading shape {(n_paths, n_q)}, got {per_path.shape[:2]}")
        weights = np.ones(n_paths) if self.path_weights is None else self.path_weights
        flat = (per_path * weights.reshape(-1, *([1] * (per_path.ndim - 1)))).reshape(n_paths * n_q, -1)
        sums = np.zeros((len(self.nodes), flat.shape[1]))
        np.add.at(sums, self.path_nodes.ravel(), flat)
        totals = np.zeros(len(self.nodes))
        np.add.at(totals, self.path_nodes.ravel(), np.repeat(weights, n_q))
        return (sums / totals[:, None]).reshape((len(self.nodes), *per_path.shape[2:]))

    @property
    def n_leaves(self) -> int:
        last = self.nodes.quarter.max()
        return int((self.nodes.quarter == last).sum())

    def probability_by_quarter(self) -> pd.Series:
        """Total probability of the nodes of each quarter (1 everywhere in a valid tree)."""
        return self.nodes.groupby("quarter").probability.sum()

    def expected(self) -> xr.DataArray:
        """Probability-weighted mean of each driver per quarter."""
        weights = xr.DataArray(self.nodes.probability.to_numpy(), dims="node")
        quarter = xr.DataArray(self.nodes.quarter.to_numpy(), dims="node")
        return (self.values * weights).groupby(quarter.rename("quarter")).sum()

    def scenario_paths(self) -> xr.DataArray:
        """Leaf-to-root paths as (scenario, quarter, driver), with each scenario's probability as a coord."""
        nodes = self.nodes
        leaves = nodes[nodes.quarter == nodes.quarter.max()]
        data = self.values.to_numpy()[leaf_paths(nodes)]
        return xr.DataArray(
            data, dims=("scenario", "quarter", "driver"),
            coords={"scenario": np.arange(len(leaves)), "driver": self.values.driver.to_numpy(),
                    "probability": ("scenario", leaves.probability.to_numpy())},
        )


def _kmeans(points: FloatArray, k: int, iterations: int = 25) -> NDArray[np.int64]:
    """Deterministic k-means (quantile initialisation); returns a label per point, all k labels used."""
    n = len(points)
    if k >= n:
        return np.arange(n)
    order = np.argsort(points.mean(axis=1), kind="stable")
    centres = points[order[((np.arange(k) + 0.5) * n / k).astype(int)]]
    labels = np.zeros(n, dtype=np.int64)
    for _ in range(iterations):
        dist = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        new = dist.argmin(axis=1)
        counts = np.bincount(new, minlength=k)
        empty = np.flatnonzero(counts == 0)
        if len(empty):  # re-seed empty clusters with the points farthest from their centre
            far = np.argsort(dist[np.arange(n), new])[::-1][: len(empty)]
            new[far] = empty
            counts = np.bincount(new, minlength=k)
        if np.array_equal(new, labels) and _ > 0:
            break
        labels = new
        sums = np.zeros_like(centres)
        np.add.at(sums, labels, points)
        centres = sums / counts[:, None]
    return labels


def _allocate(total: int, weights: FloatArray, sizes: NDArray[np.int64]) -> NDArray[np.int64]:
    """Split ``total`` children among branches in proportion to ``weights`` (>= 1, <= branch size)."""
    raw = weights / weights.sum() * total
    alloc = np.clip(np.floor(raw).astype(np.int64), 1, sizes)
    while alloc.sum() < total and np.any(alloc < sizes):
        room = np.where(alloc < sizes, raw - alloc, -np.inf)
        alloc[np.argmax(room)] += 1
    while alloc.sum() > total and np.any(alloc > 1):
        excess = np.where(alloc > 1, alloc - raw, -np.inf)
        alloc[np.argmax(excess)] -= 1
    return alloc


def balanced_branching(leaves: int, stages: int) -> list[int]:
    """Children per node at each of ``stages`` branchings, as even as possible, whose product is
    ``leaves`` (e.g. 8 over 3 -> [2, 2, 2], 100 over 3 -> [4, 5, 5]); fewer children early."""
    factors: list[int] = []
    rest = leaves
    for left in range(stages, 0, -1):
        target = rest ** (1 / left)
        divisors = [d for d in range(1, rest + 1) if rest % d == 0]
        d = min(divisors, key=lambda x: (abs(np.log(x) - np.log(target)), x))
        factors.append(d)
        rest //= d
    return sorted(factors)


def reduce_to_tree(
    paths: FloatArray,
    branch_quarters: Sequence[int],
    leaves: int,
    drivers: Sequence[str] | None = None,
    balanced: bool = False,
) -> ScenarioTree:
    """Reduce sampled ``paths`` (paths x quarters x drivers) to a tree with ``leaves`` scenarios.

    Parameters
    ----------
    branch_quarters
        Quarter indices (0 < q < n_quarters) at which scenarios branch; uncertainty is revealed there.
    leaves
        Number of scenarios at the last quarter (at most the number of paths).
    balanced
        Every node of a stage gets the same number of children (:func:`balanced_branching`), as scenario
        decomposition on mpi-sppy needs; otherwise children follow each branch's share of paths.
    """
    paths = np.asarray(paths, dtype=float)
    if paths.ndim == 2:
        paths = paths[:, :, None]
    n_paths, n_q, n_d = paths.shape
    stages = sorted(set(int(q) for q in branch_quarters))
    for q in stages:
        if not 0 < q < n_q:
            raise InputError("branch_quarters", q, f"must be inside the horizon 1..{n_q - 1}")
    if not 1 <= leaves <= n_paths:
        raise InputError("leaves", leaves, f"must be between 1 and the number of paths ({n_paths})")
    if leaves > 1 and not stages:
        raise InputError("branch_quarters", list(branch_quarters), "needs at least one quarter for more than one leaf")
    if np.any(~np.isfinite(paths)) or np.any(paths < 0):
        raise InputError("paths", "negative or non-finite values", "must be finite and >= 0")
    names = list(drivers) if drivers is not None else [f"driver_{i}" for i in range(n_d)]

    # Standardised log trajectories are what clustering compares (log1p of the level relative to the
    # variable's mean, so zeros are allowed).
    mean = paths.reshape(-1, n_d).mean(axis=0)
    logs = np.log1p(paths / np.where(mean > 0, mean, 1.0))
    scale = logs.reshape(-1, n_d).std(axis=0)
    features_all = logs / np.where(scale > 0, scale, 1.0)

    # Branch membership per path, refined stage by stage.
    branch = np.zeros(n_paths, dtype=np.int64)
    n_stages = len(stages)
    membership = [branch.copy()]  # branch ids valid from each stage start
    factors = balanced_branching(leaves, n_stages) if balanced else []
    for s, q in enumerate(stages):
        end = stages[s + 1] if s + 1 < n_stages else n_q
        target = leaves if s == n_stages - 1 else max(1, round(leaves ** ((s + 1) / n_stages)))
        ids, sizes = np.unique(branch, return_counts=True)
        target = max(target, len(ids))
        alloc = (np.minimum(factors[s], sizes) if balanced
                 else _allocate(target, sizes.astype(float), sizes))
        new_branch = np.empty_like(branch)
        next_id = 0
        for bid, k in zip(ids, alloc, strict=True):
            members = np.flatnonzero(branch == bid)
            labels = _kmeans(features_all[members, q:end, :].reshape(len(members), -1), int(k))
            new_branch[members] = next_id + labels
            next_id += int(labels.max()) + 1
        branch = new_branch
        membership.append(branch.copy())

    # Nodes: for each quarter, one node per distinct branch valid then.
    starts = [0, *stages]
    stage_of_q = np.searchsorted(np.array(starts), np.arange(n_q), side="right") - 1
    rows: list[tuple[int, int, int, float, int]] = []
    values: list[FloatArray] = []
    node_of: dict[tuple[int, int], int] = {}
    path_nodes = np.empty((n_paths, n_q), dtype=np.int64)
    for q in range(n_q):
        member_branch = membership[stage_of_q[q]]
        ids, inverse, counts = np.unique(member_branch, return_inverse=True, return_counts=True)
        path_nodes[:, q] = len(rows) + inverse
        sums = np.zeros((len(ids), n_d))
        np.add.at(sums, inverse, paths[:, q, :])
        for j, bid in enumerate(ids):
            node = len(rows)
            node_of[(q, int(bid))] = node
            if q == 0:
                parent = -1
            else:
                prev_branch = membership[stage_of_q[q - 1]]
                first = np.flatnonzero(member_branch == bid)[0]
                parent = node_of[(q - 1, int(prev_branch[first]))]
            rows.append((node, parent, q, counts[j] / n_paths, int(counts[j])))
            values.append(sums[j] / counts[j])
    nodes = pd.DataFrame(rows, columns=["node", "parent", "quarter", "probability", "paths"])
    data = xr.DataArray(np.array(values), dims=("node", "driver"), coords={"node": nodes.node, "driver": names})
    return ScenarioTree(nodes=nodes, values=data, path_nodes=path_nodes)


def tree_from_scenarios(
    values: FloatArray, probabilities: FloatArray, drivers: Sequence[str] | None = None
) -> ScenarioTree:
    """A fan-shaped tree from given scenarios (scenarios x quarters x drivers) and their probabilities.

    Scenarios share one node per quarter until the first quarter where any of them differ, and have a
    node each from then on, so decisions before the scenarios part are common to all.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 2:
        values = values[:, :, None]
    n_s, n_q, n_d = values.shape
    probs = np.asarray(probabilities, dtype=float)
    if probs.shape != (n_s,) or np.any(probs < 0) or not np.isclose(probs.sum(), 1.0, atol=1e-6):
        raise InputError("probability", round(float(probs.sum()), 6),
                         "scenario probabilities must be >= 0 and sum to 1")
    same = np.all(np.isclose(values, values[:1]), axis=(0, 2))
    split = int(np.argmin(same)) if not same.all() else n_q
    rows: list[tuple[int, int, int, float, int]] = []
    path_nodes = np.empty((n_s, n_q), dtype=np.int64)
    for q in range(n_q):
        if q < split:
            path_nodes[:, q] = len(rows)
            rows.append((len(rows), len(rows) - 1 if q else -1, q, 1.0, n_s))
        else:
            for k in range(n_s):
                parent = int(path_nodes[k, q - 1]) if q else -1
                path_nodes[k, q] = len(rows)
                rows.append((len(rows), parent, q, float(probs[k]), 1))
    nodes = pd.DataFrame(rows, columns=["node", "parent", "quarter", "probability", "paths"])
    tree = ScenarioTree(nodes=nodes, values=xr.DataArray(np.zeros((len(nodes), n_d)), dims=("node", "driver")),
                        path_nodes=path_nodes, path_weights=probs)
    names = list(drivers) if drivers is not None else [f"driver_{i}" for i in range(n_d)]
    data = xr.DataArray(tree.aggregate(values), dims=("node", "driver"),
                        coords={"node": nodes.node, "driver": names})
    return ScenarioTree(nodes=nodes, values=data, path_nodes=path_nodes, path_weights=probs)
