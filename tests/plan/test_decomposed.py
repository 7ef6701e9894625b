"""The decomposed engine: mpi-sppy (PH hub, Lagrangian bound spoke, xhatshuffle incumbent) under MPI."""

from __future__ import annotations

import numpy as np
import pytest

from pacer.demand import forecast
from pacer.demand.scenarios import balanced_branching, leaf_paths, reduce_to_tree
from pacer.plan import build_problem, plan, solve_problem
from pacer.plan.decompose import tree_stages
from pacer.plan.evaluate import simulate, tree_policy
from pacer.scenario import parse_scenario

from .conftest import mini

pytest.importorskip("mpisppy", reason="mpi-sppy is an extra: pip install -e '.[mpi]' (make test installs it)")


def _three_stage() -> dict:
    raw = mini()
    raw["demand"]["uncertainty"] = {"paths": 200, "leaves": 4, "branch_quarters": ["2025Q3", "2026Q2"], "seed": 1}
    return raw


@pytest.mark.parametrize(("leaves", "stages", "factors"), [(8, 3, [2, 2, 2]), (100, 3, [4, 5, 5]),
                                                           (24, 3, [2, 3, 4]), (6, 1, [6])])
def test_balanced_branching(leaves, stages, factors):
    assert balanced_branching(leaves, stages) == factors


def test_balanced_tree_has_the_same_children_everywhere():
    rng = np.random.default_rng(0)
    paths = np.exp(np.cumsum(rng.normal(0, 0.2, size=(300, 12, 2)), axis=1))
    tree = reduce_to_tree(paths, [3, 6], 6, balanced=True)
    stages = tree_stages(tree.nodes)
    assert stages.branching_factors == [2, 3] and stages.branch_quarters == [3, 6]
    assert [len(n) for n in stages.stage_names] == [2] * 6
    assert stages.stage_names[0] == ["ROOT", "ROOT_0"] and stages.stage_names[-1] == ["ROOT", "ROOT_1"]
    assert np.allclose([np.prod(c) for c in stages.cond_prob],
                       tree.nodes.probability.to_numpy()[stages.paths[:, 3]])


def test_unbalanced_tree_is_refused_for_decomposition():
    s = parse_scenario(_three_stage())
    nodes = build_problem(s, forecast(s, leaves=5)).nodes  # 5 leaves over 2 stages cannot be balanced
    with pytest.raises(Exception, match="engine: needs a balanced tree"):
        tree_stages(nodes)


def _with_order() -> dict:
    raw = _three_stage()
    raw["provider"]["fleet"] = [{"accelerator": "b200", "region": "us", "gpus": 30_000, "bought": "2026Q1"}]
    return raw


@pytest.mark.parametrize("raw", [mini(), _three_stage(), _with_order()],
                         ids=["two-stage", "three-stage", "committed-order"])
def test_decomposed_plan_brackets_the_extensive_optimum(raw):
    """The Lagrangian bound is above the exact optimum, the incumbent below it and within the gap, and the
    incumbent's decisions (read back onto the tree) are worth what mpi-sppy says they are."""
    s = parse_scenario(raw)
    result = plan(s, engine="decomposed", evaluate_out_of_sample=False, time_limit_s=240)
    o = result.outcome
    assert o.engine == "decomposed" and o.status == "optimal"
    exact = solve_problem(result.problem).objective_usd  # the same (balanced) tree, one LP
    assert o.bound_usd >= exact - 1e-6 * abs(exact)
    assert o.objective_usd <= exact + 1e-6 * abs(exact)
    assert o.mip_gap <= s.provider.planning.mip_gap
    p = result.problem
    paths = leaf_paths(p.nodes)
    npv = simulate(p, tree_policy(o.decisions, paths), p.demand_kh100e[paths])["npv_usd"]
    in_sample = float((npv * p.nodes.probability.to_numpy()[p.leaves]).sum())
    assert in_sample == pytest.approx(o.objective_usd, rel=1e-5)
    data = result.to_dict()
    assert data["engine"] == "decomposed" and data["bound_usd"] >= data["objective_usd"]
    ordered = p.orders_kgpu[:, :, p.nodes.quarter.to_numpy()]  # the floor at every node: kept in the LP files
    assert (o.decisions.buy_kgpu >= ordered - 1e-6).all()
