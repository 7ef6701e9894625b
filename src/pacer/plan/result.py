"""The result of a plan: solver report, pacing decisions, expected trajectories and evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from pacer._result import Result, human, plain
from pacer.plan.problem import WORKLOADS, PlanProblem
from pacer.plan.solve import SolveOutcome
from pacer.scenario import Scenario

POLICIES = ("stochastic", "deterministic", "build_all", "never_build", "perfect_foresight")


def decision_table(problem: PlanProblem, outcome: SolveOutcome) -> pd.DataFrame:
    """One row per (project, node) where something is decided: advance, pace, pause or cancel.

    ``share`` is the share of the project concerned (cancellations may drop part of a campus);
    ``live_mw_added`` the capacity that goes live in that quarter.
    """
    d = outcome.decisions
    nodes = problem.nodes
    parent = nodes.parent.to_numpy()
    st = problem.pipeline.stages
    frame = problem.pipeline.frame
    has_parent = parent >= 0
    idx = np.maximum(parent, 0)
    keep_prev = np.where(has_parent[None, :], d.keep[:, idx], 1.0)
    prior = np.where(has_parent[None, None, :], d.completed[:, :, idx], st.completed_now.to_numpy()[:, :, None])
    step = np.clip(d.completed - prior, 0, None)
    work = (step * st.duration_quarters.to_numpy()[:, :, None]).sum(1)
    dropped = keep_prev - d.keep
    live_prev = prior[:, -1, :]
    unfinished = d.keep - live_prev
    action = np.full(d.keep.shape, "", dtype=object)
    building = (d.keep > 0.01) & (unfinished > 0.01) & (dropped <= 0.01)
    action[building & (work >= 0.99)] = "advance"
    action[building & (work > 0.01) & (work < 0.99)] = "pace"
    action[building & (work <= 0.01)] = "pause"
    action[dropped > 0.01] = "cancel"
    j, n = np.nonzero(action != "")
    stage = problem.pipeline.stage_of(prior.transpose(0, 2, 1).reshape(-1, prior.shape[1])).reshape(
        prior.shape[0], prior.shape[2])
    share = np.where(action == "cancel", dropped, np.where(action == "pause", unfinished, work))
    return pd.DataFrame({
        "project": frame.index.to_numpy()[j],
        "node": n,
        "quarter": np.array(problem.quarters)[nodes.quarter.to_numpy()[n]],
        "probability": nodes.probability.to_numpy()[n],
        "action": action[j, n].astype(str),
        "stage": stage[j, n],
        "share": share[j, n],
        "live_mw_added": (np.clip(d.completed[:, -1, :] - live_prev, 0, None)
                          * frame.power_mw.to_numpy()[:, None])[j, n],
    })


@dataclass(repr=False)
class PlanResult(Result):
    """A solved plan (``pacer.plan``)."""

    title = "pacing plan"

    scenario: Scenario
    problem: PlanProblem
    outcome: SolveOutcome
    decisions: pd.DataFrame
    dataset: xr.Dataset
    evaluation: dict[str, Any] = field(default_factory=dict)

    def projects_table(self) -> pd.DataFrame:
        """Per project: where it stands, what to do now, expected live and cancelled shares."""
        frame = self.problem.pipeline.frame
        d = self.outcome.decisions
        nodes = self.problem.nodes
        leaves = self.problem.leaves
        leaf_prob = nodes.probability.to_numpy()[leaves]
        root = int(nodes.node[nodes.parent < 0].iloc[0])
        dec = self.decisions
        now = dec[dec.node == root].set_index("project").action
        # Expected live share per quarter; the first quarter it reaches one half.
        q = nodes.quarter.to_numpy()
        expected = np.zeros((len(frame), q.max() + 1))
        np.add.at(expected.T, q, (d.completed[:, -1, :] * nodes.probability.to_numpy()[None, :]).T)
        reached = expected >= 0.5
        first = np.where(reached.any(1), reached.argmax(1), -1)
        quarters = np.array(self.problem.quarters)
        return pd.DataFrame({
            "region": frame.region, "power_mw": frame.power_mw, "ownership": frame.ownership,
            "stage_now": frame.stage,
            "action_now": [now.get(p, "operate" if frame.remaining_quarters[p] <= 0 else "hold") for p in frame.index],
            "expected_live_share_at_end": (d.completed[:, -1, leaves] * leaf_prob).sum(1),
            "expected_cancelled_share": ((1 - d.keep[:, leaves]) * leaf_prob).sum(1),
            "half_live_by": np.where(first >= 0, quarters[np.maximum(first, 0)], "-"),
        }, index=frame.index)

    @cached_property
    def in_sample(self) -> dict[str, float]:
        """Expected NPV and CVaR of NPV over the tree's own scenarios (the objective's parts)."""
        from pacer.demand.scenarios import leaf_paths
        from pacer.finance import cvar
        from pacer.plan.evaluate import simulate, tree_policy

        p = self.problem
        paths = leaf_paths(p.nodes)
        npv = simulate(p, tree_policy(self.outcome.decisions, paths), p.demand_kh100e[paths])["npv_usd"]
        prob = p.nodes.probability.to_numpy()[paths[:, -1]]
        return {"expected_npv_usd": float((npv * prob).sum()),
                "cvar_npv_usd": cvar(npv, p.cvar_alpha, weights=prob)}

    def to_dataset(self) -> xr.Dataset:
        return self.dataset.copy()

    def to_frame(self) -> pd.DataFrame:
        return self.decisions.copy()

    def to_dict(self) -> dict[str, Any]:
        """The ``pacer plan --json`` contract."""
        o = self.outcome
        ev = {k: v for k, v in self.evaluation.items() if not k.startswith("_")}
        table = self.projects_table().reset_index().rename(columns={"index": "project"})
        return plain({
            "scenario": self.scenario.name,
            "status": o.status,
            "objective_usd": o.objective_usd,
            "objective": "expected NPV + cvar_weight x CVaR of NPV over the tree's scenarios",
            "cvar_weight": self.problem.cvar_weight,
            "in_sample": self.in_sample,
            "bound_usd": o.bound_usd,
            "gap": o.mip_gap,
            "mip_gap": o.mip_gap,
            "engine": o.engine,
            "workers": o.workers,
            "build_seconds": o.build_seconds,
            "solve_seconds": o.solve_seconds,
            "nodes": len(self.problem.nodes),
            "projects": len(self.problem.pipeline.frame),
            "warning": None if o.status == "optimal" else
            f"plan not proven optimal ({o.status}): gap "
            + ("unknown" if o.mip_gap != o.mip_gap else f"{o.mip_gap:.2%}") + ", taken with --accept-gap",
            "decisions": self.decisions.to_dict("records"),
            "projects_table": table.to_dict("records"),
            "evaluation": ev,
            "facts": self.facts(),
        })

    @cached_property
    def fact_checks(self) -> list[Any]:
        """The scenario's reported facts that a plan can show (:func:`pacer.facts.check_facts`), read once."""
        from pacer.facts import check_facts

        return check_facts(self.scenario, self)

    def facts(self) -> list[dict[str, Any]]:
        return [f.to_dict() for f in self.fact_checks]

    def summary_rows(self) -> list[tuple[str, Any]]:
        o = self.outcome
        rows: list[tuple[str, Any]] = [
            ("scenario", self.scenario.name),
            ("status", o.status),
            ("objective", human(o.objective_usd, "USD")),
            ("in-sample expected NPV", human(self.in_sample["expected_npv_usd"], "USD")),
            ("gap", "unknown" if o.mip_gap != o.mip_gap else f"{o.mip_gap:.2%}"),
            ("build / solve (s)", f"{o.build_seconds:.1f} / {o.solve_seconds:.1f}"),
            ("tree nodes x projects", f"{len(self.problem.nodes)} x {len(self.problem.pipeline.frame)}"),
            ("engine", f"{o.engine} (workers {o.workers})"),
        ]
        for policy in POLICIES:
            if policy in self.evaluation:
                e = self.evaluation[policy]
                rows.append((f"{policy}: mean / CVaR NPV",
                             f"{human(e['mean_npv_usd'], 'USD')} / {human(e['cvar_npv_usd'], 'USD')}"))
        return rows


def plan_dataset(problem: PlanProblem, outcome: SolveOutcome) -> xr.Dataset:
    """Per-node quantities of the solved plan, from its decisions (whichever engine found them): each
    node's values are those of the leaf scenarios through it, by the evaluator's simulator."""
    from pacer.demand.scenarios import leaf_paths
    from pacer.plan.evaluate import simulate, tree_policy

    nodes = problem.nodes
    frame = problem.pipeline.frame
    projects = frame.index.to_list()
    region_of = xr.DataArray((frame.region.to_numpy()[:, None] == np.array(problem.regions)[None, :]).astype(float),
                             coords={"project": projects, "region": problem.regions}, dims=("project", "region"))
    power = xr.DataArray(frame.power_mw.to_numpy(), coords={"project": projects}, dims="project")
    d = outcome.decisions
    node_ids = nodes.node.to_numpy()
    node_coords = {"node": node_ids}
    keep = xr.DataArray(d.keep, coords={"project": projects, **node_coords}, dims=("project", "node"))
    completed = xr.DataArray(d.completed, coords={"project": projects,
                                                  "stage": problem.pipeline.stages.stage.to_numpy(), **node_coords},
                             dims=("project", "stage", "node"))
    live_share = completed.isel(stage=-1, drop=True)
    paths = leaf_paths(nodes)
    sim = simulate(problem, tree_policy(d, paths), problem.demand_kh100e[paths])
    # One (leaf, quarter) through each node: every leaf below a node has the same values there.
    leaf_of = np.empty(len(nodes), dtype=int)
    leaf_of[paths[:, ::-1].ravel()] = np.repeat(np.arange(len(paths)), paths.shape[1])
    q = nodes.quarter.to_numpy()
    at = lambda a: a[leaf_of, ..., q]  # noqa: E731  (node first, then the array's other dims)
    g, r, w = problem.generations.accelerator.to_list(), problem.regions, list(WORKLOADS)
    ds = xr.Dataset({
        "live_mw": (live_share * power * region_of).sum("project"),
        "kept_mw": (keep * power * region_of).sum("project"),
        "fleet_kgpu": (("generation", "region", "node"), np.moveaxis(at(sim["fleet_kgpu"]), 0, -1)),
        "buy_kgpu": (("generation", "region", "node"), d.buy_kgpu),
        "own_kh100e": (("workload", "region", "node"), np.moveaxis(at(sim["own_kh100e"]), 0, -1).transpose(1, 0, 2)),
        "third_party_kh100e": (("workload", "region", "node"),
                               np.moveaxis(at(sim["third_party_kh100e"]), 0, -1).transpose(1, 0, 2)),
        "unserved_kh100e": (("workload", "region", "node"),
                            np.moveaxis(at(sim["unserved_kh100e"]), 0, -1).transpose(1, 0, 2)),
        "keep": keep,
        "completed": completed,
        "cash_flow_usd": ("node", sim["cash_flow_usd"][leaf_of, q]),
    }, coords={"generation": g, "region": r, "workload": w, **node_coords})
    return ds.assign_coords(quarter=("node", np.array(problem.quarters)[q]),
                            probability=("node", nodes.probability.to_numpy()),
                            parent=("node", nodes.parent.to_numpy()))
