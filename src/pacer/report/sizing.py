"""Charts of sizing results."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from pacer.sizing.search import SearchResult


def pareto_figure(result: SearchResult) -> go.Figure:
    """Cost per million output tokens against time per output token, front highlighted."""
    frame = result.configurations
    fig = go.Figure()
    sample = frame.sample(min(len(frame), 5000), random_state=0) if len(frame) else frame
    fig.add_trace(go.Scatter(x=sample.tpot_s * 1e3, y=sample.usd_per_million_output_tokens, mode="markers",
                               marker={"size": 4, "opacity": 0.25}, name="configurations",
                               text=_layout_labels(sample), hoverinfo="text+x+y"))
    front = result.front  # sorted by latency: its labels are taken in its own order
    fig.add_trace(go.Scatter(x=front.tpot_s * 1e3, y=front.usd_per_million_output_tokens, mode="lines+markers",
                             name="Pareto front", text=_layout_labels(front), hoverinfo="text+x+y"))
    fig.update_layout(
        title=f"{result.model}: cost vs latency ({result.input_tokens} in / {result.output_tokens} out tokens)",
        xaxis_title="time per output token (ms)", yaxis_title="USD per million output tokens",
        yaxis_type="log", xaxis_type="log", template="plotly_white",
    )
    return fig


def _layout_labels(frame: pd.DataFrame) -> list[str]:
    """Each configuration's layout for a hover: accelerator, precision, TP, PP, batch."""
    return (frame.accelerator + " " + frame.precision + " TP" + frame.tensor_parallel.astype(str)
            + " PP" + frame.pipeline_parallel.astype(str) + " batch " + frame.batch.astype(int).astype(str)).tolist()
