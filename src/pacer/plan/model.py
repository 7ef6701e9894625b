"""The planner as a linopy model: decisions per tree node, constraints over whole dimensions.

See docs/formulation.md for the maths. Units inside the model: money in millions of USD, GPUs in
thousands (kGPU), compute in thousands of H100-equivalents (kH100e), power in MW.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import linopy
import numpy as np
import xarray as xr

from pacer.plan.problem import HOURS_PER_QUARTER, WORKLOADS, PlanProblem

MUSD = 1e6


@dataclass
class PlanModel:
    """The linopy model and the names of its parts."""

    model: linopy.Model
    problem: PlanProblem
    cash_flow: linopy.LinearExpression
    terminal_value: linopy.LinearExpression
    expected_npv: linopy.LinearExpression


def _parent_of(var: linopy.Variable, problem: PlanProblem) -> tuple[Any, xr.DataArray]:
    """``var`` at each node's parent (absent at the root), and the root mask."""
    nodes = problem.nodes
    parent = nodes.parent.to_numpy()
    has_parent = xr.DataArray(parent >= 0, coords={"node": nodes.node.to_numpy()}, dims="node")
    index = xr.DataArray(np.where(parent >= 0, parent, 0), dims="node")
    shifted = var.isel(node=index).assign_coords(node=nodes.node.to_numpy())
    return shifted.where(has_parent).fillna(0), has_parent


def build_model(problem: PlanProblem, *, relax_integrality: bool = False) -> PlanModel:
    """Build the stochastic pacing model of ``problem`` (maximise expected discounted value)."""
    p = problem
    m = linopy.Model(force_dim_names=True)
    nodes = p.nodes.node.to_numpy()
    node = xr.DataArray(nodes, dims="node", coords={"node": nodes})
    quarter_of = xr.DataArray(p.nodes.quarter.to_numpy(), coords={"node": nodes}, dims="node")
    prob = xr.DataArray(p.nodes.probability.to_numpy(), coords={"node": nodes}, dims="node")
    disc = xr.DataArray(p.discount, coords={"node": nodes}, dims="node")
    frame = p.pipeline.frame
    projects = frame.index.to_list()
    proj = {"project": projects}
    region_of = xr.DataArray(
        (frame.region.to_numpy()[:, None] == np.array(p.regions)[None, :]).astype(float),
        coords={"project": projects, "region": p.regions}, dims=("project", "region"))
    col = lambda name: xr.DataArray(frame[name].to_numpy(), coords=proj, dims="project")  # noqa: E731
    work = col("remaining_quarters")
    power_mw = col("power_mw")
    live_now = (work <= 0).astype(float)

    coords_pn = [projects, nodes]
    binary = not relax_integrality
    advance = m.add_variables(lower=0, upper=1, coords=coords_pn, dims=["project", "node"], name="advance")
    progress = m.add_variables(lower=0, upper=work.broadcast_like(node), coords=coords_pn,
                               dims=["project", "node"], name="progress")
    import os
    kw: dict[str, Any] = {"binary": True} if binary else {"lower": 0, "upper": 1}
    kk = kw if os.environ.get("RELAX_KEEP") is None else {"lower": 0, "upper": 1}
    kd = kw if os.environ.get("RELAX_DONE") is None else {"lower": 0, "upper": 1}
    keep = m.add_variables(coords=coords_pn, dims=["project", "node"], name="keep", **kk)
    done = m.add_variables(coords=coords_pn, dims=["project", "node"], name="done", **kd)
    spent = m.add_variables(lower=0, coords=coords_pn, dims=["project", "node"], name="cumulative_spend")
    fee = m.add_variables(lower=0, coords=coords_pn, dims=["project", "node"], name="cancel_fee")
    hold = m.add_variables(lower=0, coords=coords_pn, dims=["project", "node"], name="hold_cost")

    progress_parent, has_parent = _parent_of(progress, p)
    keep_parent, _ = _parent_of(keep, p)
    done_parent, _ = _parent_of(done, p)
    spent_parent, _ = _parent_of(spent, p)
    root = (~has_parent).astype(float)

    # Progress accumulates along each path; nothing progresses once cancelled.
    m.add_constraints(progress - progress_parent - advance == 0, name="progress_step")
    m.add_constraints(advance - keep <= 0, name="advance_if_kept")
    # Cancellation is irreversible (keep never rises); a project is done once its work is finished.
    m.add_constraints(keep - keep_parent <= root, name="cancel_irreversible")
    m.add_constraints(progress - work * done >= 0, name="done_needs_work")
    m.add_constraints(done - keep <= 0, name="done_if_kept")
    # Done stays done unless the project is cancelled (a live lease given back); live-now projects
    # start done.
    m.add_constraints(done - done_parent + keep_parent - keep >= root * (live_now - 1), name="done_persists")
    cancel = keep_parent - keep + root  # 1 when dropped at this node (keep_parent = 1 at the root)
    # Cumulative spend above the convex capex curve of progress (exact at the optimum).
    capex = p.pipeline.capex
    m.add_constraints(spent - capex.slope * progress >= capex.value - capex.slope * capex.start, name="capex_curve")
    m.add_constraints(spent - spent_parent >= 0, name="spend_nondecreasing")
    # Cancellation fee: the fee curve at the progress reached, when cancelled at this node.
    fees = p.pipeline.fee
    big = col("max_fee_usd")
    m.add_constraints(
        fee - fees.slope * progress_parent - big * cancel >= fees.value - fees.slope * fees.start - big,
        name="cancel_fee_curve")
    # Holding cost of a kept project neither advancing nor finished (a pause; half for half pace).
    m.add_constraints(hold - col("hold_usd_per_quarter") * (keep - advance - done) >= 0, name="hold_cost_def")

    # GPU fleet by generation, region and node.
    gens = p.generations
    g_coords = {"generation": gens.accelerator.to_list()}
    gcol = lambda name: xr.DataArray(gens[name].to_numpy(), coords=g_coords, dims="generation")  # noqa: E731
    coords_grn = [gens.accelerator.to_list(), p.regions, nodes]
    available = (quarter_of >= gcol("available")).broadcast_like(
        xr.DataArray(np.zeros(len(p.regions)), coords={"region": p.regions}, dims="region"))
    buy = m.add_variables(lower=0, upper=xr.where(available, np.inf, 0.0), coords=coords_grn,
                          dims=["generation", "region", "node"], name="buy_kgpu")
    fleet = m.add_variables(lower=0, coords=coords_grn, dims=["generation", "region", "node"], name="fleet_kgpu")
    book = m.add_variables(lower=0, coords=coords_grn, dims=["generation", "region", "node"], name="book_musd")
    fleet_parent, _ = _parent_of(fleet, p)
    book_parent, _ = _parent_of(book, p)
    init = xr.DataArray(p.init_fleet_kgpu, coords={**g_coords, "region": p.regions}, dims=("generation", "region"))
    init_book = xr.DataArray(p.init_book_usd / MUSD, coords={**g_coords, "region": p.regions},
                             dims=("generation", "region"))
    retire_init = xr.DataArray(p.init_retire_kgpu, dims=("generation", "region", "q")).isel(q=quarter_of)
    retire_init = retire_init.assign_coords({**g_coords, "region": p.regions, "node": nodes})
    # Retirement: what was bought `life` quarters up the same path.
    ancestor = _ancestor_at_lag(p, p.life_quarters)
    has_anc = xr.DataArray(ancestor >= 0, coords={"node": nodes}, dims="node")
    bought_life_ago = buy.isel(node=xr.DataArray(np.maximum(ancestor, 0), dims="node")).assign_coords(
        node=nodes).where(has_anc).fillna(0)
    m.add_constraints(fleet - fleet_parent - buy + bought_life_ago == init * root - retire_init, name="fleet_step")
    price_musd = gcol("price_usd") * 1e3 / MUSD  # per kGPU
    m.add_constraints(book - book_parent - price_musd * buy + price_musd / p.life_quarters * fleet_parent
                      == (init_book - price_musd / p.life_quarters * init) * root, name="book_value_step")

    # Power: the fleet's facility power fits in the live MW of its region.
    pue = xr.DataArray(p.pue, coords={"region": p.regions}, dims="region")
    live_mw = (done * power_mw * region_of).sum("project")
    gpu_mw = (fleet * gcol("it_mw_per_kgpu")).sum("generation") * pue
    m.add_constraints(gpu_mw - live_mw <= 0, name="power_fits_live_mw")

    # Demand: served by own GPUs, bought from third parties, or unserved.
    w_coords = [list(WORKLOADS), p.regions, nodes]
    demand = xr.DataArray(p.demand_kh100e.transpose(2, 1, 0), coords={"workload": list(WORKLOADS),
                          "region": p.regions, "node": nodes}, dims=("workload", "region", "node"))
    own = m.add_variables(lower=0, coords=w_coords, dims=["workload", "region", "node"], name="own_kh100e")
    third = m.add_variables(lower=0, coords=w_coords, dims=["workload", "region", "node"], name="third_party_kh100e")
    unserved = m.add_variables(lower=0, coords=w_coords, dims=["workload", "region", "node"], name="unserved_kh100e")
    m.add_constraints(own + third + unserved == demand, name="demand_balance")
    m.add_constraints(own.sum("workload") - (fleet * gcol("h100e")).sum("generation") <= 0, name="own_capacity")

    # Cash flow per node (MUSD).
    wl = lambda a: xr.DataArray(a, coords={"workload": list(WORKLOADS)}, dims="workload")  # noqa: E731
    per_kh100e_quarter = 1e3 * HOURS_PER_QUARTER / MUSD
    revenue = ((own + third) * wl(p.revenue_usd_per_h100e_hour) * per_kh100e_quarter).sum(["workload", "region"])
    third_cost = (third * wl(p.third_party_usd_per_h100e_hour) * per_kh100e_quarter).sum(["workload", "region"])
    penalty = (unserved * wl(p.unserved_penalty_usd_per_h100e_hour) * per_kh100e_quarter).sum(["workload", "region"])
    gpu_capex = (buy * price_musd).sum(["generation", "region"])
    energy_musd_per_mw = HOURS_PER_QUARTER * p.gpu_utilisation * p.power_usd_per_mwh / MUSD
    energy = (gpu_mw * energy_musd_per_mw).sum("region")
    project_cost = ((spent - spent_parent) + fee + hold
                    + done * (col("rent_usd_per_quarter") + col("opex_usd_per_quarter"))).sum("project") / MUSD
    cash_flow = revenue - third_cost - penalty - gpu_capex - energy - project_cost

    leaves = p.leaves
    owned_residual = xr.DataArray(
        np.where(frame.ownership == "owned", frame.build_capex_usd * p.facility_residual_fraction, 0.0) / MUSD,
        coords=proj, dims="project")
    terminal = (book.sum(["generation", "region"]) + (done * owned_residual).sum("project"))
    leaf_mask = xr.DataArray(np.isin(nodes, leaves), coords={"node": nodes}, dims="node")
    expected = (cash_flow * prob * disc).sum("node") + (terminal * (prob * disc).where(leaf_mask, 0.0)).sum("node")

    objective = expected
    if p.cvar_weight > 0:
        path = xr.DataArray(p.path_matrix(), coords={"leaf": leaves, "node": nodes}, dims=("leaf", "node"))
        cf = m.add_variables(coords=[nodes], dims=["node"], name="cash_flow_musd")
        m.add_constraints(cf - cash_flow == 0, name="cash_flow_def")
        tv = m.add_variables(coords=[nodes], dims=["node"], name="terminal_musd")
        m.add_constraints(tv - terminal == 0, name="terminal_def")
        leaf_disc = xr.DataArray(p.discount[leaves], coords={"leaf": leaves}, dims="leaf")
        npv = (cf * path * disc).sum("node") + tv.sel(node=leaves).rename(node="leaf") * leaf_disc
        eta = m.add_variables(name="cvar_threshold_musd")
        excess = m.add_variables(lower=0, coords=[leaves], dims=["leaf"], name="cvar_excess_musd")
        m.add_constraints(excess - eta + npv >= 0, name="cvar_excess_def")
        leaf_prob = xr.DataArray(p.nodes.probability.to_numpy()[leaves], coords={"leaf": leaves}, dims="leaf")
        cvar = eta - (excess * leaf_prob).sum("leaf") / (1 - p.cvar_alpha)
        objective = expected + p.cvar_weight * cvar
    m.add_objective(objective, sense="max")
    return PlanModel(model=m, problem=p, cash_flow=cash_flow, terminal_value=terminal, expected_npv=expected)


def _ancestor_at_lag(problem: PlanProblem, lag: int) -> np.ndarray:
    """For each node, its ancestor ``lag`` quarters up the path (-1 if before the root)."""
    parent = problem.nodes.parent.to_numpy()
    current = problem.nodes.node.to_numpy().copy()
    for _ in range(lag):
        current = np.where(current >= 0, parent[np.maximum(current, 0)], -1)
    return current
