"""Configuration search: every accelerator x precision x parallelism x batch in one numpy call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pacer._result import Result, plain
from pacer.catalog import Efficiency, get_accelerator, get_model, load_catalog, load_efficiency
from pacer.errors import InputError
from pacer.sizing.hardware import PRECISIONS, bytes_per_value, default_kv_precision, hardware_of
from pacer.sizing.inference import check_context, layouts, performance_over_batches
from pacer.sizing.roofline import ModelShape


def pareto_front(cost: np.ndarray, latency: np.ndarray) -> np.ndarray:
    """Boolean mask of points no other point beats on both ``cost`` and ``latency`` (lower is better)."""
    order = np.lexsort((cost, latency))
    best_cost = np.minimum.accumulate(cost[order])
    # A point is on the front when it is strictly cheaper than everything at lower or equal latency.
    previous = np.concatenate([[np.inf], best_cost[:-1]])
    mask = np.zeros(len(cost), dtype=bool)
    mask[order] = cost[order] < previous
    return mask


@dataclass(repr=False)
class SearchResult(Result):
    """Every feasible configuration of :func:`size_search` and its Pareto front."""

    title = "configuration search"

    model: str
    input_tokens: int
    output_tokens: int
    configurations: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def front(self) -> pd.DataFrame:
        """The Pareto front: cheapest USD per million output tokens at each time per output token."""
        frame = self.configurations
        return frame[frame.on_front].sort_values("tpot_s").reset_index(drop=True)

    def to_frame(self) -> pd.DataFrame:
        return self.configurations.copy()

    def to_dict(self) -> dict[str, Any]:
        cheapest = self.configurations.nsmallest(1, "usd_per_million_output_tokens")
        return plain({
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "configurations": len(self.configurations),
            "cheapest": cheapest.to_dict("records")[0] if len(cheapest) else None,
            "front": self.front.drop(columns=["on_front"]).to_dict("records"),
        })

    def summary_rows(self) -> list[tuple[str, Any]]:
        rows: list[tuple[str, Any]] = [("model", self.model),
                                       ("configurations evaluated", len(self.configurations)),
                                       ("on the Pareto front", int(self.configurations.on_front.sum()))]
        front = self.front
        picks = np.unique(np.linspace(0, len(front) - 1, min(len(front), 12)).round().astype(int))
        records: list[dict[Any, Any]] = front.iloc[picks].to_dict("records") if len(front) else []
        for r in records:
            layout = (f"disaggregated {int(r['prefill_gpus'])}+{int(r['decode_gpus'])}"
                      if r.get("mode") == "disaggregated" else f"TP{r['tensor_parallel']}xPP{r['pipeline_parallel']}")
            rows.append((f"{r['accelerator']} {r['precision']} {layout} batch {int(r['batch'])}",
                         f"{r['tpot_s'] * 1e3:.1f} ms/token, ${r['usd_per_million_output_tokens']:.3g}/Mtok"))
        return rows


def size_search(
    model: str,
    input_tokens: int = 1000,
    output_tokens: int = 1000,
    *,
    accelerators: Sequence[str] | None = None,
    precisions: Sequence[str] | None = None,
    ttft_ms: float | None = None,
    tpot_ms: float | None = None,
    stack: str | None = None,
    modes: Sequence[str] = ("aggregated",),
    efficiency: Efficiency | None = None,
) -> SearchResult:
    """Evaluate every accelerator x precision x (tensor, pipeline) layout x batch for ``model``.

    All combinations are stacked into arrays and evaluated by one call of the roofline model; the
    result keeps every configuration that fits within the latency limits, with its cost per million
    output tokens (catalog rental price) and whether it lies on the cost-latency Pareto front.
    Each accelerator is served by ``stack`` where that stack runs on it (accelerators it does not run on
    are left out), else by its vendor's default stack. ``modes`` adds, with ``disaggregated``, the best
    disaggregated deployment pacer sizes per accelerator and precision (prefill and decode pools, wide
    expert parallelism for MoE models); such rows carry ``prefill_gpus`` and ``decode_gpus``.
    """
    from pacer.sizing.inference import MODES

    for m in modes:
        if m not in MODES:
            raise InputError("modes", m, "must be among " + ", ".join(MODES))
    get_model(model)
    catalog = load_catalog()
    accelerator_ids = list(accelerators or catalog.accelerators)
    specs = [get_accelerator(a, "accelerators") for a in accelerator_ids]
    for p in precisions or ():
        if p not in PRECISIONS:
            raise InputError("precisions", p, "must be among " + ", ".join(PRECISIONS))
    for name, value in (("ttft_ms", ttft_ms), ("tpot_ms", tpot_ms)):
        if value is not None and not value > 0:
            raise InputError(name, value, "must be > 0")
    if input_tokens < 1 or output_tokens < 1:
        raise InputError("input_tokens/output_tokens", (input_tokens, output_tokens), "must be >= 1")
    check_context(model, input_tokens, output_tokens)
    eff = efficiency or load_efficiency()
    if stack is not None:
        families = eff.stacks.get("serving", stack).families
        runs_on = [s for s in specs if s.vendor in families]
        if not runs_on:
            raise InputError("stack", stack, "runs on none of these accelerators (it runs on "
                             + ", ".join(families) + ")")
        specs = runs_on

    rows = []
    for spec in specs:
        for precision in precisions or PRECISIONS:
            if spec.peak_tflops(precision) <= 0 or precision == "fp16":
                continue
            allowed = eff.stacks.stacks[eff.stacks.resolve("serving", stack, spec)[0]].precisions
            if allowed is not None and precision not in allowed:
                continue
            grid = layouts(spec, None)
            grid["accelerator"], grid["precision"] = spec.id, precision
            grid["stack"], grid["stack_factor"] = eff.stacks.resolve("serving", stack, spec)
            rows.append(grid)
    if not rows:
        raise InputError("precisions", list(precisions or []), "no accelerator supports these precisions")
    table = pd.concat(rows, ignore_index=True)
    spec_of = {s.id: s for s in specs}
    row_specs = [spec_of[a] for a in table.accelerator]
    kv = [default_kv_precision(p) for p in table.precision]
    hw = hardware_of(row_specs, list(table.precision), kv, eff.inference, table.stack_factor.to_numpy(float))
    col = lambda a: np.asarray(a, dtype=float)[:, None]  # noqa: E731
    hw = type(hw)(**{k: col(v) for k, v in hw.__dict__.items()})
    kwargs: dict[str, Any] = dict(
        weight_bytes=col([bytes_per_value(p) for p in table.precision]),
        kv_bytes=col([bytes_per_value(p) for p in kv]),
        tp=col(table.tensor_parallel), pp=col(table.pipeline_parallel),
        input_tokens=input_tokens, output_tokens=output_tokens, eff=eff.inference,
    )
    shape = ModelShape.of(get_model(model))
    batch, perf = performance_over_batches(shape, hw, **kwargs)

    n = batch.shape[1]
    group = (table.tensor_parallel * table.pipeline_parallel).to_numpy()
    usd_per_hour = np.array([s.rental_usd_per_hour for s in row_specs]) * group
    frame = pd.DataFrame({
        "accelerator": np.repeat(table.accelerator.to_numpy(), n),
        "precision": np.repeat(table.precision.to_numpy(), n),
        "stack": np.repeat(table["stack"].to_numpy(), n),
        "tensor_parallel": np.repeat(table.tensor_parallel.to_numpy(), n),
        "pipeline_parallel": np.repeat(table.pipeline_parallel.to_numpy(), n),
        "accelerators": np.repeat(group, n),
        "batch": batch.ravel(),
        "max_batch": np.broadcast_to(perf["max_batch"], batch.shape).ravel(),
        "ttft_s": perf["ttft_s"].ravel(),
        "tpot_s": perf["tpot_s"].ravel(),
        "output_tokens_per_s": perf["tokens_per_s"].ravel(),
        "usd_per_hour": np.repeat(usd_per_hour, n),
    })
    ok = (frame.batch >= 1) & (frame.batch <= frame.max_batch)
    if ttft_ms is not None:
        ok &= frame.ttft_s * 1e3 <= ttft_ms
    if tpot_ms is not None:
        ok &= frame.tpot_s * 1e3 <= tpot_ms
    frame = frame[ok].drop_duplicates(["accelerator", "precision", "tensor_parallel",
                                       "pipeline_parallel", "batch"]).reset_index(drop=True)
    frame["mode"] = "aggregated"
    if "aggregated" not in modes:
        frame = frame.iloc[0:0]
    if "disaggregated" in modes:
        frame = pd.concat([frame, _disaggregated_rows(model, table, input_tokens, output_tokens, ttft_ms, tpot_ms,
                                                      eff)], ignore_index=True)
    frame["usd_per_million_output_tokens"] = frame.usd_per_hour / (frame.output_tokens_per_s * 3600) * 1e6
    frame["on_front"] = pareto_front(frame.usd_per_million_output_tokens.to_numpy(), frame.tpot_s.to_numpy())
    return SearchResult(model=model, input_tokens=input_tokens, output_tokens=output_tokens,
                        configurations=frame)


def _disaggregated_rows(model: str, table: pd.DataFrame, input_tokens: int, output_tokens: int,
                        ttft_ms: float | None, tpot_ms: float | None, eff: Efficiency) -> pd.DataFrame:
    """The disaggregated deployment pacer sizes for each accelerator and precision of the search."""
    from pacer.sizing.disaggregated import size_disaggregated

    rows = []
    for (accelerator, precision, stack, factor), _ in table.groupby(
            ["accelerator", "precision", "stack", "stack_factor"], sort=False):
        result = size_disaggregated(model, str(accelerator), None, str(precision), input_tokens, output_tokens,
                                    kv_precision=default_kv_precision(str(precision)), stack=str(stack),
                                    stack_factor=float(factor),  # type: ignore[arg-type]
                                    ttft_ms=ttft_ms, tpot_ms=tpot_ms, efficiency=eff)
        if result.max_output_tokens_per_s <= 0:
            continue
        rows.append({"accelerator": accelerator, "precision": precision, "stack": stack, "tensor_parallel": 0,
                     "pipeline_parallel": 0, "accelerators": result.count, "batch": result.batch,
                     "max_batch": result.max_batch, "ttft_s": result.ttft_s, "tpot_s": result.tpot_s,
                     "output_tokens_per_s": result.max_output_tokens_per_s, "usd_per_hour": result.usd_per_hour,
                     "mode": "disaggregated", "prefill_gpus": result.prefill_gpus, "decode_gpus": result.decode_gpus,
                     "decode_layout": result.decode_layout})
    return pd.DataFrame(rows)
