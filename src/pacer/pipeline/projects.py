"""Projects as tables: one row per project, and per (project, stage) arrays for the planner.

A project is a campus delivered in phases (halls). For each build stage ``k`` (land, permits, shell,
power, fit-out) the planner tracks the share of the campus that has completed it; a share completes
stage ``k`` only after completing ``k - 1``, and the share that has completed fit-out is live. The
arrays here give, per project and stage: the stage's duration for the whole campus, the owner's spend
for the whole campus to complete it, the cancellation fee per share that has entered it, and the
share already completed today.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from pacer.catalog import load_facilities
from pacer.scenario import BUILD_STAGES, Project, Provider

#: Months of rent a signed lease costs to cancel before and after commencement (assumption).
LEASE_BREAK_MONTHS_SIGNED = 12
LEASE_BREAK_MONTHS_LIVE = 24
#: The stage from which a lease counts as signed (before it, a pre-lease option).
SIGNED_FROM = "shell"


#: The level of a share that has completed every build stage.
LIVE = "live"


def levels_now(stages: xr.Dataset) -> np.ndarray:
    """Share of each project at each level today (project, level): level ``l`` holds the share that has
    completed exactly ``l`` build stages, the last level is live. Rows sum to one."""
    completed = stages.completed_now.to_numpy()
    ones, zeros = np.ones_like(completed[:, :1]), np.zeros_like(completed[:, :1])
    return np.hstack([ones, completed]) - np.hstack([completed, zeros])


def first_live_quarter(remaining_quarters: np.ndarray) -> np.ndarray:
    """Index (0: the current quarter) of the first quarter in which a project with ``remaining_quarters`` of
    work left can be live at full pace: one quarter of work per quarter, counted at the quarter's end."""
    return np.maximum(np.ceil(np.asarray(remaining_quarters, dtype=float) - 1e-9) - 1, 0).astype(int)


def least_advanced_drops(keep_prev: np.ndarray, keep: np.ndarray, prior_completed: np.ndarray) -> np.ndarray:
    """Shares dropped from each level when a retained share falls from ``keep_prev`` to ``keep`` and the
    least advanced shares go first: (..., project, level, quarter) from ``keep`` (..., project, quarter)
    and the completed shares at the start of each quarter (..., project, stage, quarter)."""
    before = np.concatenate([keep_prev[..., None, :], prior_completed], axis=-2)
    after = np.concatenate([prior_completed, np.zeros_like(prior_completed[..., :1, :])], axis=-2)
    level = np.clip(before - after, 0, None)
    below = np.cumsum(level, axis=-2) - level
    drop = np.clip(keep_prev - keep, 0, None)[..., None, :]
    return np.clip(drop - below, 0, level)


#: Retained share below which a project counts as dropped.
KEEP_TOLERANCE = 1e-6
#: Frame columns proportional to a project's megawatts.
_MW_COLUMNS = ("power_mw", "build_capex_usd", "rent_usd_per_quarter", "opex_usd_per_quarter",
               "hold_usd_per_quarter", "fee_live_usd")


@dataclass(frozen=True)
class PipelineTable:
    """``frame``: one row per project. ``stages``: (project, stage) arrays (see module docstring)."""

    frame: pd.DataFrame
    stages: xr.Dataset

    def stage_of(self, completed: np.ndarray) -> np.ndarray:
        """Furthest stage in progress given completed shares (project, stage[, ...]): a stage name."""
        names = np.array([*BUILD_STAGES, "live"])
        started = np.concatenate([np.ones_like(completed[:, :1]), completed], axis=1) > 1e-6
        # The first stage not fully completed among those whose predecessor has begun.
        unfinished = np.concatenate([completed < 1 - 1e-6, np.zeros_like(completed[:, :1], dtype=bool)], axis=1)
        index = np.argmax(unfinished & started, axis=1)
        index = np.where((unfinished & started).any(axis=1), index, len(BUILD_STAGES))
        return names[index]

    def carried(self, keep: np.ndarray, completed: np.ndarray) -> PipelineTable:
        """The pipeline after decisions: each project's retained share ``keep`` (project) becomes the
        whole project, with ``completed`` (project, stage) shares rescaled to it; dropped projects go."""
        alive = keep > KEEP_TOLERANCE
        share = keep[alive]
        frame = self.frame[alive].copy()
        for column in _MW_COLUMNS:
            frame[column] = frame[column] * share
        done = np.clip(completed[alive] / share[:, None], 0.0, 1.0)
        # Stage durations hold for whatever part of a campus is retained (the planner's pace limit).
        durations = self.stages.duration_quarters.to_numpy()[alive]
        frame["stage"] = self.stage_of(done)
        frame["remaining_quarters"] = ((1 - done) * durations).sum(axis=1)
        stages = self.stages.isel(project=np.flatnonzero(alive)).copy()
        for name in ("spend_usd", "fee_usd", "fee_step_usd", "fee_step_live_usd"):
            stages[name] = stages[name] * xr.DataArray(share, dims="project")
        stages["completed_now"] = (("project", "stage"), done)
        return PipelineTable(frame=frame, stages=stages)

    def alike_groups(self) -> np.ndarray:
        """Group index of each project: projects alike per MW (region, ownership, stage durations, spend,
        fees, rent, opex, carrying cost per MW and the shares completed today) share a group.

        Every decision of the planner is a share of a project and every cost and capacity is proportional
        to its MW, so a group planned as one project of their summed MW, with each member taking the
        group's shares, is exactly as good as any plan of the members apart (the planner's LP is the
        same after scaling): a reduction presolve cannot see."""
        mw = self.frame.power_mw.to_numpy()
        per_mw = lambda a: np.round(np.asarray(a, dtype=float) / mw.reshape(-1, *[1] * (a.ndim - 1)), 6)  # noqa: E731
        st = self.stages
        parts = [self.frame[["region", "ownership", "commences"]].astype(str).to_numpy(),
                 per_mw(self.frame[list(_MW_COLUMNS[1:])].to_numpy()),
                 per_mw(st.spend_usd.to_numpy()), per_mw(st.fee_usd.to_numpy()),
                 np.round(st.duration_quarters.to_numpy(), 9), np.round(st.completed_now.to_numpy(), 9)]
        keys = pd.DataFrame(np.hstack([np.asarray(a, dtype=object) for a in parts]))
        return keys.groupby(list(keys.columns), sort=False, dropna=False).ngroup().to_numpy()

    def aggregate(self, groups: np.ndarray) -> PipelineTable:
        """One project per group (see :meth:`alike_groups`): MW and MW-proportional money summed, the rest
        taken from the group's first member, whose id (with ``+N`` for the others) names it."""
        first = pd.Series(np.arange(len(groups))).groupby(groups).first().to_numpy()
        size = np.bincount(groups)
        frame = self.frame.iloc[first].copy()
        for column in _MW_COLUMNS:
            frame[column] = np.bincount(groups, weights=self.frame[column].to_numpy())
        frame.index = [pid if n == 1 else f"{pid}+{n - 1}" for pid, n in zip(frame.index, size, strict=True)]
        frame.index.name = self.frame.index.name
        stages = self.stages.isel(project=first).copy()
        stages = stages.assign_coords(project=frame.index.to_list())
        for name in ("spend_usd", "fee_usd", "fee_step_usd"):
            values = self.stages[name].to_numpy()
            stages[name] = (("project", "stage"), np.stack([np.bincount(groups, weights=values[:, k])
                                                            for k in range(values.shape[1])], axis=1))
        stages["fee_step_live_usd"] = ("project", np.bincount(groups, weights=self.stages.fee_step_live_usd.to_numpy()))
        return PipelineTable(frame=frame, stages=stages)

    def concat(self, other: PipelineTable) -> PipelineTable:
        """Both pipelines as one (project ids must differ)."""
        return PipelineTable(frame=pd.concat([self.frame, other.frame]),
                             stages=xr.concat([self.stages, other.stages], dim="project"))


def _stage_values(project: Project) -> tuple[dict[str, int], dict[str, float], dict[str, float]]:
    fac = load_facilities()
    durations, spend, fees = {}, {}, {}
    for stage in BUILD_STAGES:
        base = fac.stages[stage]
        o = project.stages.get(stage)
        durations[stage] = o.duration_quarters if o and o.duration_quarters is not None else base.duration_quarters
        spend[stage] = o.spend_usd_per_mw if o and o.spend_usd_per_mw is not None else base.spend_usd_per_mw
        fees[stage] = (o.cancel_fee_usd_per_mw if o and o.cancel_fee_usd_per_mw is not None
                       else base.cancel_fee_usd_per_mw)
    return durations, spend, fees


def build_pipeline(provider: Provider, projects: list[Project] | None = None) -> PipelineTable:
    """Tables of the provider's projects (or of ``projects``) for the planner and the evaluator."""
    fac = load_facilities()
    rows = []
    duration, spend_all, fee_all, done_now = [], [], [], []
    fee_live = []
    for p in provider.projects if projects is None else projects:
        durations, spend, fees = _stage_values(p)
        mw = p.power_mw
        rent_q = (p.lease.rent_usd_per_kw_month * 1000 * 3 * mw) if p.lease else 0.0
        total_build = sum(spend.values())
        if p.ownership == "leased":
            # The landlord builds; the tenant pays its share of fit-out and, once signed, lease-break fees.
            spend = {s: 0.0 for s in BUILD_STAGES} | {"fit-out": fac.lease.fit_out_share * total_build}
            monthly = rent_q / 3 / mw
            signed = BUILD_STAGES.index(SIGNED_FROM)
            fees = {s: max(fees[s], monthly * LEASE_BREAK_MONTHS_SIGNED) if i >= signed else fees[s]
                    for i, s in enumerate(BUILD_STAGES)}
            live = monthly * LEASE_BREAK_MONTHS_LIVE
        else:
            live = fees["fit-out"]
        # Fees per share grow stage by stage (a running maximum keeps the planner's fee exact).
        running = np.maximum.accumulate(np.array([fees[s] for s in BUILD_STAGES] + [live]))
        completed = np.zeros(len(BUILD_STAGES))
        if p.stage == "live":
            completed[:] = 1.0
        else:
            now = BUILD_STAGES.index(p.stage)
            completed[:now] = 1.0
            d = durations[p.stage]
            completed[now] = min(p.quarters_in_stage / d, 1.0) if d > 0 else 1.0
        duration.append([durations[s] for s in BUILD_STAGES])
        spend_all.append([spend[s] * mw for s in BUILD_STAGES])
        fee_all.append(running[:-1] * mw)
        fee_live.append(running[-1] * mw)
        done_now.append(completed)
        remaining = float(np.sum((1 - completed) * np.array([durations[s] for s in BUILD_STAGES])))
        hold = (p.hold_usd_per_mw_quarter if p.hold_usd_per_mw_quarter is not None
                else fac.hold_usd_per_mw_quarter.value) * mw
        rows.append({
            "project": p.id, "region": p.region, "power_mw": mw, "ownership": p.ownership, "stage": p.stage,
            "remaining_quarters": remaining, "build_capex_usd": total_build * mw,
            "rent_usd_per_quarter": rent_q, "lease_term_years": p.lease.term_years if p.lease else 0.0,
            "opex_usd_per_quarter": fac.owned_opex_usd_per_mw_quarter.value * mw if p.ownership == "owned" else 0.0,
            "hold_usd_per_quarter": hold, "fee_live_usd": running[-1] * mw,
            "commences": p.lease.commences if p.lease and p.lease.commences else "",
        })
    frame = pd.DataFrame(rows).set_index("project")
    ids = frame.index.to_list()
    dims = ("project", "stage")
    fee = np.array(fee_all)
    stages = xr.Dataset(
        {
            "duration_quarters": (dims, np.array(duration, dtype=float)),
            "spend_usd": (dims, np.array(spend_all)),
            "fee_usd": (dims, fee),
            # Fee added by entering each stage (and, for the live share, by commencement).
            "fee_step_usd": (dims, np.diff(fee, axis=1, prepend=0.0)),
            "completed_now": (dims, np.array(done_now)),
        },
        coords={"project": ids, "stage": list(BUILD_STAGES)},
    )
    stages["fee_step_live_usd"] = ("project", np.array(fee_live) - fee[:, -1])
    return PipelineTable(frame=frame, stages=stages)
