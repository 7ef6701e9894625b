"""The planner as a linopy model: decisions per tree node, constraints over whole dimensions.

See docs/formulation.md for the maths. Units inside the model: money in millions of USD, GPUs in
thousands (kGPU), compute in thousands of H100-equivalents (kH100e), power in MW. Projects are
campuses delivered in phases, so the model is a linear programme: exact optimum, gap 0.
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
    """The linopy model and the expressions the result reads back."""

    model: linopy.Model
    problem: PlanProblem
    cash_flow: linopy.LinearExpression
    terminal_value: linopy.LinearExpression


def _parent_of(var: linopy.Variable, problem: PlanProblem) -> tuple[Any, xr.DataArray]:
    """``var`` at each node's parent (0 at the root), and the root indicator."""
    nodes = problem.nodes
    parent = nodes.parent.to_numpy()
    has_parent = xr.DataArray(parent >= 0, coords={"node": nodes.node.to_numpy()}, dims="node")
    index = xr.DataArray(np.where(parent >= 0, parent, 0), dims="node")
    shifted = var.isel(node=index).assign_coords(node=nodes.node.to_numpy())
    return shifted.where(has_parent).fillna(0), (~has_parent).astype(float)


def _ancestor_at_lag(problem: PlanProblem, lag: int) -> np.ndarray:
    """For each node, its ancestor ``lag`` quarters up the path (-1 if before the root)."""
    parent = problem.nodes.parent.to_numpy()
    current = problem.nodes.node.to_numpy().copy()
    for _ in range(lag):
        current = np.where(current >= 0, parent[np.maximum(current, 0)], -1)
    return current


def build_model(problem: PlanProblem) -> PlanModel:
    """Build the stochastic pacing model of ``problem`` (maximise expected discounted value + CVaR term)."""
    p = problem
    m = linopy.Model(force_dim_names=True)
    nodes = p.nodes.node.to_numpy()
    node_list: list[int] = nodes.tolist()
    n_da = lambda a: xr.DataArray(np.asarray(a), coords={"node": nodes}, dims="node")  # noqa: E731
    quarter_of = n_da(p.nodes.quarter.to_numpy())
    prob, disc = n_da(p.nodes.probability.to_numpy()), n_da(p.discount)
    frame = p.pipeline.frame
    st = p.pipeline.stages
    projects = frame.index.to_list()
    col = lambda name: xr.DataArray(frame[name].to_numpy(), coords={"project": projects}, dims="project")  # noqa: E731
    region_of = xr.DataArray(
        (frame.region.to_numpy()[:, None] == np.array(p.regions)[None, :]).astype(float),
        coords={"project": projects, "region": p.regions}, dims=("project", "region"))
    stages = st.stage.to_numpy().tolist()
    last = stages[-1]

    # -- projects: retained share, completed share per stage, increments, fees, holding -------------
    keep = m.add_variables(lower=0, upper=1, coords=[projects, node_list], dims=["project", "node"], name="keep")
    completed = m.add_variables(lower=0, upper=1, coords=[projects, stages, node_list],
                                dims=["project", "stage", "node"], name="completed")
    step = m.add_variables(lower=0, coords=[projects, stages, node_list], dims=["project", "stage", "node"],
                           name="progress_step")
    dropped = m.add_variables(lower=0, coords=[projects, stages, node_list], dims=["project", "stage", "node"],
                              name="dropped_entered")
    dropped_live = m.add_variables(lower=0, coords=[projects, node_list], dims=["project", "node"], name="dropped_live")

    keep_parent, root = _parent_of(keep, p)
    completed_parent, _ = _parent_of(completed, p)
    completed_start = st.completed_now * root  # the root's parent state is today's
    prior = completed_parent + completed_start  # completed shares at the start of each node's quarter
    # Retained share never rises: cancellation is irreversible.
    m.add_constraints(keep - keep_parent <= root, name="cancel_irreversible")
    # A share completes stage k only after stage k-1, and only within the retained share.
    m.add_constraints(completed.isel(stage=slice(1, None)) - completed.isel(stage=slice(None, -1))
                      .assign_coords(stage=stages[1:]) <= 0, name="stage_sequence")
    m.add_constraints(completed - keep <= 0, name="completed_within_kept")
    # Completed shares fall only by what is cancelled; rises are progress steps.
    m.add_constraints(completed - completed_parent + keep_parent - keep >= completed_start - root,
                      name="completed_falls_only_by_cancel")
    m.add_constraints(step - completed + completed_parent >= -completed_start, name="progress_step_def")
    # One quarter of whole-campus work per quarter at full pace (less is pacing; none is a pause).
    work = (step * st.duration_quarters).sum("stage")
    m.add_constraints(work <= 1, name="pace_limit")
    # Cancellation fee: the dropped share that had entered each stage pays that stage's fee step.
    entered_prior = prior.shift(stage=1)  # share that had completed the previous stage (entered this one)
    # Stage 0 is entered by every retained share; later stages by those that completed the one before.
    m.add_constraints(dropped.isel(stage=0) + keep - keep_parent >= root, name="dropped_entered_first")
    later = stages[1:]
    m.add_constraints(
        dropped.sel(stage=later) + keep - entered_prior.sel(stage=later) >= 0, name="dropped_entered_later")
    m.add_constraints(dropped_live + keep - prior.sel(stage=last) >= 0, name="dropped_live_def")
    fees = (dropped * st.fee_step_usd).sum("stage") + dropped_live * st.fee_step_live_usd
    # Carrying cost of the retained share not yet live (site, insurance, options): a pause prolongs it.
    live_share = completed.sel(stage=last)
    hold = col("hold_usd_per_quarter") * (keep - live_share)
    spend = (step * st.spend_usd).sum("stage")

    # -- GPU fleet by generation, region and node --------------------------------------------------
    gens = p.generations
    g_list = gens.accelerator.to_list()
    gcol = lambda name: xr.DataArray(gens[name].to_numpy(), coords={"generation": g_list}, dims="generation")  # noqa: E731
    gr = {"generation": g_list, "region": p.regions}
    zeros_r = xr.DataArray(np.zeros(len(p.regions)), coords={"region": p.regions}, dims="region")
    available = (quarter_of >= gcol("available")) + zeros_r.astype(bool)
    dims_grn = ["generation", "region", "node"]
    buy = m.add_variables(lower=0, upper=xr.where(available, np.inf, 0.0).transpose(*dims_grn),
                          coords=[g_list, list(p.regions), node_list], dims=dims_grn, name="buy_kgpu")
    fleet = m.add_variables(lower=0, coords=[g_list, list(p.regions), node_list], dims=dims_grn, name="fleet_kgpu")
    book = m.add_variables(lower=0, coords=[g_list, list(p.regions), node_list], dims=dims_grn, name="book_musd")
    fleet_parent, _ = _parent_of(fleet, p)
    book_parent, _ = _parent_of(book, p)
    init = xr.DataArray(p.init_fleet_kgpu, coords=gr, dims=("generation", "region"))
    init_book = xr.DataArray(p.init_book_usd / MUSD, coords=gr, dims=("generation", "region"))
    retire_init = xr.DataArray(p.init_retire_kgpu, dims=("generation", "region", "q")).isel(
        q=xr.DataArray(p.nodes.quarter.to_numpy(), dims="node")).assign_coords({**gr, "node": nodes})
    ancestor = _ancestor_at_lag(p, p.life_quarters)
    bought_life_ago = buy.isel(node=xr.DataArray(np.maximum(ancestor, 0), dims="node")).assign_coords(
        node=nodes).where(n_da(ancestor >= 0)).fillna(0)
    m.add_constraints(fleet - fleet_parent - buy + bought_life_ago == init * root - retire_init, name="fleet_step")
    price_musd = gcol("price_usd") * 1e3 / MUSD  # per kGPU
    m.add_constraints(book - book_parent - price_musd * buy + price_musd / p.life_quarters * fleet_parent
                      == (init_book - price_musd / p.life_quarters * init) * root, name="book_value_step")

    # Power: the fleet's facility power fits in the live MW of its region.
    pue = xr.DataArray(p.pue, coords={"region": p.regions}, dims="region")
    live_mw = (live_share * col("power_mw") * region_of).sum("project")
    gpu_mw = (fleet * gcol("it_mw_per_kgpu")).sum("generation") * pue
    m.add_constraints(gpu_mw - live_mw <= 0, name="power_fits_live_mw")

    # -- demand: own GPUs, third parties, or unserved ----------------------------------------------
    w_list = list(WORKLOADS)
    demand = xr.DataArray(p.demand_kh100e.transpose(2, 1, 0), coords={"workload": w_list, "region": p.regions,
                          "node": nodes}, dims=("workload", "region", "node"))
    w_coords: list[list[Any]] = [w_list, list(p.regions), node_list]
    w_dims = ["workload", "region", "node"]
    own = m.add_variables(lower=0, coords=w_coords, dims=w_dims, name="own_kh100e")
    third = m.add_variables(lower=0, coords=w_coords, dims=w_dims, name="third_party_kh100e")
    unserved = m.add_variables(lower=0, coords=w_coords, dims=w_dims, name="unserved_kh100e")
    m.add_constraints(own + third + unserved == demand, name="demand_balance")
    m.add_constraints(own.sum("workload") - (fleet * gcol("h100e")).sum("generation") <= 0, name="own_capacity")

    # -- cash flow per node (MUSD) -------------------------------------------------------------------
    wl = lambda a: xr.DataArray(a, coords={"workload": w_list}, dims="workload")  # noqa: E731
    per = 1e3 * HOURS_PER_QUARTER / MUSD  # MUSD per (USD/h) per kH100e-quarter
    revenue = ((own + third) * wl(p.revenue_usd_per_h100e_hour) * per).sum(["workload", "region"])
    third_cost = (third * wl(p.third_party_usd_per_h100e_hour) * per).sum(["workload", "region"])
    penalty = (unserved * wl(p.unserved_penalty_usd_per_h100e_hour) * per).sum(["workload", "region"])
    gpu_capex = (buy * price_musd).sum(["generation", "region"])
    energy = (gpu_mw * (HOURS_PER_QUARTER * p.gpu_utilisation * p.power_usd_per_mwh / MUSD)).sum("region")
    running = live_share * (col("rent_usd_per_quarter") + col("opex_usd_per_quarter"))
    project_cost = (spend + fees + hold + running).sum("project") / MUSD
    cash_flow = revenue - third_cost - penalty - gpu_capex - energy - project_cost

    leaves = p.leaves
    residual = xr.DataArray(np.where(frame.ownership == "owned", frame.build_capex_usd
                                     * p.facility_residual_fraction, 0.0) / MUSD,
                            coords={"project": projects}, dims="project")
    terminal = book.sum(["generation", "region"]) + (live_share * residual).sum("project")
    leaf_weight = (prob * disc).where(n_da(np.isin(nodes, leaves)), 0.0)
    expected = (cash_flow * prob * disc).sum("node") + (terminal * leaf_weight).sum("node")

    objective = expected
    if p.cvar_weight > 0:
        path = xr.DataArray(p.path_matrix(), coords={"leaf": leaves, "node": nodes}, dims=("leaf", "node"))
        cf = m.add_variables(coords=[node_list], dims=["node"], name="cash_flow_musd")
        m.add_constraints(cf - cash_flow == 0, name="cash_flow_def")
        tv = m.add_variables(coords=[node_list], dims=["node"], name="terminal_musd")
        m.add_constraints(tv - terminal == 0, name="terminal_def")
        leaf_disc = xr.DataArray(p.discount[leaves], coords={"leaf": leaves}, dims="leaf")
        npv = (cf * path * disc).sum("node") + tv.sel(node=leaves).rename(node="leaf") * leaf_disc
        eta = m.add_variables(name="cvar_threshold_musd")
        excess = m.add_variables(lower=0, coords=[leaves.tolist()], dims=["leaf"], name="cvar_excess_musd")
        m.add_constraints(excess - eta + npv >= 0, name="cvar_excess_def")
        leaf_prob = xr.DataArray(p.nodes.probability.to_numpy()[leaves], coords={"leaf": leaves}, dims="leaf")
        cvar = eta - (excess * leaf_prob).sum("leaf") / (1 - p.cvar_alpha)
        objective = expected + p.cvar_weight * cvar
    m.add_objective(objective, sense="max")
    return PlanModel(model=m, problem=p, cash_flow=cash_flow, terminal_value=terminal)
