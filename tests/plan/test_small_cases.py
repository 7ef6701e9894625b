"""Small planning cases with known answers, and properties of the planner."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from pacer.catalog import get_accelerator, load_facilities
from pacer.demand import forecast
from pacer.demand.scenarios import leaf_paths
from pacer.errors import PacerError, UnprovenPlanError
from pacer.plan import build_problem, plan, solve_problem
from pacer.plan.evaluate import mean_chain_nodes_and_demand, simulate, tree_policy
from pacer.plan.problem import HOURS_PER_QUARTER, PlanProblem
from pacer.plan.solve import check_proven
from pacer.scenario import parse_scenario

from .conftest import mini


def _problem(raw, base_dir=".") -> PlanProblem:
    s = parse_scenario(raw, base_dir)
    return build_problem(s, forecast(s))


def _leaf_paths(problem: PlanProblem) -> np.ndarray:
    return leaf_paths(problem.nodes)


def in_sample_npv(problem: PlanProblem, decisions) -> float:
    """Expected NPV of tree decisions, by the evaluator's simulator on the tree's own scenarios."""
    paths = _leaf_paths(problem)
    sim = simulate(problem, tree_policy(decisions, paths), problem.demand_kh100e[paths])
    return float((sim["npv_usd"] * problem.nodes.probability.to_numpy()[problem.leaves]).sum())


def test_simulator_reproduces_the_objective():
    problem = _problem(mini())
    outcome = solve_problem(problem)
    assert outcome.status == "optimal" and outcome.mip_gap <= 1e-7
    assert in_sample_npv(problem, outcome.decisions) == pytest.approx(outcome.objective_usd, rel=1e-7)


def test_hand_solved_one_project_two_scenarios(tmp_path):
    """docs/formulation.md, 'A case solved by hand': wait, then build only where demand appears."""
    (tmp_path / "demand.csv").write_text(
        "scenario,probability,quarter,region,workload,gpus_h100e\n"
        "high,0.5,2025Q1,us,inference,0\nhigh,0.5,2025Q2,us,inference,20000\n"
        "low,0.5,2025Q1,us,inference,0\nlow,0.5,2025Q2,us,inference,0\n")
    raw = mini(horizon={"start": "2025Q1", "end": "2025Q2"},
               roadmap=[{"accelerator": "h100-sxm", "available": "2025Q1"}])
    raw["demand"] = {"table": "demand.csv", "uncertainty": {"paths": 2, "leaves": 2}}
    raw["provider"].update(discount_rate=0.0, facility_residual_fraction=0.0)
    raw["provider"]["economics"] = {
        "revenue_usd_per_h100e_hour": {"training": 2.5, "inference": 2.5},
        "third_party_usd_per_h100e_hour": {"training": 100.0, "inference": 100.0},
        "power_usd_per_mwh": 0.0}
    raw["provider"]["projects"] = [{
        "id": "p1", "region": "us", "power_mw": 10, "ownership": "owned", "stage": "fit-out",
        "stages": {"fit-out": {"duration_quarters": 1, "spend_usd_per_mw": 1.0e6, "cancel_fee_usd_per_mw": 0}},
        "hold_usd_per_mw_quarter": 0}]
    problem = _problem(raw, tmp_path)
    outcome = solve_problem(problem)
    # 10 MW hosts 10 / (IT MW per GPU x PUE) H100s: fewer than the 20,000 demanded, so all are used.
    h100 = get_accelerator("h100-sxm")
    it_mw = h100.server_power_per_accelerator_w * (1 + load_facilities().network_storage_overhead.value) / 1e6
    gpus = 10 / (it_mw * 1.2)
    revenue = gpus * HOURS_PER_QUARTER * 2.5  # served for one quarter
    spend, opex = 10 * 1.0e6, 10 * 60_000  # fit-out of 10 MW; one quarter of owned operations
    assert outcome.objective_usd == pytest.approx(0.5 * (revenue - spend - opex), rel=1e-6)
    d = outcome.decisions
    root, high, low = 0, *problem.leaves
    if problem.demand_kh100e[high].sum() < problem.demand_kh100e[low].sum():
        high, low = low, high
    assert d.completed[0, -1, root] == pytest.approx(0, abs=1e-6)  # wait at the root
    assert d.completed[0, -1, high] == pytest.approx(1, abs=1e-6)  # build where demand appears
    assert d.completed[0, -1, low] == pytest.approx(0, abs=1e-6)
    # Building at once would be worse: the option to wait is worth spend + opex/2 here.
    build_now = 0.5 * revenue - spend - 2 * opex
    assert outcome.objective_usd > build_now


def test_cancellation_fee_above_any_loss_never_cancels():
    raw = mini()
    raw["demand"]["inference"][0]["tokens_per_day"] = 1e9  # almost no demand: the lease is not needed
    cheap = solve_problem(_problem(raw)).decisions.keep
    assert cheap[2].min() < 0.5  # with its default (small) pre-lease fee the lease is dropped
    raw["provider"]["projects"][2]["stages"] = {s: {"cancel_fee_usd_per_mw": 1e12} for s in
                                                ("land", "permits", "shell", "power", "fit-out")}
    costly = solve_problem(_problem(raw)).decisions.keep
    assert np.allclose(costly[2], 1.0, atol=1e-6)  # a fee above any possible loss: never dropped


def test_certain_demand_stochastic_equals_deterministic():
    raw = mini()
    raw["demand"]["drivers"] = {
        "training_compute": {"annual_growth": 1.0, "annual_volatility": 0.0},
        "tokens_served": {"annual_growth": 1.0, "annual_volatility": 0.0},
        "algorithmic_efficiency": {"annual_growth": 0.3, "annual_volatility": 0.0}}
    problem = _problem(raw)
    stochastic = solve_problem(problem)
    nodes, mean = mean_chain_nodes_and_demand(problem)
    deterministic = solve_problem(problem.with_demand(nodes, mean))
    assert stochastic.objective_usd == pytest.approx(deterministic.objective_usd, rel=1e-7)
    # Every leaf of the tree carries the same demand: the tree plan is the same plan on each path.
    leaf_paths = _leaf_paths(problem)
    np.testing.assert_allclose(stochastic.decisions.keep[:, leaf_paths[0]], deterministic.decisions.keep, atol=1e-6)


def test_higher_cvar_weight_never_raises_expected_npv():
    problem = _problem(mini())
    values = []
    for weight in (0.0, 0.5, 2.0, 8.0):
        outcome = solve_problem(problem.with_cvar_weight(weight))
        values.append(in_sample_npv(problem, outcome.decisions))
    assert all(b <= a * (1 + 1e-7) + 1e-3 for a, b in itertools.pairwise(values)), values


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("provider", "projects", 1, "power_mw"), -5, "provider.projects[1].power_mw: Input should be greater than 0"),
        (("provider", "projects", 1, "stages"), {"foundations": {"duration_quarters": 2}},
         "provider.projects[1].stages: unknown stage 'foundations'"),
        (("provider", "projects", 1, "stages"), {"shell": {"duration_quarters": -1}},
         "provider.projects[1].stages.shell.duration_quarters: Input should be greater than or equal to 0"),
        (("provider", "projects", 2, "lease"), None, "a leased project needs lease.rent_usd_per_kw_month"),
        (("provider", "projects", 1, "stage"), "roof", "provider.projects[1].stage: Input should be"),
        (("provider", "projects", 1, "region"), "mars", "provider.projects[1].region: unknown region"),
    ],
)
def test_bad_pipeline_input(path, value, message):
    raw = mini()
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(PacerError) as info:
        parse_scenario(raw)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_time_out_is_never_a_plan():
    with pytest.raises(UnprovenPlanError, match=r"plan not proven: status time_limit.*raise --time-limit") as exc:
        plan(parse_scenario(mini()), evaluate_out_of_sample=False, time_limit_s=1e-4)
    assert exc.value.exit_code == 3


def test_gap_must_be_proven_or_accepted():
    """A plan whose certified gap exceeds planning.mip_gap is refused, unless the user accepts that gap."""
    outcome = solve_problem(_problem(mini()))
    assert check_proven(outcome, 0.01) == "optimal"
    outcome.status, outcome.mip_gap = "time_limit", 0.03
    with pytest.raises(UnprovenPlanError, match=r"best gap 3.00% \(asked 1.00%\).*--accept-gap"):
        check_proven(outcome, 0.01)
    assert check_proven(outcome, 0.01, accept_gap=0.05) == "accepted_gap"
    with pytest.raises(UnprovenPlanError):
        check_proven(outcome, 0.01, accept_gap=0.02)
    outcome.mip_gap = float("nan")  # unknown gap: never accepted
    with pytest.raises(UnprovenPlanError, match="best gap unknown"):
        check_proven(outcome, 0.01, accept_gap=0.5)


def test_bound_is_the_dual_objective():
    """The certified bound comes from the duals: it is at least the objective and within tolerance of it."""
    outcome = solve_problem(_problem(mini()), method="ipm")
    assert outcome.bound_usd >= outcome.objective_usd
    assert outcome.mip_gap <= 1e-7
    simplex = solve_problem(_problem(mini()), method="simplex")
    assert simplex.objective_usd == pytest.approx(outcome.objective_usd, rel=1e-6)


def test_infeasible_fleet_is_explained_in_user_terms():
    raw = mini()
    raw["provider"]["fleet"] = [{"accelerator": "h100-sxm", "region": "us", "gpus": 1_000_000, "bought": "2025Q1"}]
    with pytest.raises(PacerError, match=r"provider.fleet: the GPUs owned and ordered in region us need .* MW at "
                       r"2025Q1 but at most 50 MW can be live there by then"):
        plan(parse_scenario(raw), evaluate_out_of_sample=False)


ORDER = {"accelerator": "b200", "region": "us", "gpus": 30_000, "bought": "2026Q1"}


def test_committed_order_is_bought_in_its_quarter_on_every_scenario():
    """A fleet entry bought inside the horizon is a committed order: at least that many GPUs arrive (and are
    paid for) in its quarter on every branch, age from then and retire a GPU life later; the evaluator's
    simulator still reproduces the objective."""
    free = solve_problem(_problem(mini()))
    free_buys = free.decisions.buy_kgpu
    raw = mini()
    raw["provider"]["fleet"] = [ORDER]
    problem = _problem(raw)
    k = problem.quarters.index("2026Q1")
    b200 = problem.generations.accelerator.to_list().index("b200")
    assert problem.orders_kgpu.sum() == pytest.approx(30) and problem.orders_kgpu[b200, 0, k] == pytest.approx(30)
    at_order = problem.nodes.quarter.to_numpy() == k
    assert free_buys[b200, 0, at_order].max() < 30  # the order binds: unconstrained, fewer are bought then
    outcome = solve_problem(problem)
    buys = outcome.decisions.buy_kgpu
    assert (buys[b200, 0, at_order] >= 30 - 1e-6).all()
    assert outcome.objective_usd < free.objective_usd  # a binding commitment costs value
    assert in_sample_npv(problem, outcome.decisions) == pytest.approx(outcome.objective_usd, rel=1e-7)


def test_committed_order_rolls_forward_and_survives_rules():
    from pacer.plan.evaluate import rule_policy
    from pacer.plan.problem import roll_forward

    raw = mini()
    raw["provider"]["fleet"] = [ORDER]
    problem = _problem(raw)
    k = problem.quarters.index("2026Q1")
    for build in (True, False):
        assert rule_policy(problem, len(problem.quarters), build=build).buy_kgpu[:, 0, k].sum() >= 30 - 1e-9
    chain = problem.with_demand(*mean_chain_nodes_and_demand(problem))
    d = solve_problem(chain).decisions
    later = roll_forward(chain, d.keep, d.completed, d.buy_kgpu, 2)
    assert later.quarters[k - 2] == "2026Q1" and later.orders_kgpu[:, 0, k - 2].sum() == pytest.approx(30)


@pytest.mark.parametrize(("order", "field", "message"), [
    ({"bought": "2028Q1"}, "provider.fleet[0].bought", "at or before the horizon end 2027Q4"),
    ({"bought": "2025Q2"}, "provider.fleet[0].bought", "b200 is on the roadmap only from 2025Q3"),
    ({"accelerator": "a100-80gb", "bought": "2025Q3"}, "provider.fleet[0].accelerator", "roadmap accelerator"),
])
def test_bad_committed_order_is_one_line(order, field, message):
    raw = mini()
    raw["provider"]["fleet"] = [ORDER | order]
    with pytest.raises(PacerError, match=re.escape(field) + ".*" + re.escape(message)):
        parse_scenario(raw)


def test_orders_beyond_what_can_be_live_are_explained():
    raw = mini()
    raw["provider"]["fleet"] = [ORDER | {"gpus": 1_000_000}]
    with pytest.raises(PacerError, match=r"ordered in region us need .* MW at 2026Q1 but at most [0-9,]+ MW can"):
        plan(parse_scenario(raw), evaluate_out_of_sample=False)


def test_projects_from_csv(tmp_path):
    (tmp_path / "projects.csv").write_text(
        "id,region,power_mw,ownership,stage,rent_usd_per_kw_month\n"
        "csv-1,us,120,leased,permits,140\ncsv-2,us,80,owned,shell,\n")
    raw = mini()
    raw["provider"]["projects_csv"] = "projects.csv"
    s = parse_scenario(raw, tmp_path)
    ids = [p.id for p in s.provider.projects]
    assert ids[-2:] == ["csv-1", "csv-2"] and s.provider.projects[-2].lease.rent_usd_per_kw_month == 140
    (tmp_path / "bad.csv").write_text("id,region,power_mw,ownership,stage\nx,us,-3,owned,land\n")
    raw["provider"]["projects_csv"] = "bad.csv"
    with pytest.raises(PacerError, match=r"provider.projects\[3\].power_mw"):
        parse_scenario(raw, tmp_path)


def test_result_reports_expected_npv_apart_from_the_risk_term():
    raw = mini()
    risk_neutral = plan(parse_scenario(raw), evaluate_out_of_sample=False).to_dict()
    assert risk_neutral["in_sample"]["expected_npv_usd"] == pytest.approx(risk_neutral["objective_usd"], rel=1e-7)
    averse = plan(parse_scenario(raw), evaluate_out_of_sample=False, cvar_weight=1.0).to_dict()
    expected, tail = averse["in_sample"]["expected_npv_usd"], averse["in_sample"]["cvar_npv_usd"]
    assert averse["objective_usd"] == pytest.approx(expected + 1.0 * tail, rel=1e-6)
    assert expected <= risk_neutral["in_sample"]["expected_npv_usd"] * (1 + 1e-9)


def test_solver_progress_reads_iterations_and_the_interior_point_gap(tmp_path):
    """The plan's progress during a solve comes from HiGHS's log (a file, never stdout): iterations so far
    and, for interior point, the gap between the primal and dual objectives."""
    from pacer.plan.solve import SolverProgress

    heard: list[str] = []
    progress = SolverProgress(heard.append, period_s=0.05)
    assert progress.summary() == ""  # nothing solved yet
    progress.path.write_text("Running IPX\n Iter  P.res  D.res  P.obj  D.obj  mu  Time\n"
                             "   0   1.2e+03  4.0e+01   1.00000000e+03  5.00000000e+02  1.0e+04    0s\n"
                             "  12   1.2e-03  4.0e-05   1.00000000e+03  9.90000000e+02  1.0e-02    1s\n")
    assert progress.summary().startswith("solver: 12 iterations") and "primal-dual gap 1.0%" in progress.summary()
    with progress:
        import time

        time.sleep(0.3)
    assert heard and heard[0].startswith("solver: 12 iterations") and len(set(heard)) == len(heard)
    assert not progress.path.exists()  # the log is removed after the solve
    simplex = SolverProgress(heard.append)
    simplex.path.write_text("  Iteration        Objective     Infeasibilities num(sum)\n"
                            "          0    -2.7e+03 Ph1: 3(5.1); Du: 1(0.2) 0s\n"
                            "       1234     5.6e+02 Pr: 0(0); Du: 0(1e-12) 1s\n")
    assert simplex.summary().startswith("solver: 1,234 iterations") and "gap" not in simplex.summary()
    simplex.path.unlink()


def _signed(commences: str) -> dict:
    raw = mini()
    raw["provider"]["projects"][2]["lease"]["commences"] = commences  # land-1: leased, 10 quarters of work
    return raw


def test_signed_lease_is_live_from_its_commencement_on_every_branch():
    """A lease with a commencement date holds its project live from that quarter whatever demand does: the
    planner cannot release or delay it, and the never-build rule keeps it too."""
    from pacer.plan.evaluate import rule_policy

    free = solve_problem(_problem(mini()))
    problem = _problem(_signed("2027Q3"))
    j = problem.pipeline.frame.index.get_loc("land-1")
    k = problem.quarters.index("2027Q3")
    late = problem.nodes.quarter.to_numpy() >= k
    assert free.decisions.completed[j, -1, late].min() < 1 - 1e-6  # unconstrained, it is not all live then
    outcome = solve_problem(problem)
    assert (outcome.decisions.completed[j, -1, late] >= 1 - 1e-6).all()
    assert (outcome.decisions.keep[j] >= 1 - 1e-6).all()
    assert outcome.objective_usd <= free.objective_usd
    assert in_sample_npv(problem, outcome.decisions) == pytest.approx(outcome.objective_usd, rel=1e-7)
    never = rule_policy(problem, len(problem.quarters), build=False)
    assert never.keep[j].min() == 1 and never.completed[j, -1, k] == pytest.approx(1)


@pytest.mark.parametrize(("commences", "message"), [
    ("2026Q1", "project land-1 has 10 quarters of work left at full pace: too many to be live by then"),
    ("2028Q2", "must be at or before the horizon end 2027Q4"),
])
def test_bad_signed_lease_is_one_line(commences, message):
    with pytest.raises(PacerError, match=re.escape("provider.projects[2].lease.commences") + ".*" + re.escape(message)):
        _problem(_signed(commences))


def test_a_lease_date_needs_a_leased_project():
    raw = mini()
    raw["provider"]["projects"][1]["lease"] = {"rent_usd_per_kw_month": 150, "commences": "2026Q1"}
    with pytest.raises(PacerError, match=r"provider.projects\[1\].*needs ownership: leased"):
        parse_scenario(raw)
