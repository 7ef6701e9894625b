"""Acceptance on the seed example: solved to <= 1% gap; out of sample the stochastic plan beats planning to
the mean and building everything, and stays under perfect foresight; after the downshift it drops
early-stage options and keeps live and late-stage capacity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SEED = Path(__file__).resolve().parents[2] / "examples" / "seed-2025" / "scenario.yaml"


@pytest.fixture(scope="module")
def seed_plan(seed_plan_result):
    return seed_plan_result


def test_solved_within_gap_and_time(seed_plan):
    data = seed_plan.to_dict()
    assert data["status"] == "optimal"
    assert data["mip_gap"] <= 0.01
    assert data["projects"] == 40 and data["build_seconds"] < 10


def test_json_contract(seed_plan):
    data = seed_plan.to_dict()
    assert {"status", "objective_usd", "mip_gap", "solve_seconds", "decisions", "evaluation"} <= set(data)
    assert {"project", "node", "quarter", "action"} <= set(data["decisions"][0])
    assert {d["action"] for d in data["decisions"]} >= {"advance", "pause", "cancel"}
    for policy in ("stochastic", "deterministic", "build_all", "perfect_foresight"):
        assert {"mean_npv_usd", "cvar_npv_usd"} <= set(data["evaluation"][policy])


def test_stochastic_beats_simple_policies_out_of_sample(seed_plan):
    ev = seed_plan.evaluation
    assert ev["stochastic"]["mean_npv_usd"] >= ev["deterministic"]["mean_npv_usd"]
    assert ev["stochastic"]["mean_npv_usd"] >= ev["build_all"]["mean_npv_usd"]
    same = ev["same_paths_mean_npv_usd"]
    assert same["stochastic"] <= same["perfect_foresight"]
    assert ev["value_of_stochastic_solution_usd"] >= 0
    assert ev["expected_value_of_perfect_information_usd"] >= 0


def test_downshift_drops_early_options_keeps_late_capacity(seed_plan):
    table = seed_plan.projects_table()
    late = table[table.stage_now.isin(["live", "fit-out", "power"])]
    early = table[table.stage_now.isin(["land", "permits"])]
    frame = seed_plan.problem.pipeline.frame
    owned_or_signed = (frame.ownership == "owned") | (frame.commences != "")
    assert late[owned_or_signed.reindex(late.index)].expected_cancelled_share.max() < 0.05
    # A live lease without a date may be broken (24 months of rent) when demand is low and the signed leases
    # arrive, never in most scenarios.
    assert late.expected_cancelled_share.max() < 0.3
    assert early.expected_cancelled_share.mean() > 0.2
    # In the lowest-demand scenario more MW is dropped than in the highest.
    problem = seed_plan.problem
    leaves = problem.leaves
    demand = problem.demand_kh100e[leaves].sum((1, 2))
    kept_mw = (seed_plan.outcome.decisions.keep[:, leaves] * problem.pipeline.frame.power_mw.to_numpy()[:, None]).sum(0)
    assert kept_mw[np.argmin(demand)] < kept_mw[np.argmax(demand)]
