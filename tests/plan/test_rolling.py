"""Rolling a plan forward: the state carried to a later quarter reproduces the rest of the plan."""

from __future__ import annotations

import numpy as np
import pytest

from pacer.demand import forecast
from pacer.errors import PacerError
from pacer.pipeline.projects import KEEP_TOLERANCE
from pacer.plan import build_problem, solve_problem
from pacer.plan.evaluate import PathDecisions, mean_chain_nodes_and_demand, simulate
from pacer.plan.problem import roll_forward
from pacer.scenario import parse_scenario

from .conftest import mini


@pytest.fixture(scope="module")
def chain_plan():
    raw = mini()
    raw["provider"]["fleet"] = [{"accelerator": "h100-sxm", "region": "us", "gpus": 8000, "bought": "2024Q2"}]
    s = parse_scenario(raw)
    problem = build_problem(s, forecast(s))
    nodes, demand = mean_chain_nodes_and_demand(problem)
    chain = problem.with_demand(nodes, demand)
    return chain, solve_problem(chain).decisions


@pytest.mark.parametrize("n", [1, 3, 6])
def test_rolled_problem_reproduces_the_rest_of_the_plan(chain_plan, n):
    problem, d = chain_plan
    whole = simulate(problem, PathDecisions(d.keep[None], d.completed[None], d.buy_kgpu[None]),
                     problem.demand_kh100e[None])
    rolled = roll_forward(problem, d.keep, d.completed, d.buy_kgpu, n)
    share = d.keep[:, n - 1]
    alive = share > KEEP_TOLERANCE
    keep = d.keep[alive, n:] / share[alive, None]
    completed = d.completed[alive, :, n:] / share[alive, None, None]
    rest = simulate(rolled, PathDecisions(keep[None], completed[None], d.buy_kgpu[None, ..., n:]),
                    rolled.demand_kh100e[None])
    np.testing.assert_allclose(rest["cash_flow_usd"][0], whole["cash_flow_usd"][0, n:], rtol=1e-7, atol=1.0)
    assert rolled.quarters == problem.quarters[n:]
    assert rolled.pipeline.frame.power_mw.sum() == pytest.approx((share * problem.pipeline.frame.power_mw).sum())


def test_rolled_problem_solves_and_keeps_what_is_live(chain_plan):
    problem, d = chain_plan
    rolled = roll_forward(problem, d.keep, d.completed, d.buy_kgpu, 4)
    outcome = solve_problem(rolled)
    assert outcome.status == "optimal"
    live = rolled.pipeline.stages.completed_now.to_numpy()[:, -1] > 1 - 1e-9
    assert (outcome.decisions.keep[live, -1] > 1 - 1e-6).all()  # nobody cancels a live campus here


def test_roll_past_the_horizon_is_an_error(chain_plan):
    problem, d = chain_plan
    with pytest.raises(PacerError):
        roll_forward(problem, d.keep, d.completed, d.buy_kgpu, len(problem.quarters))


def test_only_a_chain_plan_rolls_forward():
    s = parse_scenario(mini())
    tree = build_problem(s, forecast(s))
    d = solve_problem(tree).decisions
    with pytest.raises(PacerError, match="only a single-path"):
        roll_forward(tree, d.keep, d.completed, d.buy_kgpu, 1)
