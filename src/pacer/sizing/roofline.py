"""Roofline arithmetic of transformer inference and training, vectorised with numpy.

Every function broadcasts over its array arguments, so a whole grid of accelerators x precisions x
parallelism x batch sizes is evaluated in one call. Units: bytes, FLOP, seconds, tokens.

The model of one serving replica (``tp`` tensor-parallel x ``pp`` pipeline-parallel accelerators):

* **Memory**: weights are split over ``tp * pp`` devices; the KV cache of a sequence is split over the
  stages and over ``min(tp, kv_heads)`` devices (GQA heads cannot be split further; an MLA latent cache
  is replicated on every tensor-parallel rank).
* **Decode step** (every running request emits one token) is the sum of three rooflines that real
  kernels do not overlap well: streaming weights and KV cache from HBM at ``decode_mbu`` of bandwidth,
  the GEMM and attention FLOPs at ``decode_mfu`` of peak, and the tensor-parallel all-reduces (two per
  layer) over the scale-up link. With pipeline stages each micro-batch streams its stage's weights,
  so weight traffic per step does not shrink with ``pp``.
* **Prefill** of a prompt is compute-bound at ``prefill_mfu`` of peak (or weight-bound for a very
  short prompt), plus its all-reduces.
* A MoE layer reads only the experts its tokens are routed to: with ``n`` tokens and top-``k`` of
  ``E`` experts, ``E * (1 - (1 - k/E)**n)`` distinct experts are expected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pacer.catalog.loader import InferenceEfficiency, TrainingEfficiency
from pacer.catalog.schema import Model

FloatArray = NDArray[np.float64]

#: Bytes per activation value exchanged in tensor-parallel all-reduces (bf16).
ACTIVATION_BYTES = 2.0
#: Compute-to-bandwidth ratio (FLOP/byte) of an H100 SXM at bf16: the reference of the training
#: utilisation curve's knee.
REFERENCE_FLOP_PER_BYTE = 989.4e12 / 3.35e12


@dataclass(frozen=True)
class ModelShape:
    """The quantities of a :class:`~pacer.catalog.Model` that the rooflines need."""

    layers: int
    hidden_size: int
    attention_width: int
    decode_attention_width: int
    kv_heads: int
    kv_values_per_token_layer: int
    kv_sharded_by_heads: bool
    global_layers: int
    local_layers: int
    window_tokens: float
    total_params: float
    active_params: float
    routed_expert_params: float
    experts: int
    experts_per_token: int
    expert_ffn_size: int

    @classmethod
    def of(cls, model: Model) -> ModelShape:
        if model.attention == "mla":
            kv_values = model.kv_lora_rank + model.qk_rope_head_dim
        else:
            kv_values = 2 * model.kv_heads * model.head_dim
        if model.sliding_window and model.global_attention_every > 1:
            global_layers = -(-model.layers // model.global_attention_every)
        else:
            global_layers = model.layers
        routed = 0.0
        if model.is_moe:
            # total = non_routed + routed and active = non_routed + routed * k / E.
            routed = (model.total_params - model.active_params) / (1.0 - model.experts_per_token / model.experts)
        return cls(
            layers=model.layers,
            hidden_size=model.hidden_size,
            attention_width=model.attention_heads * model.head_dim,
            # MLA decodes with the up-projections absorbed: every head attends over the latent cache.
            decode_attention_width=(model.attention_heads * (model.kv_lora_rank + model.qk_rope_head_dim)
                                    if model.attention == "mla" else model.attention_heads * model.head_dim),
            kv_heads=model.kv_heads,
            kv_values_per_token_layer=kv_values,
            kv_sharded_by_heads=model.attention != "mla",
            global_layers=global_layers,
            local_layers=model.layers - global_layers,
            window_tokens=float(model.sliding_window or np.inf),
            total_params=model.total_params,
            active_params=model.active_params,
            routed_expert_params=routed,
            experts=model.experts,
            experts_per_token=model.experts_per_token,
            expert_ffn_size=model.expert_ffn_size,
        )


def moe_share(shape: ModelShape, efficiency: float, width_knee: float) -> float:
    """Share of the dense efficiencies a mixture-of-experts model reaches (1 for a dense model): the
    ``efficiency`` of very wide experts (routing, token permutation, load imbalance), times
    ``w / (w + width_knee)`` for experts of intermediate width ``w``: fine-grained experts (DeepSeek-V3's
    2,048, Qwen3's 1,536) run many small grouped GEMMs, wide ones (Mixtral's 14,336) few large ones."""
    if not shape.experts:
        return 1.0
    width = float(shape.expert_ffn_size)
    return efficiency * width / (width + width_knee)


def _f(x: ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def kv_bytes_per_sequence(shape: ModelShape, tokens: ArrayLike, kv_bytes: ArrayLike) -> FloatArray:
    """KV-cache bytes of one sequence of ``tokens`` over all layers (sliding-window layers capped)."""
    t = _f(tokens)
    cached = shape.global_layers * t + shape.local_layers * np.minimum(t, shape.window_tokens)
    return cached * shape.kv_values_per_token_layer * _f(kv_bytes)


def kv_shards(shape: ModelShape, tp: ArrayLike) -> FloatArray:
    """Over how many tensor-parallel ranks one sequence's KV cache is split."""
    if not shape.kv_sharded_by_heads:
        return np.ones_like(_f(tp))
    return np.minimum(_f(tp), shape.kv_heads)


def attention_flops_per_token(shape: ModelShape, context: ArrayLike, decode: bool = False) -> FloatArray:
    """Forward FLOPs of QK^T and AV for one new token attending to ``context`` cached tokens (``decode``:
    as a decode step computes them, over MLA's latent cache where the model has one)."""
    c = _f(context)
    attended = shape.global_layers * c + shape.local_layers * np.minimum(c, shape.window_tokens)
    return 4.0 * (shape.decode_attention_width if decode else shape.attention_width) * attended


def prefill_attention_flops(shape: ModelShape, prompt_tokens: ArrayLike) -> FloatArray:
    """Forward attention FLOPs of a causal prefill of ``prompt_tokens`` (each token sees those before)."""
    n = _f(prompt_tokens)
    w = np.minimum(n, shape.window_tokens)
    attended = shape.global_layers * n * n / 2 + shape.local_layers * (n * w - w * w / 2)
    return 4.0 * shape.attention_width * attended


def weight_bytes_read(shape: ModelShape, tokens: ArrayLike, weight_bytes: ArrayLike) -> FloatArray:
    """Weight bytes one forward pass over ``tokens`` tokens must stream (MoE reads routed experts only)."""
    b = _f(weight_bytes)
    dense = (shape.total_params - shape.routed_expert_params) * b
    if shape.experts == 0:
        return dense + 0.0 * _f(tokens)
    share = 1.0 - (1.0 - shape.experts_per_token / shape.experts) ** np.maximum(_f(tokens), 1.0)
    return dense + shape.routed_expert_params * b * share


def allreduce_seconds(
    tp: ArrayLike, message_bytes: ArrayLike, link_bytes_per_s: ArrayLike, eff: InferenceEfficiency
) -> FloatArray:
    """Time of one ring all-reduce of ``message_bytes`` over ``tp`` ranks (0 when ``tp == 1``)."""
    tp_ = _f(tp)
    bus = 2.0 * (tp_ - 1.0) / tp_ * _f(message_bytes)
    seconds = bus / (_f(link_bytes_per_s) * eff.scaleup_link_efficiency.value)
    return np.where(tp_ > 1, seconds + eff.collective_latency_s.value, 0.0)


@dataclass(frozen=True)
class Hardware:
    """Per-accelerator figures as arrays (SI units) so grids broadcast."""

    peak_flops: FloatArray
    attention_peak_flops: FloatArray
    stack_efficiency: FloatArray
    hbm_bytes: FloatArray
    hbm_bytes_per_s: FloatArray
    link_bytes_per_s: FloatArray
    scaleout_bytes_per_s: FloatArray


def inference_performance(
    shape: ModelShape,
    hw: Hardware,
    *,
    weight_bytes: ArrayLike,
    kv_bytes: ArrayLike,
    tp: ArrayLike,
    pp: ArrayLike,
    batch: ArrayLike | None,
    input_tokens: ArrayLike,
    output_tokens: ArrayLike,
    eff: InferenceEfficiency,
) -> dict[str, FloatArray]:
    """Memory fit, latency and throughput of one serving replica, broadcast over all arguments.

    Parameters
    ----------
    batch
        Concurrently running requests per replica; ``None`` evaluates at the largest batch that fits.

    Returns
    -------
    dict of arrays
        ``max_batch`` (requests whose full-length KV cache fits), ``fits`` (1.0/0.0), ``batch``,
        ``ttft_s`` (prompt prefill plus the decode step it joins), ``tpot_s`` (one decode step),
        ``tokens_per_s`` (output tokens/s of the replica at steady state, prefill included),
        ``weights_gb_per_gpu`` and ``kv_gb_per_request``.
    """
    tp_, pp_ = _f(tp), _f(pp)
    devices = tp_ * pp_
    # Achieved shares of peak: the fitted factors, for MoE models scaled by the cost of routing and small
    # grouped expert GEMMs. The serving stack's factor on this vendor scales every step time below.
    moe = moe_share(shape, eff.moe_efficiency.value, eff.moe_expert_width_knee.value)
    decode_mfu, prefill_mfu = eff.decode_mfu.value * moe, eff.prefill_mfu.value * moe
    mbu = eff.decode_mbu.value * moe
    stack = hw.stack_efficiency
    inp, out = _f(input_tokens), _f(output_tokens)
    wb, kb = _f(weight_bytes), _f(kv_bytes)

    weights_per_gpu = shape.total_params * wb / devices
    usable = hw.hbm_bytes * (eff.memory_usable_fraction.value - eff.activation_reserve_fraction.value)
    kv_capacity = usable - weights_per_gpu
    shards = kv_shards(shape, tp_) * pp_
    kv_full_request = kv_bytes_per_sequence(shape, inp + out, kb) / shards
    max_batch = np.clip(np.floor(kv_capacity / kv_full_request), 0, eff.max_batch_per_replica.value)
    b = max_batch if batch is None else _f(batch) + 0.0 * max_batch
    b_eff = np.maximum(b, 1.0)

    # One decode step: every running request emits one token at the mean context length.
    context = inp + out / 2.0
    micro = b_eff / pp_
    weights_read = weight_bytes_read(shape, micro, wb) / tp_
    kv_read = b_eff * kv_bytes_per_sequence(shape, context, kb) / shards
    t_memory = (weights_read + kv_read) / (hw.hbm_bytes_per_s * mbu)
    # Attention runs at the KV cache's precision (4-bit weights still attend in 8 or 16 bits).
    t_compute = b_eff * (2.0 * shape.active_params / hw.peak_flops
                         + attention_flops_per_token(shape, context, decode=True) / hw.attention_peak_flops
                         ) / devices / decode_mfu
    ar_decode = allreduce_seconds(tp_, micro * shape.hidden_size * ACTIVATION_BYTES, hw.link_bytes_per_s, eff)
    p2p = np.where(pp_ > 1, eff.pipeline_p2p_latency_s.value
                   + micro * shape.hidden_size * ACTIVATION_BYTES / hw.scaleout_bytes_per_s, 0.0)
    # Every step also pays a fixed time beyond the roofline (scheduler, sampling, launches between graphs).
    tpot = (t_memory + t_compute + 2.0 * shape.layers * ar_decode + pp_ * p2p
            + eff.decode_step_overhead_s.value) / stack

    # Prefill of one prompt: compute-bound over the replica (weight-bound if very short).
    prefill_compute = (2.0 * shape.active_params * inp / hw.peak_flops
                       + prefill_attention_flops(shape, inp) / hw.attention_peak_flops
                       ) / prefill_mfu
    ar_prefill = allreduce_seconds(tp_, inp * shape.hidden_size * ACTIVATION_BYTES, hw.link_bytes_per_s, eff)
    prefill_weights = weight_bytes_read(shape, inp, wb) / (hw.hbm_bytes_per_s * mbu)
    # Replica time one prompt occupies (stages pipeline successive prompts).
    prefill_busy = (np.maximum(prefill_compute / devices, prefill_weights / devices)
                    + 2.0 * shape.layers / pp_ * ar_prefill) / stack
    # Latency of one prompt (its stages run one after another).
    prefill_latency = (np.maximum(prefill_compute / tp_, prefill_weights / tp_)
                       + 2.0 * shape.layers * ar_prefill + pp_ * p2p) / stack
    ttft = prefill_latency + tpot

    cycle = b_eff * prefill_busy + out * tpot
    tokens_per_s = np.where(max_batch >= 1, b_eff * out / cycle, 0.0)
    return {
        "max_batch": max_batch,
        "fits": (max_batch >= 1).astype(np.float64),
        "batch": b,
        "ttft_s": ttft,
        "tpot_s": tpot,
        "tokens_per_s": tokens_per_s,
        "prefill_busy_s": prefill_busy + 0.0 * b,
        "prefill_latency_s": prefill_latency + 0.0 * b,
        "weights_gb_per_gpu": weights_per_gpu / 1e9,
        "kv_gb_per_request": kv_full_request / 1e9,
    }


def wide_ep_decode(
    shape: ModelShape,
    hw: Hardware,
    *,
    weight_bytes: ArrayLike,
    kv_bytes: ArrayLike,
    ep: ArrayLike,
    scaleup_domain: float,
    batch: ArrayLike | None,
    input_tokens: ArrayLike,
    output_tokens: ArrayLike,
    eff: InferenceEfficiency,
) -> dict[str, FloatArray]:
    """Decode of a mixture-of-experts model with wide expert parallelism (DeepSeek-V3 style).

    ``ep`` accelerators hold the routed experts split between them and replicate everything else
    (attention with data-parallel requests, shared experts, dense layers); each accelerator runs its
    own ``batch`` requests. Every MoE layer dispatches each token to its top-k experts and combines the
    results: two all-to-all exchanges over the scale-up link while ``ep`` fits in one scale-up domain
    (NVLink, an NVL72 rack), else over the scale-out network. The step is the sum of streaming the
    replicated weights, the local experts the whole group's tokens touch and the KV cache, the GEMM and
    attention FLOPs, and the all-to-alls. Returns per-accelerator ``max_batch``, ``tpot_s`` and
    ``tokens_per_s``, broadcast over the arguments.
    """
    ep_, wb, kb = _f(ep), _f(weight_bytes), _f(kv_bytes)
    inp, out = _f(input_tokens), _f(output_tokens)
    replicated = shape.total_params - shape.routed_expert_params
    weights_per_gpu = (replicated + shape.routed_expert_params / ep_) * wb
    usable = hw.hbm_bytes * (eff.memory_usable_fraction.value - eff.activation_reserve_fraction.value)
    kv_request = kv_bytes_per_sequence(shape, inp + out, kb)
    max_batch = np.clip(np.floor((usable - weights_per_gpu) / kv_request), 0, eff.max_batch_per_replica.value)
    b = max_batch if batch is None else _f(batch) + 0.0 * max_batch
    b_eff = np.maximum(b, 1.0)
    moe = moe_share(shape, eff.moe_efficiency.value, eff.moe_expert_width_knee.value)
    context = inp + out / 2.0
    # Distinct local experts the group's b * ep tokens are routed to.
    local_share = 1.0 - (1.0 - shape.experts_per_token / max(shape.experts, 1)) ** (b_eff * ep_)
    weights_read = (replicated + shape.routed_expert_params / ep_ * local_share) * wb
    kv_read = b_eff * kv_bytes_per_sequence(shape, context, kb)
    t_memory = (weights_read + kv_read) / (hw.hbm_bytes_per_s * eff.decode_mbu.value * moe)
    t_compute = b_eff * (2.0 * shape.active_params / hw.peak_flops
                         + attention_flops_per_token(shape, context, decode=True) / hw.attention_peak_flops
                         ) / (eff.decode_mfu.value * moe)
    # Dispatch in 8 bits, combine in 16; the share (ep - 1) / ep of it leaves the accelerator.
    moe_layers = shape.layers  # every layer but the few leading dense ones routes; counted as all
    bytes_out = b_eff * shape.experts_per_token * shape.hidden_size * (1.0 + ACTIVATION_BYTES) * (ep_ - 1) / ep_
    link = np.where(ep_ <= scaleup_domain, hw.link_bytes_per_s * eff.scaleup_link_efficiency.value,
                    hw.scaleout_bytes_per_s * eff.scaleup_link_efficiency.value)
    t_all_to_all = moe_layers * (bytes_out / link + 2.0 * eff.collective_latency_s.value)
    tpot = (t_memory + t_compute + t_all_to_all + eff.decode_step_overhead_s.value) / hw.stack_efficiency
    return {"max_batch": max_batch, "batch": b, "tpot_s": tpot,
            "tokens_per_s": np.where(max_batch >= 1, b_eff / tpot, 0.0),
            "weights_gb_per_gpu": weights_per_gpu / 1e9 + 0.0 * b, "kv_gb_per_request": kv_request / 1e9 + 0.0 * b}


def training_flops(shape: ModelShape, tokens: ArrayLike, sequence_tokens: ArrayLike) -> FloatArray:
    """Training FLOPs: 6 x active parameters per token plus causal attention (forward x 3)."""
    per_token = 6.0 * shape.active_params + 3.0 * attention_flops_per_token(shape, _f(sequence_tokens) / 2)
    return _f(tokens) * per_token


def training_mfu(
    hidden_size: ArrayLike,
    flop_per_byte: ArrayLike,
    gpus: ArrayLike,
    eff: TrainingEfficiency,
) -> FloatArray:
    """Model FLOP utilisation of a training run.

    Grows with hidden size (bigger GEMMs, less memory-bound and communication work per FLOP) with a
    knee that moves up on accelerators whose compute outruns their memory bandwidth, and falls by a
    fixed share per doubling of the cluster beyond a threshold.
    """
    knee = eff.hidden_size_knee.value * _f(flop_per_byte) / REFERENCE_FLOP_PER_BYTE
    size = _f(hidden_size) / (_f(hidden_size) + knee)
    doublings = np.log2(np.maximum(_f(gpus) / eff.cluster_penalty_from_gpus.value, 1.0))
    cluster = 1.0 / (1.0 + eff.cluster_penalty_per_doubling.value * doublings)
    return eff.mfu_max.value * size * cluster
