"""The result of a plan: solver report, pacing decisions, expected trajectories and evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from pacer._result import Result, plain
from pacer.plan.problem import PlanProblem
from pacer.plan.solve import SolveOutcome
from pacer.scenario import Scenario

POLICIES = ("stochastic", "deterministic", "build_all", "never_build", "perfect_foresight")


def decision_table(problem: PlanProblem, outcome: SolveOutcome) -> pd.DataFrame:
    """One row per (project, node) where something is decided: advance, pace, pause, cancel, live."""
    d = outcome.decisions
    nodes = problem.nodes
    parent = nodes.parent.to_numpy()
    frame = problem.pipeline.frame
    live_now = (frame.remaining_quarters.to_numpy() <= 0).astype(float)[:, None]
    has_parent = parent >= 0
    pick = lambda a, root: np.where(has_parent[None, :], a[:, np.maximum(parent, 0)], root)  # noqa: E731
    keep_prev = pick(d.keep, 1.0)
    done_prev = pick(d.done, live_now)
    progress = np.cumsum(d.advance[:, np.argsort(nodes.quarter.to_numpy(), kind="stable")], axis=1)  # placeholder
    del progress
    # Progress at each node's parent, along the tree.
    prog = np.zeros_like(d.advance)
    order = np.argsort(nodes.quarter.to_numpy(), kind="stable")
    for n in order:  # tree order; one pass over nodes
        prog[:, n] = d.advance[:, n] + (prog[:, parent[n]] if parent[n] >= 0 else 0.0)
    prog_prev = pick(prog, 0.0)
    action = np.full(d.advance.shape, "", dtype=object)
    cancelled = (keep_prev > 0.5) & (d.keep < 0.5)
    operating = done_prev > 0.5
    went_live = (d.done > 0.5) & ~operating
    kept = d.keep > 0.5
    action[kept & ~operating & ~went_live & (d.advance >= 0.99)] = "advance"
    action[kept & ~operating & ~went_live & (d.advance > 0.01) & (d.advance < 0.99)] = "pace"
    action[kept & ~operating & ~went_live & (d.advance <= 0.01)] = "pause"
    action[went_live] = "live"
    action[cancelled] = "cancel"
    j, n = np.nonzero(action != "")
    ids = frame.index.to_numpy()
    return pd.DataFrame({
        "project": ids[j],
        "node": n,
        "quarter": np.array(problem.quarters)[nodes.quarter.to_numpy()[n]],
        "probability": nodes.probability.to_numpy()[n],
        "action": action[j, n].astype(str),
        "stage": [problem.pipeline.stage_at(ids[a], prog_prev[a, b]) for a, b in zip(j, n, strict=True)],
        "advance": d.advance[j, n],
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
        """Per project: where it stands, what to do now, chance of going live or being dropped."""
        frame = self.problem.pipeline.frame
        d = self.outcome.decisions
        nodes = self.problem.nodes
        leaves = self.problem.leaves
        leaf_prob = nodes.probability.to_numpy()[leaves]
        root = int(nodes.node[nodes.parent < 0].iloc[0])
        dec = self.decisions
        now = dec[dec.node == root].set_index("project").action
        live_rows = dec[dec.action == "live"]
        weights = live_rows.probability.to_numpy()
        live_q = pd.PeriodIndex(live_rows.quarter, freq="Q")
        ordinal = pd.Series(live_q.asi8 if hasattr(live_q, "asi8") else [q.ordinal for q in live_q],
                            index=live_rows.index)
        expected_live = {}
        for project, rows in live_rows.groupby("project"):
            w = rows.probability.to_numpy()
            mean_ordinal = int(round(float((ordinal[rows.index] * w).sum() / w.sum())))
            expected_live[project] = str(pd.Period(ordinal=mean_ordinal, freq="Q"))
        del weights
        return pd.DataFrame({
            "region": frame.region, "power_mw": frame.power_mw, "ownership": frame.ownership,
            "stage_now": frame.stage,
            "action_now": [("operate" if frame.remaining_quarters[p] <= 0 else now.get(p, "")) if now.get(p, "")
                           != "cancel" else "cancel" for p in frame.index],
            "p_live_at_end": (d.done[:, leaves] * leaf_prob).sum(1),
            "p_cancelled": ((1 - d.keep[:, leaves]) * leaf_prob).sum(1),
            "expected_live_quarter": [expected_live.get(p, "-") if frame.remaining_quarters[p] > 0 else "now"
                                      for p in frame.index],
        }, index=frame.index)

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
            "bound_usd": o.bound_usd,
            "mip_gap": o.mip_gap,
            "build_seconds": o.build_seconds,
            "solve_seconds": o.solve_seconds,
            "nodes": len(self.problem.nodes),
            "projects": len(self.problem.pipeline.frame),
            "warning": None if o.status == "optimal" else
            f"solver stopped at {o.status}: best plan found, gap {o.mip_gap:.2%}",
            "decisions": self.decisions.to_dict("records"),
            "projects_table": table.to_dict("records"),
            "evaluation": ev,
        })

    def summary_rows(self) -> list[tuple[str, Any]]:
        o = self.outcome
        rows: list[tuple[str, Any]] = [
            ("scenario", self.scenario.name),
            ("status", o.status),
            ("expected NPV (USD bn)", o.objective_usd / 1e9),
            ("MIP gap", f"{o.mip_gap:.2%}"),
            ("build / solve (s)", f"{o.build_seconds:.1f} / {o.solve_seconds:.1f}"),
            ("tree nodes x projects", f"{len(self.problem.nodes)} x {len(self.problem.pipeline.frame)}"),
        ]
        for policy in POLICIES:
            if policy in self.evaluation:
                e = self.evaluation[policy]
                rows.append((f"{policy}: mean / CVaR NPV (USD bn)",
                             f"{e['mean_npv_usd'] / 1e9:,.1f} / {e['cvar_npv_usd'] / 1e9:,.1f}"))
        return rows


def plan_dataset(problem: PlanProblem, outcome: SolveOutcome) -> xr.Dataset:
    """Expected-path quantities per node from the solved model."""
    m = outcome.model.model
    sol = lambda name: m.variables[name].solution  # noqa: E731
    nodes = problem.nodes
    frame = problem.pipeline.frame
    region_of = xr.DataArray((frame.region.to_numpy()[:, None] == np.array(problem.regions)[None, :]).astype(float),
                             coords={"project": frame.index.to_list(), "region": problem.regions},
                             dims=("project", "region"))
    power = xr.DataArray(frame.power_mw.to_numpy(), coords={"project": frame.index.to_list()}, dims="project")
    ds = xr.Dataset({
        "live_mw": (sol("done") * power * region_of).sum("project"),
        "fleet_kgpu": sol("fleet_kgpu"),
        "buy_kgpu": sol("buy_kgpu"),
        "own_kh100e": sol("own_kh100e"),
        "third_party_kh100e": sol("third_party_kh100e"),
        "unserved_kh100e": sol("unserved_kh100e"),
        "keep": sol("keep"),
        "done": sol("done"),
        "advance": sol("advance"),
    })
    cash = outcome.model.cash_flow.solution if hasattr(outcome.model.cash_flow, "solution") else None
    if cash is not None:
        ds["cash_flow_usd"] = cash * 1e6
    return ds.assign_coords(quarter=("node", np.array(problem.quarters)[nodes.quarter.to_numpy()]),
                            probability=("node", nodes.probability.to_numpy()),
                            parent=("node", nodes.parent.to_numpy()))
