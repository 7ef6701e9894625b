"""Sizing an inference service: memory fit, latency, throughput, accelerators, power and cost."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from pacer._result import Result, plain
from pacer.catalog import Efficiency, get_accelerator, get_model, load_efficiency, load_facilities
from pacer.catalog.schema import Accelerator
from pacer.errors import InputError
from pacer.sizing.hardware import bytes_per_value, check_precision, default_kv_precision, hardware_of
from pacer.sizing.roofline import Hardware, ModelShape, inference_performance, kv_bytes_per_sequence

#: Batch sizes tried per layout (a geometric grid; each layout's own largest batch is added).
BATCH_GRID = np.unique(np.round(np.geomspace(1, 8192, 60)))
#: Serving modes: every replica prefills and decodes, or separate prefill and decode pools.
MODES = ("aggregated", "disaggregated")
#: Largest pipeline depth considered when a model does not fit one scale-up domain.
MAX_PIPELINE_STAGES = 16
#: Largest tensor-parallel degree considered: beyond it per-rank GEMMs are too thin to pay off, even
#: inside very large scale-up domains such as a TPU pod or an NVL72 rack.
MAX_TENSOR_PARALLEL = 64


def _powers_of_two(limit: int) -> list[int]:
    return [2**i for i in range(int(math.log2(max(limit, 1))) + 1)]


def layouts(accelerator: Accelerator, count: int | None) -> pd.DataFrame:
    """Model-parallel layouts (tensor x pipeline) to try, with replicas on ``count`` accelerators.

    Tensor parallelism stays inside one scale-up domain; pipeline stages span domains. Accelerators
    left over after whole replicas sit idle, so more accelerators never allow fewer layouts.
    With ``count=None`` every layout is listed with one replica.
    """
    tps = _powers_of_two(min(accelerator.scaleup_domain, MAX_TENSOR_PARALLEL))
    pps = _powers_of_two(MAX_PIPELINE_STAGES)
    grid = pd.DataFrame([(tp, pp) for tp in tps for pp in pps], columns=["tensor_parallel", "pipeline_parallel"])
    group = grid.tensor_parallel * grid.pipeline_parallel
    grid["replicas"] = 1 if count is None else count // group
    return grid[grid.replicas >= 1].reset_index(drop=True)


@dataclass(repr=False)
class InferenceResult(Result):
    """The answer of :func:`size_inference`: the best configuration and the grid behind it."""

    title = "inference sizing"

    model: str
    accelerator: str
    count: int
    precision: str
    kv_precision: str
    stack: str
    input_tokens: int
    output_tokens: int
    fits: bool
    tensor_parallel: int
    pipeline_parallel: int
    replicas: int
    max_batch: int
    batch: int
    ttft_s: float
    tpot_s: float
    max_output_tokens_per_s: float
    requests_per_s: float
    weights_gb_per_gpu: float
    kv_gb_per_request: float
    power_kw: float
    it_power_kw: float
    usd_per_hour: float
    usd_per_million_output_tokens: float
    meets_latency: bool
    rate_rps: float | None = None
    accelerators_needed: int | None = None
    mode: str = "aggregated"
    prefill_gpus: int | None = None
    decode_gpus: int | None = None
    decode_output_tokens_per_s: float | None = None
    prefill_layout: str | None = None
    decode_layout: str | None = None
    kv_transfer_ms: float | None = None
    configurations: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_dict(self) -> dict[str, Any]:
        """Every scalar field as JSON-ready values (the CLI's ``--json`` contract); the pools of a
        disaggregated deployment only where it is one."""
        pools = ("prefill_gpus", "decode_gpus", "decode_output_tokens_per_s", "prefill_layout", "decode_layout",
                 "kv_transfer_ms")
        out = {k: v for k, v in self.__dict__.items()
               if k != "configurations" and not (self.mode == "aggregated" and k in pools)}
        out["output_tokens_per_s_per_gpu"] = self.max_output_tokens_per_s / max(self.count, 1)
        return plain(out)

    def to_frame(self) -> pd.DataFrame:
        """Every evaluated (layout, batch) configuration, one row each."""
        return self.configurations.copy()

    def summary_rows(self) -> list[tuple[str, Any]]:
        rows: list[tuple[str, Any]] = [
            ("model", self.model),
            ("accelerator", f"{self.count} x {self.accelerator}"),
            ("precision (weights / KV)", f"{self.precision} / {self.kv_precision}"),
            ("serving stack", self.stack),
            ("tokens in / out", f"{self.input_tokens} / {self.output_tokens}"),
            ("fits", self.fits),
        ]
        if self.fits:
            if self.mode == "disaggregated":
                rows += [
                    ("mode", "disaggregated (prefill and decode pools)"),
                    ("prefill pool", f"{self.prefill_gpus} accelerators: {self.prefill_layout}"),
                    ("decode pool", f"{self.decode_gpus} accelerators: {self.decode_layout}"),
                    ("decode batch (all replicas)", self.batch),
                    ("KV transfer per request (ms)", self.kv_transfer_ms),
                ]
            else:
                rows += [
                    ("layout", f"TP{self.tensor_parallel} x PP{self.pipeline_parallel} x {self.replicas} replicas"),
                    ("max batch (all replicas)", self.max_batch),
                    ("batch used", self.batch),
                ]
            rows += [("TTFT (ms)", self.ttft_s * 1e3), ("TPOT (ms)", self.tpot_s * 1e3),
                     ("output tokens/s", self.max_output_tokens_per_s)]
            if self.mode == "disaggregated":
                rows.append(("output tokens/s (decode pool capacity)", self.decode_output_tokens_per_s))
            rows += [
                ("requests/s", self.requests_per_s),
                ("power (kW, servers)", self.power_kw),
                ("IT power (kW, all in)", self.it_power_kw),
                ("USD per million output tokens", self.usd_per_million_output_tokens),
            ]
        if self.rate_rps is not None:
            rows += [("rate (requests/s)", self.rate_rps), ("accelerators needed", self.accelerators_needed)]
        return rows


@dataclass(frozen=True)
class MemoryBreakdown:
    """What one replica must hold against the HBM of the accelerators it may span (GB): the reason a
    model does or does not fit, in numbers (:func:`memory_breakdown`)."""

    #: Every weight of the model at the weight precision.
    weights_gb: float
    #: KV cache of one request at full length (prompt and output tokens), all layers, not yet split over
    #: ranks.
    kv_gb_per_request: float
    #: Accelerators one replica may span within the count (the largest tensor x pipeline layout).
    accelerators: int
    hbm_gb_per_accelerator: float
    #: HBM left for weights and KV cache over those accelerators (usable share less activation reserve).
    usable_gb: float

    @property
    def hbm_gb(self) -> float:
        return self.accelerators * self.hbm_gb_per_accelerator

    @property
    def needed_gb(self) -> float:
        """Weights plus the KV cache of one request: the least one replica must hold."""
        return self.weights_gb + self.kv_gb_per_request


def memory_breakdown(
    model: str,
    accelerator: str,
    count: int | None,
    precision: str,
    input_tokens: int,
    output_tokens: int,
    *,
    kv_precision: str | None = None,
    efficiency: Efficiency | None = None,
) -> MemoryBreakdown:
    """Weights and one request's KV cache against the usable HBM of the largest replica that ``count``
    accelerators allow (``None``: the largest layout pacer tries), as :func:`size_inference` counts them.

    A model fits when one request's KV cache fits beside the weights on every rank; ``needed_gb >
    usable_gb`` says it cannot on any layout (a KV cache that is not split over tensor ranks, as with
    MLA, can fail sooner)."""
    spec = get_accelerator(accelerator)
    check_precision(spec, precision)
    kv_precision = kv_precision or default_kv_precision(precision)
    eff = efficiency or load_efficiency()
    grid = layouts(spec, count)
    span = int((grid.tensor_parallel * grid.pipeline_parallel).max()) if len(grid) else 0
    shape = _shape(model)
    kv_bytes = bytes_per_value(kv_precision, "kv_precision")
    kv = float(kv_bytes_per_sequence(shape, input_tokens + output_tokens, kv_bytes))
    usable = eff.inference.memory_usable_fraction.value - eff.inference.activation_reserve_fraction.value
    return MemoryBreakdown(
        weights_gb=shape.total_params * bytes_per_value(precision) / 1e9, kv_gb_per_request=kv / 1e9,
        accelerators=span, hbm_gb_per_accelerator=spec.hbm_gb, usable_gb=span * spec.hbm_gb * usable)


def serving_layouts(spec: Accelerator, count: int | None, tensor_parallel: int | None = None,
                    max_batch: float | None = None) -> pd.DataFrame:
    """:func:`layouts` at a stated configuration: only the given tensor-parallel degree (a degree no layout
    has is an :class:`InputError` naming the ones there are), and no more replicas than ``max_batch``
    requests (the other accelerators sit idle)."""
    grid = layouts(spec, count)
    if tensor_parallel is not None:
        chosen = grid[grid.tensor_parallel == tensor_parallel].reset_index(drop=True)
        if chosen.empty:
            allowed = ", ".join(str(t) for t in sorted(grid.tensor_parallel.unique()))
            where = f"{count} x {spec.id}" if count else spec.id
            raise InputError("tensor_parallel", tensor_parallel, f"must be one of {allowed} on {where}")
        grid = chosen
    if max_batch is not None:
        grid = grid.assign(replicas=np.minimum(grid.replicas, max_batch))
    return grid


def _positive_int(name: str, value: int | None) -> None:
    if value is not None and (not isinstance(value, int | np.integer) or value < 1):
        raise InputError(name, value, "must be a positive integer")


#: Largest deployment and request rate one sizing answers (beyond them every number is an overflow).
MAX_ACCELERATORS = 10_000_000
MAX_RATE_RPS = 1e9


def check_context(model: str, input_tokens: int, output_tokens: int) -> None:
    """A request must fit the model's context window (prompt and generated tokens together)."""
    window = get_model(model).max_context
    if input_tokens + output_tokens > window:
        raise InputError("input_tokens", input_tokens, f"with output_tokens {output_tokens}, exceeds {model}'s "
                         f"context of {window:,} tokens")


def _positive(name: str, value: float | None) -> None:
    if value is not None and not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise InputError(name, value, "must be > 0")


def performance_over_batches(
    shape: ModelShape, hw: Hardware, evaluate: Callable[..., dict[str, np.ndarray]] = inference_performance,
    *, max_batch: float | None = None, replicas: np.ndarray | None = None, **kwargs: Any
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Evaluate column-shaped configurations (n, 1) at every batch of ``BATCH_GRID`` and at their own
    largest batch with ``evaluate`` (a roofline of :mod:`pacer.sizing.roofline`); returns the
    (n, batches) batch array and the performance arrays.

    ``max_batch`` caps the requests running at once over a whole deployment of ``replicas`` (n, 1)
    replicas (an engine's ``max_num_seqs``, a benchmark's batch or concurrency): each replica runs at most
    its share, and the engine default ``max_batch_per_replica`` gives way to it (the memory does not).
    """
    share = None
    if max_batch is not None:
        # The average share of a replica (replicas beyond max_batch are left idle by the callers).
        share = max_batch / (np.ones((1, 1)) if replicas is None else replicas)
        engine = kwargs["eff"].max_batch_per_replica
        kwargs["eff"] = kwargs["eff"].model_copy(update={"max_batch_per_replica": engine.model_copy(
            update={"value": max(engine.value, float(share.max()))})})
    cap = evaluate(shape, hw, batch=None, **kwargs)["max_batch"]
    if share is not None:
        cap = np.minimum(cap, share)
    batch = np.concatenate([np.broadcast_to(BATCH_GRID, (cap.shape[0], len(BATCH_GRID))), cap], axis=1)
    perf = evaluate(shape, hw, batch=batch, **kwargs)
    if share is not None:
        perf["max_batch"] = np.broadcast_to(cap, perf["max_batch"].shape).copy()
    return batch, perf


def power_and_cost(spec: Accelerator, count: int) -> tuple[float, float, float]:
    """Server power (kW), all-in IT power (kW) and rental USD per hour of ``count`` accelerators."""
    power_kw = count * spec.server_power_per_accelerator_w / 1e3
    return power_kw, power_kw * (1.0 + load_facilities().network_storage_overhead.value), \
        count * spec.rental_usd_per_hour


def evaluate_grid(
    model_id: str,
    accelerator: Accelerator,
    grid: pd.DataFrame,
    precision: str,
    kv_precision: str,
    input_tokens: int,
    output_tokens: int,
    efficiency: Efficiency,
    stack_factor: float = 1.0,
    max_batch: int | None = None,
) -> pd.DataFrame:
    """Evaluate layouts x batch sizes in one vectorised call; one row per feasible (layout, batch).
    ``max_batch``: most requests running at once over the deployment (:func:`performance_over_batches`)."""
    shape = ModelShape.of(get_model(model_id))
    hw = hardware_of([accelerator], [precision], [kv_precision], efficiency.inference, [stack_factor])
    tp = grid.tensor_parallel.to_numpy(float)[:, None]
    pp = grid.pipeline_parallel.to_numpy(float)[:, None]
    kwargs: dict[str, Any] = dict(
        weight_bytes=bytes_per_value(precision), kv_bytes=bytes_per_value(kv_precision, "kv_precision"),
        tp=tp, pp=pp, input_tokens=input_tokens, output_tokens=output_tokens, eff=efficiency.inference,
    )
    replicas = grid.replicas.to_numpy(float)[:, None]
    batch, perf = performance_over_batches(shape, hw, max_batch=max_batch, replicas=replicas, **kwargs)
    n = batch.shape[1]
    frame = pd.DataFrame({
        "tensor_parallel": np.repeat(grid.tensor_parallel.to_numpy(), n),
        "pipeline_parallel": np.repeat(grid.pipeline_parallel.to_numpy(), n),
        "replicas": np.repeat(grid.replicas.to_numpy(), n),
        "max_batch_per_replica": np.broadcast_to(perf["max_batch"], batch.shape).ravel(),
        "batch_per_replica": batch.ravel(),
        "ttft_s": perf["ttft_s"].ravel(),
        "tpot_s": perf["tpot_s"].ravel(),
        "output_tokens_per_s": (perf["tokens_per_s"] * replicas).ravel(),
        "replica_tokens_per_s": perf["tokens_per_s"].ravel(),
        "weights_gb_per_gpu": np.broadcast_to(perf["weights_gb_per_gpu"], batch.shape).ravel(),
        "kv_gb_per_request": np.broadcast_to(perf["kv_gb_per_request"], batch.shape).ravel(),
    })
    feasible = (frame.batch_per_replica >= 1) & (frame.batch_per_replica <= frame.max_batch_per_replica)
    return frame[feasible].drop_duplicates(["tensor_parallel", "pipeline_parallel", "batch_per_replica"])


def size_inference(
    model: str,
    accelerator: str,
    count: int | None = None,
    precision: str = "bf16",
    input_tokens: int = 1000,
    output_tokens: int = 1000,
    *,
    ttft_ms: float | None = None,
    tpot_ms: float | None = None,
    rate_rps: float | None = None,
    kv_precision: str | None = None,
    stack: str | None = None,
    mode: str = "aggregated",
    prefill_gpus: int | None = None,
    decode_gpus: int | None = None,
    expert_parallel: int | None = None,
    tensor_parallel: int | None = None,
    max_batch: int | None = None,
    efficiency: Efficiency | None = None,
) -> InferenceResult:
    """Size an inference service of ``model`` on ``accelerator``.

    Parameters
    ----------
    model, accelerator
        Catalog ids (``pacer catalog models`` / ``pacer catalog accelerators``).
    count
        Accelerators available. ``None``: the fewest that fit one replica (or, with ``rate_rps``,
        the fewest that serve the rate).
    precision
        Weight and GEMM precision (bf16, fp16, fp8, int8, fp4).
    input_tokens, output_tokens
        Prompt and generated tokens per request.
    ttft_ms, tpot_ms
        Latency limits (time to first token, time per output token); batches beyond them are dropped.
    rate_rps
        Requests per second the service must sustain; answers ``accelerators_needed``.
    kv_precision
        KV-cache precision; by default fp8 for 8- and 4-bit weights, else the weight precision.
    stack
        Serving stack (``pacer catalog stacks``: tuned, trtllm, vllm, sglang, jetstream); by default the
        accelerator vendor's usual stack. Its factor on the vendor scales every step time.
    mode
        ``aggregated`` (every replica prefills and decodes) or ``disaggregated`` (separate prefill and
        decode pools, :mod:`pacer.sizing.disaggregated`).
    prefill_gpus, decode_gpus
        Accelerators of each pool of a disaggregated deployment; chosen by pacer when not given.
    expert_parallel
        Expert-parallel degree of the decode pool of a disaggregated mixture-of-experts deployment
        (wide EP, DeepSeek-V3 style); chosen by pacer among 8-256 when not given.
    tensor_parallel
        Tensor-parallel degree of every replica (aggregated mode); by default the best one.
    max_batch
        Most requests running at once over the whole deployment (aggregated mode): an engine's
        ``max_num_seqs``, a benchmark's batch or concurrency. Each replica runs at most its share; by
        default as many as the memory holds, up to ``max_batch_per_replica`` per replica.
    efficiency
        Efficiency factors; defaults to the calibrated ``catalog/efficiency.yaml``.

    Returns
    -------
    InferenceResult
        Fit, layout, max batch, TTFT/TPOT (s), output tokens/s over all accelerators, power (kW) and
        USD per million output tokens at the best batch within the latency limits.
    """
    spec = get_accelerator(accelerator)
    get_model(model)
    check_precision(spec, precision)
    kv_precision = kv_precision or default_kv_precision(precision)
    bytes_per_value(kv_precision, "kv_precision")
    _positive_int("count", count)
    if count is not None and count > MAX_ACCELERATORS:
        raise InputError("count", count, f"must be at most {MAX_ACCELERATORS:,} accelerators")
    _positive_int("input_tokens", input_tokens)
    _positive_int("output_tokens", output_tokens)
    check_context(model, input_tokens, output_tokens)
    for name, value in (("ttft_ms", ttft_ms), ("tpot_ms", tpot_ms), ("rate_rps", rate_rps)):
        _positive(name, value)
    if rate_rps is not None and rate_rps > MAX_RATE_RPS:
        raise InputError("rate_rps", rate_rps, f"must be at most {MAX_RATE_RPS:,.0f} requests per second")
    eff = efficiency or load_efficiency()
    stack, stack_factor = eff.stacks.resolve("serving", stack, spec, precision)
    if mode not in MODES:
        raise InputError("mode", mode, "must be one of " + ", ".join(MODES))
    _positive_int("prefill_gpus", prefill_gpus)
    _positive_int("decode_gpus", decode_gpus)
    _positive_int("expert_parallel", expert_parallel)
    _positive_int("tensor_parallel", tensor_parallel)
    _positive_int("max_batch", max_batch)
    if max_batch is not None and max_batch > MAX_ACCELERATORS:
        raise InputError("max_batch", max_batch, f"must be at most {MAX_ACCELERATORS:,} requests")
    if max_batch is not None and mode == "aggregated" and count is None:
        raise InputError("max_batch", max_batch, "caps the requests over a deployment: give its --count too")
    if max_batch is not None and rate_rps is not None:
        raise InputError("max_batch", max_batch, "caps a deployment of --count accelerators, while --rate sizes "
                         "one: give one of them")
    if mode == "aggregated":
        for name, value in (("prefill_gpus", prefill_gpus), ("decode_gpus", decode_gpus),
                            ("expert_parallel", expert_parallel)):
            if value is not None:
                raise InputError(name, value, "applies to --mode disaggregated only")
    else:
        for name, value in (("tensor_parallel", tensor_parallel), ("max_batch", max_batch)):
            if value is not None:
                raise InputError(name, value, "applies to --mode aggregated only")
        from pacer.sizing.disaggregated import size_disaggregated

        return size_disaggregated(
            model, accelerator, count, precision, input_tokens, output_tokens, kv_precision=kv_precision,
            stack=stack, stack_factor=stack_factor, ttft_ms=ttft_ms, tpot_ms=tpot_ms, prefill_gpus=prefill_gpus,
            decode_gpus=decode_gpus, expert_parallel=expert_parallel, rate_rps=rate_rps, efficiency=eff)

    grid = serving_layouts(spec, count, tensor_parallel, max_batch)
    frame = evaluate_grid(model, spec, grid, precision, kv_precision, input_tokens, output_tokens, eff,
                          stack_factor, max_batch)
    within = np.ones(len(frame), dtype=bool)
    if ttft_ms is not None:
        within &= frame.ttft_s.to_numpy() * 1e3 <= ttft_ms
    if tpot_ms is not None:
        within &= frame.tpot_s.to_numpy() * 1e3 <= tpot_ms
    frame = frame.assign(
        within_latency=within,
        accelerators=frame.tensor_parallel * frame.pipeline_parallel * frame.replicas,
    )

    needed: int | None = None
    if rate_rps is not None:
        per_replica_rps = frame.replica_tokens_per_s / output_tokens
        group = frame.tensor_parallel * frame.pipeline_parallel
        frame["accelerators_for_rate"] = np.where(
            within & (per_replica_rps > 0),
            np.ceil(rate_rps / per_replica_rps.where(per_replica_rps > 0, np.nan)) * group,
            np.inf,
        )
        feasible = frame[np.isfinite(frame.accelerators_for_rate)]
        if len(feasible):
            needed = int(feasible.accelerators_for_rate.min())
            if count is None:
                best_for_rate = feasible.sort_values(["accelerators_for_rate", "ttft_s"]).iloc[0]
                group_size = int(best_for_rate.tensor_parallel * best_for_rate.pipeline_parallel)
                count = needed
                frame = frame[(frame.tensor_parallel * frame.pipeline_parallel == group_size)].copy()
                frame["replicas"] = count // group_size
                frame["output_tokens_per_s"] = frame.replica_tokens_per_s * frame.replicas
                frame["accelerators"] = count
    if count is None:
        fitting = frame[frame.within_latency]
        groups = fitting.tensor_parallel * fitting.pipeline_parallel
        count = int(groups.min()) if len(fitting) else int(grid.tensor_parallel.max())
        frame = frame[(frame.tensor_parallel * frame.pipeline_parallel) == count].copy()

    used = frame[frame.accelerators <= count]
    ok = used[used.within_latency]
    total_max_batch = int((used.max_batch_per_replica * used.replicas).max()) if len(used) else 0
    power_kw, it_power_kw, usd_per_hour = power_and_cost(spec, count)

    if len(ok):
        best = ok.sort_values(["output_tokens_per_s", "ttft_s"], ascending=[False, True]).iloc[0]
    elif len(used):
        best = used.sort_values("output_tokens_per_s", ascending=False).iloc[0]
    else:
        best = None
    tokens_per_s = float(best.output_tokens_per_s) if best is not None and len(ok) else 0.0
    return InferenceResult(
        model=model, accelerator=accelerator, count=int(count), precision=precision,
        kv_precision=kv_precision, stack=stack, input_tokens=input_tokens, output_tokens=output_tokens,
        fits=total_max_batch >= 1,
        tensor_parallel=int(best.tensor_parallel) if best is not None else 0,
        pipeline_parallel=int(best.pipeline_parallel) if best is not None else 0,
        replicas=int(best.replicas) if best is not None else 0,
        max_batch=total_max_batch,
        batch=int(best.batch_per_replica * best.replicas) if best is not None else 0,
        ttft_s=float(best.ttft_s) if best is not None else math.inf,
        tpot_s=float(best.tpot_s) if best is not None else math.inf,
        max_output_tokens_per_s=tokens_per_s,
        requests_per_s=tokens_per_s / output_tokens,
        weights_gb_per_gpu=float(best.weights_gb_per_gpu) if best is not None else math.nan,
        kv_gb_per_request=float(best.kv_gb_per_request) if best is not None else math.nan,
        power_kw=power_kw, it_power_kw=it_power_kw, usd_per_hour=usd_per_hour,
        usd_per_million_output_tokens=usd_per_hour / (tokens_per_s * 3600) * 1e6 if tokens_per_s else math.inf,
        meets_latency=bool(len(ok)), rate_rps=rate_rps, accelerators_needed=needed,
        configurations=frame.reset_index(drop=True),
    )


def max_output_tokens_per_s(
    model: str,
    accelerator: str,
    count: int,
    precision: str,
    input_tokens: float,
    output_tokens: float,
    *,
    stack: str | None = None,
    stack_factor: float | None = None,
    efficiency: Efficiency | None = None,
    tensor_parallel: int | None = None,
    max_batch: float | None = None,
) -> float:
    """Output tokens/s of ``count`` accelerators at the best layout and batch, with no latency limit
    (``tensor_parallel`` and ``max_batch`` as in :func:`size_inference`).

    The same numbers as ``size_inference(...).max_output_tokens_per_s`` without building result
    tables: the calibration evaluates it thousands of times. ``stack_factor`` overrides the stack's
    factor (the calibration fits those factors).
    """
    spec = get_accelerator(accelerator)
    eff = efficiency or load_efficiency()
    if stack_factor is None:
        _, stack_factor = eff.stacks.resolve("serving", stack, spec, precision)
    kv_precision = default_kv_precision(precision)
    tp, pp, replicas = _layout_arrays(accelerator, count, tensor_parallel, max_batch)
    if tp.size == 0:
        return 0.0
    hw = hardware_of([spec], [precision], [kv_precision], eff.inference, [stack_factor])
    batch, perf = performance_over_batches(
        _shape(model), hw, weight_bytes=bytes_per_value(precision), kv_bytes=bytes_per_value(kv_precision),
        tp=tp, pp=pp, input_tokens=input_tokens, output_tokens=output_tokens, eff=eff.inference,
        max_batch=max_batch, replicas=replicas)
    feasible = (batch >= 1) & (batch <= perf["max_batch"])
    return float(np.where(feasible, perf["tokens_per_s"] * replicas, 0.0).max())


@lru_cache(maxsize=256)
def _layout_arrays(accelerator: str, count: int | None, tensor_parallel: int | None = None,
                   max_batch: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    grid = serving_layouts(get_accelerator(accelerator), count, tensor_parallel, max_batch)
    return tuple(grid[c].to_numpy(float)[:, None] for c in ("tensor_parallel", "pipeline_parallel", "replicas"))  # type: ignore[return-value]


@lru_cache(maxsize=256)
def _shape(model: str) -> ModelShape:
    return ModelShape.of(get_model(model))
