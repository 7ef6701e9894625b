"""Disaggregated serving: separate prefill and decode pools, their ratio, and wide expert parallelism.

A disaggregated deployment runs prompts on a **prefill pool** and generates tokens on a **decode
pool**; each request's KV cache moves from one to the other (over the scale-up link when both pools
sit in one scale-up domain, such as a GB200 NVL72 rack, else over the scale-out network). Neither pool
waits for the other's kind of work, so the decode pool runs at its memory-bound best and the prefill
pool at its compute-bound best. The deployment serves ``min(prefill rate, decode rate)`` requests per
second; pacer picks the layouts of both pools and how many accelerators each gets (or takes them from
``prefill_gpus`` / ``decode_gpus``). For mixture-of-experts models the decode pool may use wide expert
parallelism (``expert_parallel`` 8 to 256 accelerators, :func:`~pacer.sizing.roofline.wide_ep_decode`).

Everything is evaluated in arrays: every prefill layout x every decode configuration x every split of
the accelerators at once.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pacer.catalog import Efficiency, get_accelerator, get_model, load_efficiency
from pacer.catalog.schema import Accelerator
from pacer.errors import InputError
from pacer.sizing.hardware import bytes_per_value, hardware_of
from pacer.sizing.inference import InferenceResult, layouts, performance_over_batches, power_and_cost
from pacer.sizing.roofline import ModelShape, inference_performance, kv_bytes_per_sequence, wide_ep_decode

#: Expert-parallel degrees tried for the decode pool of a MoE model (DeepSeek-V3 serves with 32-144).
EXPERT_PARALLEL = (8, 16, 32, 64, 72, 128, 144, 256)
#: Deployments within this share of the best score count as equally good; the smallest is chosen.
NEAR_BEST = 0.02
#: Largest deployment pacer sizes on its own when no accelerator count is given.
MAX_AUTO_ACCELERATORS = 288


#: Prefill replica counts tried: every count up to this one, then steps of :data:`REPLICA_STEP` (a pool of
#: thousands of accelerators is not sized to the single replica: its throughput moves by less than the step,
#: and the work and memory of the search stay bounded whatever the count).
EXACT_REPLICAS = 128
REPLICA_STEP = 0.01


def replica_counts(max_total: int) -> np.ndarray:
    """The numbers of prefill replicas the search tries for a deployment of at most ``max_total``."""
    if max_total <= EXACT_REPLICAS:
        return np.arange(1, max_total + 1, dtype=float)
    steps = int(np.ceil(np.log(max_total / EXACT_REPLICAS) / np.log1p(REPLICA_STEP))) + 1
    tail = np.round(np.geomspace(EXACT_REPLICAS, max_total, steps))
    return np.unique(np.concatenate([np.arange(1, EXACT_REPLICAS + 1), tail])).astype(float)


def _best_batches(batch: np.ndarray, perf: dict[str, np.ndarray], streams: Any, out: int,
                  tpot_ms: float | None) -> dict[str, np.ndarray]:
    """Per configuration (row), the batch that decodes the most requests/s within the TPOT limit.

    ``streams`` running batches per replica: 1 for a tensor x pipeline replica, ``ep`` for an
    expert-parallel group whose accelerators each run their own batch (pure decode: every running
    request emits one token per step)."""
    ok = (batch >= 1) & (batch <= perf["max_batch"])
    if tpot_ms is not None:
        ok &= perf["tpot_s"] * 1e3 <= tpot_ms
    rate = np.where(ok, streams * batch / perf["tpot_s"] / out, 0.0)
    rows, best = np.arange(batch.shape[0]), rate.argmax(axis=1)

    def take(values: Any) -> np.ndarray:
        return np.broadcast_to(values, batch.shape)[rows, best]

    return {"rate": rate[rows, best], "tpot_s": take(perf["tpot_s"]), "batch": take(streams * batch),
            "weights_gb": take(perf["weights_gb_per_gpu"]), "kv_gb": take(perf["kv_gb_per_request"])}


def _decode_options(spec: Accelerator, shape: ModelShape, hw: Any, precision: str, kv_precision: str,
                    inp: int, out: int, eff: Efficiency, tpot_ms: float | None,
                    expert_parallel: int | None, limit: int) -> dict[str, np.ndarray]:
    """Per decode configuration (layout or EP degree, best batch within the limits): accelerators per
    replica (``group``), requests/s per replica, TPOT, batch, and a label."""
    common: dict[str, Any] = dict(weight_bytes=bytes_per_value(precision),
                                  kv_bytes=bytes_per_value(kv_precision, "kv_precision"),
                                  input_tokens=inp, output_tokens=out, eff=eff.inference)
    parts = []
    if expert_parallel is None:
        grid = layouts(spec, None)
        tp = grid.tensor_parallel.to_numpy(float)[:, None]
        pp = grid.pipeline_parallel.to_numpy(float)[:, None]
        batch, perf = performance_over_batches(shape, hw, tp=tp, pp=pp, **common)
        labels = [f"TP{int(t)} x PP{int(p)}" for t, p in zip(tp[:, 0], pp[:, 0], strict=True)]
        parts.append(_best_batches(batch, perf, 1.0, out, tpot_ms)
                     | {"group": (tp * pp)[:, 0], "label": np.array(labels)})
    degrees = [expert_parallel] if expert_parallel is not None else [e for e in EXPERT_PARALLEL if e <= limit]
    if shape.experts and degrees:
        ep = np.array(degrees, dtype=float)[:, None]
        batch, perf = performance_over_batches(shape, hw, evaluate=wide_ep_decode, ep=ep,
                                               scaleup_domain=spec.scaleup_domain, **common)
        parts.append(_best_batches(batch, perf, ep, out, tpot_ms)
                     | {"group": ep[:, 0], "label": np.array([f"EP{d} (data-parallel attention)" for d in degrees])})
    if not parts:
        return {"group": np.zeros(0)}
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def size_disaggregated(
    model: str,
    accelerator: str,
    count: int | None,
    precision: str,
    input_tokens: int,
    output_tokens: int,
    *,
    kv_precision: str,
    stack: str,
    stack_factor: float,
    ttft_ms: float | None = None,
    tpot_ms: float | None = None,
    prefill_gpus: int | None = None,
    decode_gpus: int | None = None,
    expert_parallel: int | None = None,
    rate_rps: float | None = None,
    efficiency: Efficiency | None = None,
) -> InferenceResult:
    """Size a disaggregated deployment (inputs checked by :func:`~pacer.sizing.size_inference`)."""
    spec, arch = get_accelerator(accelerator), get_model(model)
    eff = efficiency or load_efficiency()
    shape = ModelShape.of(arch)
    if (prefill_gpus is None) != (decode_gpus is None):
        raise InputError("prefill_gpus/decode_gpus", (prefill_gpus, decode_gpus), "give both or neither")
    if prefill_gpus is not None and decode_gpus is not None:
        if count is not None and prefill_gpus + decode_gpus != count:
            raise InputError("count", count, f"must equal prefill_gpus + decode_gpus = {prefill_gpus + decode_gpus}")
        count = prefill_gpus + decode_gpus
    if count is not None and count < 2:
        raise InputError("count", count, "a disaggregated deployment needs at least 2 accelerators "
                         "(one prefill, one decode)")
    if expert_parallel is not None:
        if not arch.is_moe:
            raise InputError("expert_parallel", expert_parallel,
                             f"{model} is a dense model; expert parallelism needs a mixture-of-experts model")
        if expert_parallel < 2:
            raise InputError("expert_parallel", expert_parallel, "must be at least 2")
        if decode_gpus is not None and decode_gpus % expert_parallel:
            raise InputError("expert_parallel", expert_parallel,
                             f"must divide decode_gpus ({decode_gpus})")
    limit = decode_gpus if decode_gpus is not None else (count - 1 if count is not None else MAX_AUTO_ACCELERATORS)
    hw = hardware_of([spec], [precision], [kv_precision], eff.inference, [stack_factor])
    wb, kb = bytes_per_value(precision), bytes_per_value(kv_precision, "kv_precision")

    # Prefill pool: every layout; the time a prompt occupies a replica does not depend on batch.
    grid = layouts(spec, None)
    tp = grid.tensor_parallel.to_numpy(float)[:, None]
    pp = grid.pipeline_parallel.to_numpy(float)[:, None]
    pre = inference_performance(shape, hw, weight_bytes=wb, kv_bytes=kb, tp=tp, pp=pp, batch=1,
                                input_tokens=input_tokens, output_tokens=1, eff=eff.inference)
    p_group = (tp * pp)[:, 0]
    p_ok = pre["max_batch"][:, 0] >= 1
    p_rate = np.where(p_ok, 1.0 / pre["prefill_busy_s"][:, 0], 0.0)  # requests/s per replica
    p_latency = pre["prefill_latency_s"][:, 0]
    dec = _decode_options(spec, shape, hw, precision, kv_precision, input_tokens, output_tokens, eff,
                          tpot_ms, expert_parallel, max(limit, 1))
    if dec["group"].size == 0 or not p_ok.any():
        return _no_fit(model, spec, count or 2, precision, kv_precision, stack, input_tokens, output_tokens)

    # KV cache of a prompt moves to the decode pool: inside one scale-up domain over its link, else over
    # the scale-out network (both at the link efficiency), spread over the prefill replica's accelerators.
    kv_bytes = float(kv_bytes_per_sequence(shape, input_tokens, kb))
    in_domain = (count or MAX_AUTO_ACCELERATORS) <= spec.scaleup_domain
    link_gbps = spec.scaleup_gbps if in_domain else spec.scaleout_gbps
    per_gpu_link = link_gbps * 1e9 * eff.inference.scaleup_link_efficiency.value
    transfer_s = kv_bytes / (per_gpu_link * p_group)

    # Every (prefill layout, decode option, number of prefill replicas).
    P, D = len(p_group), len(dec["group"])  # noqa: N806
    max_total = count if count is not None else MAX_AUTO_ACCELERATORS
    k = replica_counts(max_total)
    pg, dg = p_group[:, None, None], dec["group"][None, :, None]
    prefill_n = np.broadcast_to(k[None, None, :] * pg, (P, D, len(k))).copy()
    if prefill_gpus is not None:
        # The given pools; accelerators left over after whole replicas sit idle.
        prefill_n = np.where(k[None, None, :] == 1, float(prefill_gpus), np.nan) + 0.0 * prefill_n
        decode_n = np.full_like(prefill_n, float(decode_gpus or 0))
    elif count is not None:
        decode_n = np.floor((count - prefill_n) / dg) * dg
    else:
        # pacer's own split: the decode share that balances the two pools, in whole replicas.
        balance = (p_rate[:, None, None] / pg) / np.maximum(dec["rate"][None, :, None] / dg, 1e-30)
        decode_n = np.ceil(prefill_n * balance / dg) * dg
    decode_n = np.broadcast_to(decode_n, prefill_n.shape)
    decode_replicas = np.floor(decode_n / dg)
    prefill_replicas = np.floor(prefill_n / pg)
    rps = np.minimum(prefill_replicas * p_rate[:, None, None], decode_replicas * dec["rate"][None, :, None])
    total = prefill_n + decode_n
    ttft = (p_latency[:, None, None] + transfer_s[:, None, None] + dec["tpot_s"][None, :, None]) + 0.0 * k
    ok = (np.isfinite(rps) & (decode_replicas >= 1) & (prefill_replicas >= 1) & (total <= max_total)
          & (dec["rate"][None, :, None] > 0) & p_ok[:, None, None])
    if ttft_ms is not None:
        ok &= ttft * 1e3 <= ttft_ms
    if rate_rps is not None and count is None:
        ok &= rps >= rate_rps
    score = np.where(ok, rps if count is not None else rps / np.maximum(total, 1), -np.inf)
    if not np.isfinite(score).any():
        # Without limits nothing feasible means the model does not fit the pools; with them, ask again
        # without them to tell the two apart.
        limited = ttft_ms is not None or tpot_ms is not None or rate_rps is not None
        fits = limited and size_disaggregated(
            model, accelerator, count, precision, input_tokens, output_tokens, kv_precision=kv_precision,
            stack=stack, stack_factor=stack_factor, prefill_gpus=prefill_gpus, decode_gpus=decode_gpus,
            expert_parallel=expert_parallel, efficiency=eff).fits
        return _no_fit(model, spec, count or 2, precision, kv_precision, stack, input_tokens, output_tokens,
                       fits=fits)
    # The smallest deployment within 2% of the best score (per accelerator when pacer sizes it).
    near = ok & (score >= score[np.isfinite(score)].max() * (1 - NEAR_BEST))
    flat = np.lexsort((-score.ravel(), np.where(near, total, np.inf).ravel()))[0]
    i, j, m = np.unravel_index(flat, score.shape)
    n_prefill, n_decode = int(prefill_n[i, j, m]), int(decode_n[i, j, m])
    used = count if count is not None else n_prefill + n_decode
    requests = float(rps[i, j, m])
    decode_tokens = float(decode_replicas[i, j, m] * dec["rate"][j] * output_tokens)
    power_kw, it_power_kw, usd_per_hour = power_and_cost(spec, used)
    tokens = requests * output_tokens
    needed = None
    if rate_rps is not None:
        per_gpu = requests / (n_prefill + n_decode)
        needed = math.ceil(rate_rps / per_gpu) if per_gpu > 0 else None
    return InferenceResult(
        model=model, accelerator=spec.id, count=int(used), precision=precision, kv_precision=kv_precision,
        stack=stack, input_tokens=input_tokens, output_tokens=output_tokens, fits=True,
        tensor_parallel=int(tp[i, 0]), pipeline_parallel=int(pp[i, 0]), replicas=int(prefill_replicas[i, j, m]),
        max_batch=int(dec["batch"][j] * decode_replicas[i, j, m]),
        batch=int(dec["batch"][j] * decode_replicas[i, j, m]),
        ttft_s=float(ttft[i, j, m]), tpot_s=float(dec["tpot_s"][j]), max_output_tokens_per_s=tokens,
        requests_per_s=requests, weights_gb_per_gpu=float(dec["weights_gb"][j]),
        kv_gb_per_request=float(dec["kv_gb"][j]), power_kw=power_kw,
        it_power_kw=it_power_kw, usd_per_hour=usd_per_hour,
        usd_per_million_output_tokens=usd_per_hour / (tokens * 3600) * 1e6 if tokens else math.inf,
        meets_latency=True, rate_rps=rate_rps, accelerators_needed=needed,
        mode="disaggregated", prefill_gpus=n_prefill, decode_gpus=n_decode, decode_output_tokens_per_s=decode_tokens,
        prefill_layout=f"TP{int(tp[i, 0])} x PP{int(pp[i, 0])} x {int(prefill_replicas[i, j, m])} replicas",
        decode_layout=f"{dec['label'][j]} x {int(decode_replicas[i, j, m])} replicas",
        kv_transfer_ms=float(transfer_s[i]) * 1e3,
    )


def _no_fit(model: str, spec: Accelerator, count: int, precision: str, kv_precision: str, stack: str,
            inp: int, out: int, fits: bool = False) -> InferenceResult:
    """A deployment that cannot serve: the model does not fit (``fits`` False), or it fits but no
    layout meets the latency limits."""
    power_kw, it_power_kw, usd_per_hour = power_and_cost(spec, count)
    return InferenceResult(
        model=model, accelerator=spec.id, count=count, precision=precision, kv_precision=kv_precision, stack=stack,
        input_tokens=inp, output_tokens=out, fits=fits, tensor_parallel=0, pipeline_parallel=0,
        replicas=0, max_batch=0, batch=0, ttft_s=math.inf, tpot_s=math.inf, max_output_tokens_per_s=0.0,
        requests_per_s=0.0, weights_gb_per_gpu=math.nan, kv_gb_per_request=math.nan, power_kw=power_kw,
        it_power_kw=it_power_kw, usd_per_hour=usd_per_hour, usd_per_million_output_tokens=math.inf,
        meets_latency=False, mode="disaggregated", prefill_gpus=0, decode_gpus=0, decode_output_tokens_per_s=0.0,
    )
