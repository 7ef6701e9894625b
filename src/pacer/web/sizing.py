"""The sizing calculator's JSON API: an answer for people over :func:`pacer.sizing.size_inference`.

* ``POST /api/size/inference``: the inputs echoed, whether the model fits and meets the latency limits,
  one sentence why not, the numbers a person wants (labelled, in their units, formatted by
  :mod:`pacer.formatting`) and the ``size inference --json`` contract under ``raw``;
* ``GET /api/size/options?accelerator=ID``: the precisions and serving stacks that accelerator runs, and
  the models;
* ``POST /api/size/front``: the cost-latency Pareto front of a model on one accelerator (or all) as rows
  and a plotly figure.

The page is ``templates/size.html`` with ``static/size.js``.

Bad input raises :class:`~pacer.errors.PacerError` (or fails the request model): the app answers 422 with
one line naming the field.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

import pandas as pd
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from pacer._result import plain
from pacer.formatting import colour, for_people, plain_number, quantity

router = APIRouter()

Precision = Literal["bf16", "fp16", "fp8", "int8", "fp4", "w8a16", "w4a16"]
#: Most accelerators the calculator sizes for (the sizing layer itself allows more).
MAX_COUNT = 100_000


class SizeRequest(BaseModel):
    """The calculator's inputs; NaN, infinity and unknown fields are a 422 naming the field."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    model: str = Field(max_length=128)
    accelerator: str = Field(max_length=128)
    count: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    precision: Precision = "fp8"
    input_tokens: int = Field(default=1000, ge=1, le=10_000_000)
    output_tokens: int = Field(default=1000, ge=1, le=10_000_000)
    ttft_ms: float | None = Field(default=None, gt=0)
    tpot_ms: float | None = Field(default=None, gt=0)
    rate_rps: float | None = Field(default=None, gt=0)
    stack: str | None = Field(default=None, max_length=64)
    mode: Literal["aggregated", "disaggregated"] = "aggregated"
    tensor_parallel: int | None = Field(default=None, ge=1, le=1024)
    max_batch: int | None = Field(default=None, ge=1, le=10_000_000)


class FrontRequest(BaseModel):
    """A Pareto front's inputs: one model on one accelerator (``None``: every accelerator)."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    model: str = Field(max_length=128)
    accelerator: str | None = Field(default=None, max_length=128)
    precision: Precision | None = None
    input_tokens: int = Field(default=1000, ge=1, le=10_000_000)
    output_tokens: int = Field(default=1000, ge=1, le=10_000_000)
    ttft_ms: float | None = Field(default=None, gt=0)
    tpot_ms: float | None = Field(default=None, gt=0)
    stack: str | None = Field(default=None, max_length=64)


# -- the answer ------------------------------------------------------------------------------------
@router.post("/api/size/inference")
def size_inference_endpoint(body: SizeRequest) -> dict[str, Any]:
    """Size ``body.model`` on ``body.accelerator``: an answer for people and the raw contract."""
    from pacer.sizing import size_inference

    result = size_inference(body.model, body.accelerator, body.count, body.precision, body.input_tokens,
                            body.output_tokens, ttft_ms=body.ttft_ms, tpot_ms=body.tpot_ms,
                            rate_rps=body.rate_rps, stack=body.stack, mode=body.mode,
                            tensor_parallel=body.tensor_parallel, max_batch=body.max_batch)
    # A disaggregated search without a count tries many pool sizes: its count is no answer to quote.
    on = (result.accelerator if body.count is None and result.mode == "disaggregated"
          else f"{result.count:,} x {result.accelerator}")
    reason: str | None = None
    shown: str | None = None
    row: dict[str, Any] | None = None
    if not result.fits:
        reason = _memory_reason(result, body)
    elif not result.meets_latency:
        fastest = _fastest(result, body)
        reason = _latency_reason(result, body, fastest, on)
        if fastest is not None:
            row = _row_of(result, fastest)
            shown = f"the fastest layout on {on}: it misses the latency limits, it is not an answer"
    else:
        row = _row_of(result, None)
    return {
        "inputs": body.model_dump(),
        "summary": _summary(result, body, on),
        "fits": bool(result.fits),
        "meets_limits": bool(result.fits and result.meets_latency),
        "reason": reason,
        "shown": shown,
        "outputs": _outputs(result, body, row, flagged=reason is not None),
        "raw": plain(result.to_dict()),
    }


def _summary(result: Any, body: SizeRequest, on: str) -> str:
    """The decision in one line: what to deploy and what it gives, or that nothing does."""
    if not result.fits:
        return f"{result.model} does not fit {on} at {result.precision}"
    if not result.meets_latency:
        limits = _limits(body, "and")
        if body.rate_rps is not None and body.count is None and result.mode == "disaggregated":
            limits = " and ".join(x for x in (limits, quantity(body.rate_rps, "requests/s")) if x)
        return f"{result.model} fits {on} at {result.precision}" + (f" but misses {limits}" if limits else
                                                                     " but cannot be served there")
    if result.mode == "disaggregated":
        layout = f"{result.prefill_gpus:,} prefill + {result.decode_gpus:,} decode"
    else:
        layout = (f"TP{result.tensor_parallel} x PP{result.pipeline_parallel}, {result.replicas:,} "
                  f"replica{'s' if result.replicas != 1 else ''}")
    return (f"{result.model} on {on} at {result.precision} ({layout}): "
            f"{quantity(result.max_output_tokens_per_s, 'tok/s')} at "
            f"{quantity(result.usd_per_million_output_tokens, 'USD/Mtok')}, TPOT {quantity(result.tpot_s, 's')}")


def _memory_reason(result: Any, body: SizeRequest) -> str:
    from pacer.sizing import size_inference
    from pacer.sizing.inference import memory_breakdown

    m = memory_breakdown(result.model, result.accelerator, result.count, result.precision, result.input_tokens,
                         result.output_tokens, kv_precision=result.kv_precision)
    hbm = f"{m.accelerators:,} x {quantity(m.hbm_gb_per_accelerator, 'GB')} HBM"
    span = (f" (one replica spans at most {m.accelerators:,} of the {result.count:,} {result.accelerator})"
            if m.accelerators < result.count else f" ({result.accelerator})")
    need = (f"weights {quantity(m.weights_gb, 'GB')} + KV cache for one request "
            f"{quantity(m.kv_gb_per_request, 'GB')}")
    if m.needed_gb > m.usable_gb:
        text = f"{need} exceed the {quantity(m.usable_gb, 'GB')} usable of {hbm}{span}"
    else:
        text = f"{need} do not fit the {quantity(m.usable_gb, 'GB')} usable of {hbm}{span} once split over ranks"
    # The fewest that hold it, as a next step (memory alone: one aggregated replica, no limits).
    fewest = size_inference(result.model, result.accelerator, None, result.precision, result.input_tokens,
                            result.output_tokens, kv_precision=result.kv_precision, stack=body.stack)
    if fewest.fits:
        return f"{text}; it fits {fewest.count:,} x {result.accelerator}"
    return f"{text}; no layout of {result.accelerator} holds it at {result.precision}"


def _limits(body: SizeRequest, joiner: str) -> str:
    parts = [f"{name} <= {quantity(value, 'ms')}"
             for name, value in (("TTFT", body.ttft_ms), ("TPOT", body.tpot_ms)) if value is not None]
    return f" {joiner} ".join(parts)


def _usable_configurations(result: Any) -> pd.DataFrame:
    frame = result.configurations
    if not len(frame) or "tpot_s" not in frame:
        return frame.iloc[0:0]
    if "accelerators" in frame:
        frame = frame[frame.accelerators <= result.count]
    return frame


def _fastest(result: Any, body: SizeRequest) -> pd.Series | None:
    """The configuration closest to the limits: least of the worst ratio of latency to limit."""
    frame = _usable_configurations(result)
    if not len(frame):
        return None
    score = pd.Series(0.0, index=frame.index)
    for column, limit in (("ttft_s", body.ttft_ms), ("tpot_s", body.tpot_ms)):
        if limit is not None:
            score = score.combine(frame[column] * 1e3 / limit, max)
    order = frame.assign(_score=score).sort_values(["_score", "output_tokens_per_s"], ascending=[True, False])
    return order.iloc[0]


def _latency_reason(result: Any, body: SizeRequest, fastest: pd.Series | None, on: str) -> str:
    frame = _usable_configurations(result)
    what = "no disaggregated deployment" if result.mode == "disaggregated" else "no layout"
    if result.mode == "disaggregated":
        from pacer.sizing.disaggregated import MAX_AUTO_ACCELERATORS

        limits = _limits(body, "and")
        if body.count is None:
            # Without a count pacer sizes the pools itself, up to a bound, and a rate is a limit too.
            rate = f"{quantity(body.rate_rps, 'requests/s')}" if body.rate_rps is not None else ""
            wanted = " and ".join(x for x in (limits, rate) if x)
            on = f"of up to {MAX_AUTO_ACCELERATORS:,} {result.accelerator}"
            return f"{what} {on} meets {wanted}" if wanted else f"{what} {on} serves {result.model}"
        if limits:
            return f"{what} on {on} meets {limits}"
        return f"{what} on {on} serves {result.model}: a prefill and a decode pool need more accelerators"
    if fastest is None or not len(frame):
        return f"{what} on {on} meets {_limits(body, 'and')}"
    missed = [(name, column, limit) for name, column, limit in
              (("TTFT", "ttft_s", body.ttft_ms), ("TPOT", "tpot_s", body.tpot_ms))
              if limit is not None and frame[column].min() * 1e3 > limit]
    if len(missed) == 1:
        name, column, limit = missed[0]
        return (f"{what} meets {name} <= {quantity(limit, 'ms')}: the fastest on {on} is "
                f"{quantity(frame[column].min(), 's')}")
    if missed:
        return (f"{what} meets {_limits(body, 'or')}: the fastest on {on} reach TTFT "
                f"{quantity(frame.ttft_s.min(), 's')} and TPOT {quantity(frame.tpot_s.min(), 's')}")
    return (f"{what} meets {_limits(body, 'and')} at once on {on}: the closest has TTFT "
            f"{quantity(fastest.ttft_s, 's')} and TPOT {quantity(fastest.tpot_s, 's')}")


def _row_of(result: Any, config: pd.Series | None) -> dict[str, Any]:
    """The layout shown: the sized answer, or (limits missed) the configuration ``config``."""
    if config is None:
        replicas = max(result.replicas, 1)
        return {"tensor_parallel": result.tensor_parallel, "pipeline_parallel": result.pipeline_parallel,
                "replicas": result.replicas, "batch": result.batch, "max_batch": result.max_batch,
                "ttft_s": result.ttft_s, "tpot_s": result.tpot_s, "tokens_per_s": result.max_output_tokens_per_s,
                "requests_per_s": result.requests_per_s,
                "usd_per_million_output_tokens": result.usd_per_million_output_tokens,
                "weights_gb_per_gpu": result.weights_gb_per_gpu,
                "kv_gb_per_gpu": result.kv_gb_per_request * result.batch / replicas}
    replicas = int(config.replicas)
    tokens = float(config.output_tokens_per_s)
    return {"tensor_parallel": int(config.tensor_parallel), "pipeline_parallel": int(config.pipeline_parallel),
            "replicas": replicas, "batch": int(config.batch_per_replica * replicas),
            "max_batch": int(config.max_batch_per_replica * replicas), "ttft_s": float(config.ttft_s),
            "tpot_s": float(config.tpot_s), "tokens_per_s": tokens, "requests_per_s": tokens / result.output_tokens,
            "usd_per_million_output_tokens": result.usd_per_hour / (tokens * 3600) * 1e6 if tokens > 0 else math.inf,
            "weights_gb_per_gpu": float(config.weights_gb_per_gpu),
            "kv_gb_per_gpu": float(config.kv_gb_per_request * config.batch_per_replica)}


def _out(name: str, label: str, value: Any, text: str, flag: str | None = None) -> dict[str, Any]:
    return {"name": name, "label": label, "value": plain(value), "text": text, "flag": flag}


def _outputs(result: Any, body: SizeRequest, row: dict[str, Any] | None, *, flagged: bool) -> list[dict[str, Any]]:
    """The numbers a person wants, each labelled and formatted; ``flag`` says why one is not an answer."""
    from pacer.catalog import get_accelerator

    hbm_gb = get_accelerator(result.accelerator).hbm_gb
    miss = "misses the latency limits" if flagged and result.fits else None
    out = [
        _out("accelerators", "accelerators", result.count, f"{quantity(result.count, 'GPUs')} x {result.accelerator}",
             miss),
        _out("precision", "precision (weights / KV cache), stack", result.precision,
             f"{result.precision} / {result.kv_precision}, {result.stack}"),
    ]
    if not result.fits:
        from pacer.sizing.inference import memory_breakdown

        m = memory_breakdown(result.model, result.accelerator, result.count, result.precision, result.input_tokens,
                             result.output_tokens, kv_precision=result.kv_precision)
        out.append(_out("memory_needed_gb", "memory needed (weights + one request's KV cache)", m.needed_gb,
                        f"{quantity(m.needed_gb, 'GB')}; {quantity(m.usable_gb, 'GB')} usable",
                        "does not fit"))
        return out
    if row is not None:
        if result.mode == "disaggregated":
            layout = (f"prefill {result.prefill_gpus:,}: {result.prefill_layout}; "
                      f"decode {result.decode_gpus:,}: {result.decode_layout}")
            out.append(_out("layout", "layout (disaggregated)", layout, layout, miss))
        else:
            tp, pp, replicas = row["tensor_parallel"], row["pipeline_parallel"], row["replicas"]
            out.append(_out("layout", "layout (tensor x pipeline parallel)", f"TP{tp} x PP{pp}",
                            f"TP{tp} x PP{pp}, {replicas:,} replica{'s' if replicas != 1 else ''}", miss))
        batch = row["batch"]
        out.append(_out("batch", "batch (requests at once)", batch,
                        f"{batch:,} request{'s' if batch != 1 else ''} (at most {row['max_batch']:,})", miss))
        for name, label, key, limit in (("ttft_ms", "time to first token (TTFT)", "ttft_s", body.ttft_ms),
                                        ("tpot_ms", "time per output token (TPOT)", "tpot_s", body.tpot_ms)):
            ms = row[key] * 1e3
            over = limit is not None and not ms <= limit
            text = quantity(ms, "ms") + (f" (limit {quantity(limit, 'ms')})" if limit is not None else "")
            out.append(_out(name, label, ms, text,
                            f"over the {quantity(limit, 'ms')} limit" if over else miss))
        out += [
            _out("output_tokens_per_s", "throughput (output tokens/s)", row["tokens_per_s"],
                 f"{quantity(row['tokens_per_s'], 'tok/s')} ({quantity(row['requests_per_s'], 'requests/s')})", miss),
            _out("usd_per_million_output_tokens", "cost per million output tokens",
                 row["usd_per_million_output_tokens"], quantity(row["usd_per_million_output_tokens"], "USD/Mtok"),
                 miss),
        ]
    out += [
        _out("usd_per_hour", "rent", result.usd_per_hour, quantity(result.usd_per_hour, "USD/h")),
        _out("power_kw", "power (servers; all-in IT)", result.power_kw,
             f"{quantity(result.power_kw, 'kW')}; {quantity(result.it_power_kw, 'kW')} all-in"),
    ]
    if row is not None:
        if result.mode == "disaggregated":
            out.append(_out("memory_gb_per_gpu", "weights per decode GPU", row["weights_gb_per_gpu"],
                            f"{quantity(row['weights_gb_per_gpu'], 'GB')} of {quantity(hbm_gb, 'GB')} HBM"))
        else:
            used = row["weights_gb_per_gpu"] + row["kv_gb_per_gpu"]
            out.append(_out("memory_gb_per_gpu", "memory per GPU (weights + KV cache)", used,
                            f"{quantity(used, 'GB')} of {quantity(hbm_gb, 'GB')} HBM "
                            f"(weights {quantity(row['weights_gb_per_gpu'], 'GB')})"))
    if body.rate_rps is not None:
        needed = result.accelerators_needed
        rate = quantity(body.rate_rps, "requests/s")
        if needed is None:
            out.append(_out("accelerators_needed", f"accelerators for {rate}", None, "-",
                            "no layout serves it within the limits"))
        else:
            short = body.count is not None and needed > body.count
            out.append(_out("accelerators_needed", f"accelerators for {rate}", needed,
                            f"{quantity(needed, 'GPUs')} x {result.accelerator}",
                            f"more than the {body.count:,} given" if short else None))
    return out


# -- options ---------------------------------------------------------------------------------------
@router.get("/api/size/options")
def size_options(accelerator: str | None = Query(default=None, max_length=128),
                 stack: str | None = Query(default=None, max_length=64)) -> dict[str, Any]:
    """What the form offers: the precisions ``accelerator`` computes at (and its serving stack runs), the
    stacks that run on it, the accelerators and the models."""
    from pacer.catalog import get_accelerator, load_catalog, load_efficiency
    from pacer.sizing.hardware import PRECISIONS

    catalog = load_catalog()
    answer: dict[str, Any] = {
        "accelerators": [{"id": a.id, "hbm_gb": a.hbm_gb, "vendor": a.vendor} for a in catalog.accelerators.values()],
        "models": [{"id": m.id, "name": m.name, "params_b": m.total_params_b, "max_context": m.max_context}
                   for m in catalog.models.values()],
    }
    if accelerator is None:
        return plain(answer)
    spec = get_accelerator(accelerator)
    stacks = load_efficiency().stacks
    name, _ = stacks.resolve("serving", stack, spec)
    allowed = stacks.stacks[name].precisions
    precisions = [p for p in PRECISIONS if spec.peak_tflops(p) > 0 and (allowed is None or p in allowed)]
    default = next((p for p in ("fp8", "bf16") if p in precisions), precisions[0] if precisions else None)
    runs_on = [s for s in stacks.names("serving") if spec.vendor in stacks.stacks[s].families]
    return plain(answer | {"accelerator": spec.id, "precisions": precisions, "default_precision": default,
                           "stack": name, "stacks": runs_on})


# -- the cost-latency front ------------------------------------------------------------------------
_FRONT_COLUMNS = ("accelerator", "precision", "stack", "tensor_parallel", "pipeline_parallel", "accelerators",
                  "batch", "ttft_s", "tpot_s", "output_tokens_per_s", "usd_per_hour", "usd_per_million_output_tokens")


@router.post("/api/size/front")
def size_front(body: FrontRequest) -> dict[str, Any]:
    """The cheapest USD per million output tokens at each time per output token (the Pareto front) of
    ``body.model`` on ``body.accelerator`` (``None``: every accelerator), within the latency limits."""
    from pacer.catalog import get_accelerator, get_model
    from pacer.errors import InputError
    from pacer.sizing import size_search
    from pacer.sizing.hardware import check_precision

    get_model(body.model)
    accelerators = None
    if body.accelerator is not None:
        spec = get_accelerator(body.accelerator)
        if body.precision is not None:
            check_precision(spec, body.precision)
        accelerators = [spec.id]
    # The search reads fp16 as bf16 (the same peak everywhere) and leaves it out as a duplicate.
    precision = "bf16" if body.precision == "fp16" else body.precision
    args: dict[str, Any] = dict(accelerators=accelerators, precisions=[precision] if precision else None,
                                stack=body.stack)
    try:
        result = size_search(body.model, body.input_tokens, body.output_tokens, ttft_ms=body.ttft_ms,
                             tpot_ms=body.tpot_ms, **args)
    except InputError as exc:
        if exc.field != "precisions":
            raise
        where = body.accelerator or "any accelerator" + (f" running {body.stack}" if body.stack else "")
        raise InputError("precision", body.precision, f"not offered on {where}") from exc
    front = result.front
    limited = body.ttft_ms is not None or body.tpot_ms is not None
    unlimited = size_search(body.model, body.input_tokens, body.output_tokens, **args).front if limited else None
    where = body.accelerator or "any accelerator"
    reason = None
    if not len(front):
        limits = " and ".join(f"{n} <= {quantity(v, 'ms')}" for n, v in (("TTFT", body.ttft_ms),
                                                                          ("TPOT", body.tpot_ms)) if v is not None)
        fits_somewhere = unlimited is not None and len(unlimited) > 0
        reason = (f"no configuration of {body.model} on {where} meets {limits}" if fits_somewhere
                  else f"{body.model} fits no configuration on {where}")
    return {
        "inputs": body.model_dump(),
        "configurations": len(result.configurations),
        "reason": reason,
        "rows": [_front_row(r) for r in front.to_dict("records")],
        "figure": _front_figure(body, front, unlimited),
    }


def _layout_text(r: dict[Any, Any]) -> str:
    return (f"{r['accelerator']} {r['precision']} TP{int(r['tensor_parallel'])} x PP{int(r['pipeline_parallel'])}, "
            f"batch {int(r['batch']):,}")


def _front_row(r: dict[Any, Any]) -> dict[str, Any]:
    row = {k: r[k] for k in _FRONT_COLUMNS if k in r}
    row["text"] = {"layout": _layout_text(r), "tpot": quantity(r["tpot_s"], "s"), "ttft": quantity(r["ttft_s"], "s"),
                   "cost": quantity(r["usd_per_million_output_tokens"], "USD/Mtok"),
                   "throughput": quantity(r["output_tokens_per_s"], "tok/s")}
    return plain(row)


def _hover(r: dict[Any, Any]) -> str:
    return (f"{_layout_text(r)}<br>TPOT {quantity(r['tpot_s'], 's')}, TTFT {quantity(r['ttft_s'], 's')}<br>"
            f"{quantity(r['usd_per_million_output_tokens'], 'USD/Mtok')}, "
            f"{quantity(r['output_tokens_per_s'], 'tok/s')} per replica")


def _xy(rows: list[dict[Any, Any]]) -> dict[str, list[float]]:
    return {"x": [r["tpot_s"] * 1e3 for r in rows], "y": [r["usd_per_million_output_tokens"] for r in rows]}


def _front_figure(body: FrontRequest, front: pd.DataFrame, unlimited: pd.DataFrame | None) -> dict[str, Any]:
    import plotly.graph_objects as go

    fig = go.Figure()
    if unlimited is not None and len(unlimited):
        rows = unlimited.to_dict("records")
        fig.add_trace(go.Scatter(**_xy(rows), mode="lines", name="front without the limits",
                                 line={"color": "#bbbbbb", "dash": "dot"}, hovertext=[_hover(r) for r in rows],
                                 hoverinfo="text"))
    rows = front.to_dict("records")
    if rows:
        fig.add_trace(go.Scatter(**_xy(rows), mode="lines", name="Pareto front", line={"color": "#3c3c3c", "width": 1},
                                 hoverinfo="skip", showlegend=False))
    names = sorted({r["accelerator"] for r in rows})
    for name in names:
        mine = [r for r in rows if r["accelerator"] == name]
        fig.add_trace(go.Scatter(**_xy(mine), mode="markers", name=name,
                                 marker={"size": 7, "color": colour(name, names)},
                                 hovertext=[_hover(r) for r in mine], hoverinfo="text"))
    costs = [y for trace in fig.data for y in (trace.y or ()) if y is not None and math.isfinite(y)]
    if body.tpot_ms is not None and costs:
        # A trace, not a shape: shapes and annotations read log axes differently.
        fig.add_trace(go.Scatter(x=[body.tpot_ms, body.tpot_ms], y=[min(costs), max(costs)], mode="lines",
                                 name=f"TPOT limit {quantity(body.tpot_ms, 'ms')}",
                                 line={"color": "#b00020", "dash": "dash"}, hoverinfo="name"))
    where = body.accelerator or "every accelerator"
    fig.update_layout(
        title=f"{body.model} on {where}: cost against time per output token "
              f"({body.input_tokens:,} in / {body.output_tokens:,} out tokens)",
        xaxis_title="time per output token (ms)", yaxis_title="USD per million output tokens",
        xaxis_type="log", yaxis_type="log", template="plotly_white", margin={"t": 60},
        legend={"orientation": "h", "y": -0.2},
    )
    for_people(fig)
    xs = [x for trace in fig.data for x in (trace.x or ()) if x is not None and x > 0 and math.isfinite(x)]
    ys = [y for trace in fig.data for y in (trace.y or ()) if y is not None and y > 0 and math.isfinite(y)]
    if xs and ys:
        # Plotly's own log ticks read "2", "5" between decades: every tick in full, 1-2-5 steps.
        x_ticks, y_ticks = _log_ticks(min(xs), max(xs)), _log_ticks(min(ys), max(ys))
        fig.update_xaxes(tickvals=x_ticks, ticktext=[plain_number(v) for v in x_ticks])
        fig.update_yaxes(tickvals=y_ticks, ticktext=["$" + plain_number(v) for v in y_ticks])
    return dict(json.loads(fig.to_json()))


def _log_ticks(low: float, high: float) -> list[float]:
    """1-2-5 steps covering ``low`` to ``high`` (one step beyond each end), for a log axis."""
    ticks = [m * 10.0**k for k in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1)
             for m in (1, 2, 5)]
    inside = [i for i, t in enumerate(ticks) if low <= t <= high]
    first, last = (inside[0], inside[-1]) if inside else (next(i for i, t in enumerate(ticks) if t > low),) * 2
    return [float(f"{t:.6g}") for t in ticks[max(first - 1, 0): last + 2]]
