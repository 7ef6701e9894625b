"""Charts of demand forecasts: fan charts of compute and power by workload."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pacer.demand.forecast import DemandForecast
from pacer.formatting import WORKLOAD_COLOURS, colour


def _rgb(hex_colour: str) -> str:
    return ", ".join(str(int(hex_colour[i:i + 2], 16)) for i in (1, 3, 5))


def fan_figure(result: DemandForecast) -> go.Figure:
    """Fan charts (5-95% and 25-75% bands, median, tree expectation) of H100e per workload, and MW."""
    q = result.quantiles
    quarters = [str(x) for x in q.quarter.to_numpy()]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("compute demand (H100-equivalents)",
                                                        "facility power (MW, expected per region)"))
    for workload in ("training", "inference", "total"):
        rgb = _rgb(WORKLOAD_COLOURS[workload])
        band = q.sel(workload=workload)
        for lo, hi, alpha in ((0.05, 0.95, 0.15), (0.25, 0.75, 0.3)):
            fig.add_trace(go.Scatter(x=quarters, y=band.sel(quantile=hi).to_numpy(), line={"width": 0},
                                     showlegend=False, hoverinfo="skip", legendgroup=workload), row=1, col=1)
            fig.add_trace(go.Scatter(x=quarters, y=band.sel(quantile=lo).to_numpy(), fill="tonexty",
                                     fillcolor=f"rgba({rgb}, {alpha})", line={"width": 0},
                                     name=f"{workload} {int(lo * 100)}-{int(hi * 100)}%", legendgroup=workload,
                                     showlegend=alpha > 0.2), row=1, col=1)
        fig.add_trace(go.Scatter(x=quarters, y=band.sel(quantile=0.5).to_numpy(), name=f"{workload} median",
                                 line={"color": f"rgb({rgb})"}, legendgroup=workload), row=1, col=1)
    mw = result.expected("facility_mw").sum("workload")
    regions = [str(r) for r in mw.region.to_numpy()]
    for region in regions:
        fig.add_trace(go.Scatter(x=quarters, y=mw.sel(region=region).to_numpy(), stackgroup="mw",
                                 name=f"{region} MW", line={"color": colour(region, regions)}), row=1, col=2)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_layout(title=f"{result.scenario.name}: demand under uncertainty ({result.tree.n_leaves} scenarios)",
                      template="plotly_white", hovermode="x unified")
    return fig
