"""Projects as a table (one row per project) plus piecewise-linear cost curves over build progress.

Progress is measured in quarters of work left before a project goes live, from where it stands now
(``remaining_quarters``). Two functions of progress ``x`` feed the planner:

* cumulative spend ``C(x)``: the owner's spend on the stages it has completed (leased projects pay
  only their share of fit-out; the landlord builds the rest);
* the cancellation fee ``F(x)`` if the project is dropped at progress ``x``: small for early options,
  large once a lease is signed.

Both are stored as lines (``value + slope * (x - start)``) whose maximum is the lower convex envelope
of the stage breakpoints, so the planner can bound them from above with linear constraints. When stage
spend per quarter rises stage by stage (the usual case) the envelope is exact.
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
#: Stages from which a lease counts as signed (before: a pre-lease option).
SIGNED_FROM = "shell"


def convex_envelope(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower convex hull of points sorted by ``x`` (monotone chain); returns hull ``x`` and ``y``."""
    hull: list[tuple[float, float]] = []
    for px, py in zip(x.tolist(), y.tolist(), strict=True):
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (py - y1) - (y2 - y1) * (px - x1) <= 0:  # not a left turn: drop the middle
                hull.pop()
            else:
                break
        if hull and px == hull[-1][0]:
            if py < hull[-1][1]:
                hull[-1] = (px, py)
            continue
        hull.append((px, py))
    hx, hy = zip(*hull, strict=True)
    return np.array(hx), np.array(hy)


def _lines(x: np.ndarray, y: np.ndarray) -> list[tuple[float, float, float]]:
    """(start, value, slope) lines of a convex piecewise-linear function through hull points."""
    if len(x) == 1:
        return [(float(x[0]), float(y[0]), 0.0)]
    slopes = np.diff(y) / np.diff(x)
    return [(float(x[k]), float(y[k]), float(slopes[k])) for k in range(len(slopes))]


@dataclass(frozen=True)
class PipelineTable:
    """Projects (rows) and their cost curves (``capex`` and ``fee`` lines over ``segment``)."""

    frame: pd.DataFrame
    capex: xr.Dataset
    fee: xr.Dataset
    stage_starts: pd.DataFrame  # project x stage: progress at which each remaining stage starts

    def stage_at(self, project: str, progress: float) -> str:
        """The stage a project is in after ``progress`` quarters of work from now."""
        starts = self.stage_starts.loc[project]
        if progress >= self.frame.loc[project, "remaining_quarters"] - 1e-6:
            return "live"
        reached = starts[starts <= progress + 1e-6]
        return str(reached.index[-1]) if len(reached) else str(self.frame.loc[project, "stage"])


def _stage_values(project: Project) -> tuple[dict[str, int], dict[str, float], dict[str, float]]:
    fac = load_facilities()
    durations, spend, fees = {}, {}, {}
    for stage in BUILD_STAGES:
        base = fac.stages[stage]
        o = project.stages.get(stage)
        durations[stage] = o.duration_quarters if o and o.duration_quarters is not None else base.duration_quarters
        spend[stage] = (o.spend_usd_per_mw if o and o.spend_usd_per_mw is not None else base.spend_usd_per_mw)
        fees[stage] = (o.cancel_fee_usd_per_mw if o and o.cancel_fee_usd_per_mw is not None
                       else base.cancel_fee_usd_per_mw)
    return durations, spend, fees


def build_pipeline(provider: Provider) -> PipelineTable:
    """Tables of the provider's projects for the planner."""
    fac = load_facilities()
    rows, capex_lines, fee_lines, starts_rows = [], [], [], []
    for p in provider.projects:
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
            live_fee = monthly * LEASE_BREAK_MONTHS_LIVE
        else:
            live_fee = fees["fit-out"]
        # Remaining work from the current stage.
        if p.stage == "live":
            remaining = {s: 0 for s in BUILD_STAGES}
        else:
            now = BUILD_STAGES.index(p.stage)
            remaining = {s: (0 if i < now else durations[s] - (p.quarters_in_stage if i == now else 0))
                         for i, s in enumerate(BUILD_STAGES)}
            remaining = {s: max(q, 0) for s, q in remaining.items()}
        x, c, fx, fy = [0.0], [0.0], [], []
        stage_start: dict[str, float] = {}
        for s in BUILD_STAGES:
            q = remaining[s]
            if durations[s] > 0 and (q > 0 or (p.stage == s)):
                stage_start[s] = x[-1]
                fx.append(x[-1])
                fy.append(fees[s] * mw)
            if q > 0:
                rate = spend[s] * mw / max(durations[s], 1)
                x.append(x[-1] + q)
                c.append(c[-1] + rate * q)
        work = x[-1]
        fx.append(work)
        fy.append(live_fee * mw)
        cx, cy = convex_envelope(np.array(x), np.array(c))
        ex, ey = convex_envelope(np.array(fx), np.array(fy))
        capex_lines.append(_lines(cx, cy))
        fee_lines.append(_lines(ex, ey))
        starts_rows.append({s: stage_start.get(s, np.nan) for s in BUILD_STAGES})
        hold = (p.hold_usd_per_mw_quarter if p.hold_usd_per_mw_quarter is not None
                else fac.hold_usd_per_mw_quarter.value) * mw
        rows.append({
            "project": p.id, "region": p.region, "power_mw": mw, "ownership": p.ownership, "stage": p.stage,
            "remaining_quarters": work,
            # Quarters over which capacity comes online (halls delivered through fit-out).
            "phase_quarters": float(max(min(remaining["fit-out"], work), 1.0)) if work > 0 else 1.0, "capex_remaining_usd": c[-1], "build_capex_usd": total_build * mw,
            "rent_usd_per_quarter": rent_q,
            "opex_usd_per_quarter": fac.owned_opex_usd_per_mw_quarter.value * mw if p.ownership == "owned" else 0.0,
            "hold_usd_per_quarter": hold, "max_fee_usd": float(max(fy)),
        })
    frame = pd.DataFrame(rows).set_index("project")
    ids = frame.index.to_list()

    def as_dataset(lines: list[list[tuple[float, float, float]]]) -> xr.Dataset:
        n = max(len(x) for x in lines)
        padded = [x + [x[-1]] * (n - len(x)) for x in lines]
        arr = np.array(padded)  # project, segment, (start, value, slope)
        return xr.Dataset(
            {"start": (("project", "segment"), arr[:, :, 0]), "value": (("project", "segment"), arr[:, :, 1]),
             "slope": (("project", "segment"), arr[:, :, 2])},
            coords={"project": ids, "segment": np.arange(n)},
        )

    starts = pd.DataFrame(starts_rows, index=ids)
    return PipelineTable(frame=frame, capex=as_dataset(capex_lines), fee=as_dataset(fee_lines), stage_starts=starts)
