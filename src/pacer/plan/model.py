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

from pacer.pipeline import LIVE, levels_now
from pacer.plan.problem import HOURS_PER_QUARTER, WORKLOADS, PlanProblem, live_from_quarter

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

    # -- projects: share of each campus at each level (in a build stage, or live), progress, drops ----
    # Level l holds the retained share that has completed exactly l stages (the last level is live).
    # A share moves up one level per stage completed (progress) and leaves the pipeline when dropped.
    # One balance row per (project, level, node) carries the whole state; see docs/formulation.md.
    levels = [*stages, LIVE]
    lcoord = lambda a: xr.DataArray(a, coords={"project": projects, "level": levels},  # noqa: E731
                                    dims=("project", "level"))
    # A signed lease with a date holds its whole project live from that quarter on (a floor of 1 on the live
    # level; the pace limit then brings it there in time, which the scenario checks is possible).
    live_from = xr.DataArray(live_from_quarter(frame, p.quarters), coords={"project": projects}, dims="project")
    is_live_level = xr.DataArray(np.array(levels) == LIVE, coords={"level": levels}, dims="level")
    held_live = (is_live_level & (quarter_of >= live_from)).astype(float).transpose("project", "level", "node")
    share = m.add_variables(lower=held_live, coords=[projects, levels, node_list], dims=["project", "level", "node"],
                            name="share")
    # arrive[l]: share completing the stage before level l in the node's quarter (none arrive at level 0).
    first_level = np.arange(len(levels)) == 0
    none_at_first = np.broadcast_to(np.where(first_level, 0.0, 1.0)[None, :, None],
                                    (len(projects), len(levels), len(nodes)))
    arrive = m.add_variables(lower=0, upper=xr.DataArray(none_at_first, coords=[projects, levels, node_list],
                                                         dims=["project", "level", "node"]),
                             coords=[projects, levels, node_list], dims=["project", "level", "node"],
        name="progress")
    dropped = m.add_variables(lower=0, upper=1, coords=[projects, levels, node_list], dims=["project", "level", "node"],
                              name="dropped")
    share_parent, root = _parent_of(share, p)
    m.add_constraints(share - share_parent - arrive + arrive.shift(level=-1) + dropped
                      == lcoord(levels_now(st)) * root, name="level_balance")
    # At full pace the retained part of a campus completes a stage in the stage's duration (less is
    # pacing; none is a pause); cancelling part of a campus does not speed up the rest.
    zero = np.zeros((len(projects), 1))
    duration = lcoord(np.hstack([zero, st.duration_quarters.to_numpy()]))
    m.add_constraints((arrive * duration).sum("level") - share.sum("level") <= 0, name="pace_limit")
    spend = (arrive * lcoord(np.hstack([zero, st.spend_usd.to_numpy()]))).sum("level")
    # A dropped share pays the fee of the furthest stage it had entered (lease breaks once signed/live).
    fee = lcoord(np.hstack([st.fee_usd.to_numpy(), frame.fee_live_usd.to_numpy()[:, None]]))
    fees = (dropped * fee).sum("level")
    live_share = share.sel(level=LIVE)
    keep = share.sum("level")
    # Carrying cost of the retained share not yet live (site, insurance, options): a pause prolongs it.
    hold = col("hold_usd_per_quarter") * (keep - live_share)

    # -- GPU fleet by generation, region and node --------------------------------------------------
    gens = p.generations
    g_list = gens.accelerator.to_list()
    gcol = lambda name: xr.DataArray(gens[name].to_numpy(), coords={"generation": g_list}, dims="generation")  # noqa: E731
    gr = {"generation": g_list, "region": p.regions}
    zeros_r = xr.DataArray(np.zeros(len(p.regions)), coords={"region": p.regions}, dims="region")
    available = (quarter_of >= gcol("available")) + zeros_r.astype(bool)
    dims_grn = ["generation", "region", "node"]
    # At most what the region's whole pipeline could power (a finite bound: decomposition needs one).
    region_mw = (col("power_mw") * region_of).sum("project")
    pue_r = xr.DataArray(p.pue, coords={"region": p.regions}, dims="region")
    most_kgpu = (region_mw / (gcol("it_mw_per_kgpu") * pue_r)).transpose("generation", "region")
    # Committed orders are the least bought in their quarter (at every node of that quarter).
    ordered = xr.DataArray(p.orders_kgpu, coords=gr, dims=("generation", "region", "q")).isel(
        q=xr.DataArray(p.nodes.quarter.to_numpy(), dims="node")).assign_coords(node=nodes).transpose(*dims_grn)
    most = np.maximum(xr.where(available, most_kgpu, 0.0).transpose(*dims_grn), ordered)
    buy = m.add_variables(lower=ordered, upper=most, coords=[g_list, list(p.regions), node_list], dims=dims_grn,
                          name="buy_kgpu")
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
    # Each generation's GPUs are split between workloads; one GPU is worth the sizing engine's H100e for the
    # workload it runs (a B200 serving at fp4 counts for more H100s than the same B200 training at bf16).
    worth = xr.DataArray(p.generations[[f"h100e_{w}" for w in w_list]].to_numpy(),
                         coords={"generation": g_list, "workload": w_list}, dims=("generation", "workload"))
    allocated = m.add_variables(lower=0, coords=[g_list, *w_coords], dims=["generation", *w_dims],
                                name="allocated_kgpu")
    m.add_constraints(allocated.sum("workload") - fleet <= 0, name="fleet_split")
    m.add_constraints(own - (allocated * worth).sum("generation") <= 0, name="own_capacity")

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
