"""Charts of plan and market results (plotly), and the charts each kind of run keeps in the store."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pacer.demand.scenarios import leaf_paths
from pacer.formatting import ACTION_COLOURS, PALETTE, POLICY_COLOURS, STAGE_COLOURS, colour, for_people
from pacer.market.simulate import MarketResult
from pacer.pipeline.projects import PipelineTable
from pacer.plan.result import POLICIES, PlanResult

_STAGE_NAMES = ["land", "permits", "shell", "power", "fit-out", "live"]
_LAYOUT = {"template": "plotly_white", "hovermode": "x unified"}


def capacity_vs_demand_figure(result: PlanResult) -> go.Figure:
    """Own capacity against demand (kH100e) along each scenario of the planning tree; a scenario's demand
    (dotted) and capacity (solid) share its colour."""
    ds, p = result.dataset, result.problem
    capacity = (ds.fleet_kgpu * _h100e(result)).sum(("generation", "region")).to_numpy()
    demand = p.demand_kh100e.sum(axis=(1, 2))
    quarters = p.quarters
    fig = go.Figure()
    paths = leaf_paths(p.nodes)
    probability = p.nodes.probability.to_numpy()[p.leaves]
    for i, path in enumerate(paths):
        label = f"scenario {i + 1} (p={probability[i]:.2f})"
        colour = PALETTE[i % len(PALETTE)]
        fig.add_trace(go.Scatter(x=quarters, y=demand[path], name=f"{label} demand", legendgroup=str(i),
                                 line={"dash": "dot", "width": 1.5, "color": colour}))
        fig.add_trace(go.Scatter(x=quarters, y=capacity[path], name=f"{label} capacity", legendgroup=str(i),
                                 line={"width": 2.5, "color": colour}))
    fig.update_layout(title="own capacity (solid) vs demand (dotted) per scenario, thousand H100-equivalents",
                      yaxis_title="kH100e", **_LAYOUT)
    return fig


_ACTION_SYMBOLS = {"advance": "triangle-right", "pace": "diamond", "pause": "square", "cancel": "x"}


def pacing_gantt_figure(result: PlanResult) -> go.Figure:
    """A Gantt chart of every project's stage by quarter along the most likely scenario, with the plan's
    actions marked where they change (advance, pace, pause, cancel)."""
    ds, p = result.dataset, result.problem
    paths = leaf_paths(p.nodes)
    leaf = int(np.argmax(p.nodes.probability.to_numpy()[p.leaves]))
    path = paths[leaf]
    completed = ds.completed.transpose("project", "stage", "node").to_numpy()[:, :, path]
    keep = ds.keep.transpose("project", "node").to_numpy()[:, path]
    table: PipelineTable = p.pipeline
    # Stages the retained share has fully completed (completed shares are of the whole project).
    stage = (completed / np.maximum(keep[:, None, :], 1e-9) > 0.99).sum(axis=1)
    stage = np.where(keep < 0.01, -1, np.minimum(stage, 5))  # -1: cancelled
    projects = np.array(table.frame.index.to_list())
    quarters = np.array(p.quarters)
    n_projects, n_quarters = stage.shape
    # Runs of one stage per project: where the stage changes a bar starts; it ends where the next starts.
    starts = np.ones(stage.shape, dtype=bool)
    starts[:, 1:] = stage[:, 1:] != stage[:, :-1]
    row, start = np.nonzero(starts)
    flat = row * n_quarters + start
    end = np.minimum(np.append(flat[1:], n_projects * n_quarters), (row + 1) * n_quarters) - row * n_quarters
    value = stage[row, start]
    fig = go.Figure()
    for code, name in enumerate(["cancelled", *_STAGE_NAMES], start=-1):
        pick = value == code
        if not pick.any():
            continue
        colour = "#D55E00" if code < 0 else STAGE_COLOURS[name]
        fig.add_trace(go.Bar(
            y=projects[row[pick]], x=(end - start)[pick], base=start[pick], orientation="h", name=name,
            marker={"color": colour, "line": {"width": 0}}, legendgroup="stage",
            customdata=np.stack([quarters[start[pick]], quarters[end[pick] - 1]], axis=1),
            hovertemplate="%{y}: " + name + " %{customdata[0]} to %{customdata[1]}<extra></extra>"))
    decisions = result.decisions
    on_path = decisions[decisions.node.isin(path)].sort_values(["project", "node"])
    changed = on_path.action != on_path.groupby("project").action.shift()
    marks = on_path[changed]
    position = {q: i for i, q in enumerate(p.quarters)}
    for action, symbol in _ACTION_SYMBOLS.items():
        pick = marks[marks.action == action]
        if len(pick):
            fig.add_trace(go.Scatter(
                y=pick.project, x=[position[q] + 0.5 for q in pick.quarter], mode="markers", name=f"{action}",
                legendgroup="action", marker={"symbol": symbol, "size": 9, "color": ACTION_COLOURS[action],
                                              "line": {"width": 1, "color": "#222"}},
                text=[f"{share:.0%} of the project" for share in pick.share],
                hovertemplate="%{y} " + action + " at %{customdata}: %{text}<extra></extra>",
                customdata=list(pick.quarter)))
    ticks = [i for i, q in enumerate(p.quarters) if q.endswith("Q1")] or list(range(0, n_quarters, 4))
    likely = p.nodes.probability.to_numpy()[p.leaves][leaf]
    fig.update_layout(
        title=f"pacing Gantt along the most likely scenario (p={likely:.2f}): stages, and actions where they change",
        barmode="overlay", height=max(400, 18 * n_projects + 160), template="plotly_white",
        xaxis={"tickvals": ticks, "ticktext": [p.quarters[i] for i in ticks], "range": [0, n_quarters],
               "title": "quarter"},
        yaxis={"autorange": "reversed", "dtick": 1}, legend={"orientation": "h", "y": -0.08})
    return fig


def fleet_figure(result: PlanResult) -> go.Figure:
    """Expected GPUs by generation (thousands), stacked."""
    ds = result.dataset
    weighted = (ds.fleet_kgpu.sum("region") * ds.probability).groupby("quarter").sum()
    fig = go.Figure()
    generations = [str(g) for g in weighted.generation.to_numpy()]
    quarters = [str(q) for q in weighted.quarter.to_numpy()]
    for g in generations:
        fig.add_trace(go.Scatter(x=quarters, y=weighted.sel(generation=g).to_numpy(), stackgroup="fleet", name=g,
                                 line={"color": colour(g, generations)}))
    fig.update_layout(title="GPU fleet by generation (expected, thousand GPUs)", yaxis_title="kGPU", **_LAYOUT)
    return fig


def cash_and_npv_figure(result: PlanResult) -> go.Figure:
    """Mean cash flow per quarter and the NPV distribution of each policy, on fresh demand paths."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("mean cash flow per quarter (USD bn)",
                                                        "NPV distribution on fresh paths (USD bn)"))
    quarters = result.problem.quarters
    for policy in POLICIES:
        e = result.evaluation.get(policy)
        if not isinstance(e, dict) or "npv_quantiles_usd" not in e:
            continue
        flows = np.asarray(e["mean_cash_flow_usd"]) / 1e9
        colour = POLICY_COLOURS[policy]
        fig.add_trace(go.Scatter(x=quarters[: len(flows)], y=flows, name=policy, legendgroup=policy,
                                 line={"color": colour}), row=1, col=1)
        q = np.asarray(e["npv_quantiles_usd"]) / 1e9  # 0%, 5%, ..., 100%
        fig.add_trace(go.Box(name=policy, x=[policy], q1=[q[5]], median=[q[10]], q3=[q[15]], lowerfence=[q[1]],
                             upperfence=[q[19]], mean=[e["mean_npv_usd"] / 1e9], legendgroup=policy,
                             marker={"color": colour}, showlegend=False), row=1, col=2)
    fig.update_layout(title="cash flows and NPV per policy (whiskers 5-95%)", template="plotly_white")
    return fig


def market_flows_figure(result: MarketResult) -> go.Figure:
    """Released and absorbed MW per provider and quarter, and the contract events."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35],
                        subplot_titles=("capacity released (down) and absorbed (up), MW", "contract events"))
    released, absorbed = result.series("providers", "released_mw"), result.series("providers", "absorbed_mw")
    providers = list(result.provider_names)
    for p in result.provider_names:
        if released[p].abs().sum() > 0:
            fig.add_trace(go.Bar(x=result.quarters, y=-released[p], name=f"{p} released", legendgroup=p,
                                 marker={"color": colour(p, providers), "opacity": 0.55,
                                         "pattern": {"shape": "/"}}), row=1, col=1)
        if absorbed[p].abs().sum() > 0:
            fig.add_trace(go.Bar(x=result.quarters, y=absorbed[p], name=f"{p} absorbed", legendgroup=p,
                                 marker={"color": colour(p, providers)}), row=1, col=1)
    kinds = ["exception_used", "rofr_exercised", "rofr_declined", "demand_cut"]
    for i, kind in enumerate(kinds):
        events = [e for e in result.events if e["type"] == kind]
        if events:
            fig.add_trace(go.Scatter(
                x=[e["quarter"] for e in events], y=[kind] * len(events), mode="markers", name=kind,
                marker={"size": [6 + min(20, e["mw"] / 25) for e in events], "symbol": i},
                text=[f"{', '.join(e['parties'])}: {e['mw']:,.0f} MW" for e in events],
                hovertemplate="%{x} %{text}<extra></extra>"), row=2, col=1)
    fig.update_layout(barmode="relative", title="market flows", height=650, template="plotly_white")
    return fig


def tenant_money_figure(result: MarketResult) -> go.Figure:
    """Each budgeted tenant's compute spend and net income by year (USD bn)."""
    spend = result.by_year("tenants", "spend_usd") / 1e9
    net = result.by_year("tenants", "net_income_usd") / 1e9
    revenue = result.by_year("tenants", "revenue_usd").sum()
    tenants = list(result.tenant_names)
    fig = go.Figure()
    for t in result.tenant_names:
        fig.add_trace(go.Bar(x=list(spend.index), y=spend[t], name=f"{t} compute spend", legendgroup=t,
                             marker={"color": colour(t, tenants)}))
        if revenue[t] > 0:
            fig.add_trace(go.Scatter(x=list(net.index), y=net[t], name=f"{t} net income", mode="lines+markers",
                                     legendgroup=t, line={"color": colour(t, tenants), "dash": "dot"}))
    fig.update_layout(title="tenants: compute spend and net income by year (USD bn)", barmode="group",
                      template="plotly_white")
    return fig


def facts_figure(checks: list[dict[str, Any]]) -> go.Figure:
    """Reported vs simulated, one row per fact, on a common scale: each fact's band runs from 0 to 1, so a
    simulated value outside 0..1 is outside its band (drawn red; its hover says "OUTSIDE")."""
    from pacer._result import human
    from pacer.facts import quarter_number

    def position(value: Any, low: Any, high: Any) -> float | None:
        if value is None:
            return None
        if isinstance(value, str):
            value, low, high = quarter_number(value), quarter_number(str(low)), quarter_number(str(high))
        span = float(high) - float(low)
        if span <= 0:  # a point band: 0.5 on it, one band-width per unit (or quarter) off it
            scale = max(abs(float(low)) * 0.1, 1.0) if not isinstance(value, int) else 1.0
            return 0.5 + (float(value) - float(low)) / scale
        return (float(value) - float(low)) / span

    names = [c["name"] for c in checks][::-1]
    rows = checks[::-1]
    sim = [position(c["simulated"], c["low"], c["high"]) for c in rows]
    rep = [position(c["reported"], c["low"], c["high"]) for c in rows]
    shown = [None if v is None else max(min(v, 3.0), -2.0) for v in sim]
    fig = go.Figure()
    fig.add_trace(go.Bar(y=names, x=[1.0] * len(rows), base=[0.0] * len(rows), orientation="h", name="band",
                         marker_color="#dde8f3", hoverinfo="skip"))
    fig.add_trace(go.Scatter(y=names, x=rep, mode="markers", name="reported", marker={"symbol": "line-ns-open",
                             "size": 18, "color": "#1f4e79", "line": {"width": 3}},
                             text=[human(c["reported"], c["unit"]) for c in rows],
                             hovertemplate="%{y}: reported %{text}<extra></extra>"))
    fig.add_trace(go.Scatter(
        y=names, x=shown, mode="markers", name="simulated",
        marker={"size": 12, "color": ["#2ca02c" if c["within"] else "#d62728" for c in rows]},
        text=[f"{human(c['simulated'], c['unit'])} (band {human(c['low'], c['unit'])} .. {human(c['high'], c['unit'])})"
              + ("" if c["within"] else ", OUTSIDE") for c in rows],
        hovertemplate="%{y}: simulated %{text}<extra></extra>"))
    fig.update_layout(title="reported vs simulated: each fact's band scaled to 0..1 (red: outside its band)",
                      xaxis={"title": "position in the band", "range": [-2.1, 3.1], "zeroline": False},
                      barmode="overlay", template="plotly_white", height=120 + 34 * len(rows),
                      margin={"l": 320}, legend={"orientation": "h", "y": -0.15})
    return fig


def figures_of(result: Any) -> list[tuple[str, str, go.Figure]]:
    """The charts a run keeps: (name, title, figure), tidied for people (:func:`pacer.formatting.for_people`)."""
    return [(name, title, for_people(fig)) for name, title, fig in _figures_of(result)]


def _figures_of(result: Any) -> list[tuple[str, str, go.Figure]]:
    from pacer.demand.forecast import DemandForecast
    from pacer.report.demand import fan_figure

    if isinstance(result, DemandForecast):
        out = [("demand_fan", "demand fan charts by workload and region", fan_figure(result))]
        services = result.scenario.demand.inference
        if services:  # the cost-latency front of the first inference service's model
            from pacer.report.sizing import pareto_figure
            from pacer.sizing import size_search

            svc = services[0]
            search = size_search(svc.model, svc.input_tokens, svc.output_tokens, ttft_ms=svc.ttft_ms,
                                 tpot_ms=svc.tpot_ms)
            out.append(("sizing_pareto", f"sizing: cost vs latency for {svc.name}", pareto_figure(search)))
        return out
    if isinstance(result, PlanResult):
        out = [("capacity_vs_demand", "capacity vs demand per scenario", capacity_vs_demand_figure(result)),
               ("pacing_gantt", "pacing Gantt: stages and actions", pacing_gantt_figure(result)),
               ("gpu_fleet", "GPU fleet by generation", fleet_figure(result))]
        if any(isinstance(v, dict) and "npv_quantiles_usd" in v for v in result.evaluation.values()):
            out.append(("cash_and_npv", "cash flows and NPV distribution per policy", cash_and_npv_figure(result)))
        return out + _facts_figures(result)
    if isinstance(result, MarketResult):
        return [("market_flows", "market flows: released and absorbed MW, contract events",
                 market_flows_figure(result)),
                ("tenant_money", "tenants' compute spend and net income", tenant_money_figure(result)),
                *_facts_figures(result)]
    raise TypeError(f"no charts for {type(result).__name__}")


def _facts_figures(result: PlanResult | MarketResult) -> list[tuple[str, str, go.Figure]]:
    checks = result.facts()
    return [("facts", "reported vs simulated", facts_figure(checks))] if checks else []


def _h100e(result: PlanResult) -> Any:
    import xarray as xr

    g = result.problem.generations
    return xr.DataArray(g.h100e.to_numpy(), coords={"generation": g.accelerator.to_list()}, dims="generation")
