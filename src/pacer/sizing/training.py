"""Sizing a training run: FLOPs, achieved TFLOP/s per accelerator, GPU-hours, days, energy and cost."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from pacer._result import Result, plain
from pacer.catalog import Efficiency, get_accelerator, get_model, load_efficiency, load_facilities
from pacer.catalog.schema import Accelerator, Model
from pacer.errors import InputError
from pacer.formatting import power_of_ten, quantity
from pacer.sizing.hardware import check_precision
from pacer.sizing.roofline import ModelShape, attention_flops_per_token, moe_share, training_flops, training_mfu

SECONDS_PER_HOUR = 3600.0


@dataclass(repr=False)
class TrainingResult(Result):
    """The answer of :func:`size_training`."""

    title = "training sizing"

    model: str
    accelerator: str
    precision: str
    stack: str
    tokens: float
    sequence_tokens: int
    gpus: int
    gpus_given: bool
    train_flops: float
    mfu: float
    tflops_per_gpu: float
    gpu_hours: float
    days: float
    power_mw: float
    energy_mwh: float
    cost_usd: float

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        if not self.gpus_given:
            out["days"] = None  # the run length was assumed, not derived
        return plain(out)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.to_dict()])

    def summary_rows(self) -> list[tuple[str, Any]]:
        return [
            ("model", self.model),
            ("accelerator", f"{self.gpus:,} x {self.accelerator}" + ("" if self.gpus_given else " (sized)")),
            ("precision", self.precision),
            ("training stack", self.stack),
            ("tokens", power_of_ten(self.tokens)),
            ("training FLOPs", power_of_ten(self.train_flops)),
            ("MFU", quantity(self.mfu, "share")),
            ("achieved TFLOP/s per GPU", self.tflops_per_gpu),
            ("GPU-hours", self.gpu_hours),
            ("days", self.days),
            ("IT power (MW, all in)", self.power_mw),
            ("energy (MWh, IT)", self.energy_mwh),
            ("cost (at rental price)", quantity(self.cost_usd, "USD")),
        ]


def achieved_mfu(arch: Model, spec: Accelerator, precision: str, gpus: float, efficiency: Efficiency,
                 stack_factor: float = 1.0, sequence_tokens: int | None = None,
                 global_batch: float | None = None) -> float:
    """Model FLOP utilisation (share of the dense peak at ``precision``) of a training run on ``gpus``.

    The size-and-cluster curve of :func:`~pacer.sizing.roofline.training_mfu`, derated for 8-bit training
    (attention, norms, communication and the optimiser stay at 16 bits, so fp8 runs reach a smaller
    share of their doubled peak), for mixture-of-experts models (all-to-all and small expert GEMMs), for
    the share of the FLOPs spent in attention at ``sequence_tokens`` (attention kernels, their backward
    above all, reach a smaller share of peak than GEMMs) and by the training stack's factor.

    With ``global_batch`` (sequences per optimiser step over all ``gpus``) every step also pays
    ``step_overhead_s`` (optimiser, gradient synchronisation and pipeline flush that do not overlap): a
    small batch spread over many GPUs (MLPerf's strong scaling) computes too little per step to hide it.
    Without it the batch is taken as large enough to hide it, as in pre-training runs.
    """
    eff = efficiency.training
    flop_per_byte = spec.peak_tflops(precision) / spec.hbm_tbps  # FLOP per byte
    mfu = float(training_mfu(arch.hidden_size, flop_per_byte, gpus, eff))
    if precision == "fp8":
        mfu *= eff.fp8_training_efficiency.value
    seq = sequence_tokens or int(min(arch.max_context, eff.max_sequence_tokens.value))
    shape = ModelShape.of(arch)
    mfu *= moe_share(shape, eff.moe_training_efficiency.value, eff.moe_expert_width_knee.value)
    attention = 3.0 * float(attention_flops_per_token(shape, seq / 2))
    share = attention / (6.0 * shape.active_params + attention)
    mfu /= (1.0 - share) + share / eff.attention_training_efficiency.value
    if global_batch is not None:
        # The overhead scales with the stack like the rest of the step, so the factor stays a multiplier.
        compute_s = float(training_flops(shape, global_batch * seq / gpus, seq)) / (spec.peak_tflops(precision)
                                                                                    * 1e12 * mfu)
        mfu *= compute_s / (compute_s + eff.step_overhead_s.value)
    return mfu * stack_factor


def size_training(
    model: str,
    tokens: float,
    accelerator: str = "h100-sxm",
    gpus: int | None = None,
    precision: str = "bf16",
    *,
    sequence_tokens: int | None = None,
    days: float | None = None,
    stack: str | None = None,
    global_batch: int | None = None,
    efficiency: Efficiency | None = None,
) -> TrainingResult:
    """Size a training run of ``model`` over ``tokens`` on ``accelerator``.

    Parameters
    ----------
    tokens
        Training tokens.
    gpus
        Accelerators in the run; ``None`` sizes the cluster to finish in ``days`` (default from
        ``efficiency.yaml``: ``training.default_days``).
    sequence_tokens
        Sequence length for attention FLOPs; default ``min(max_context, training.max_sequence_tokens)``.
    stack
        Training stack (megatron, fsdp, jax); by default the accelerator vendor's usual stack. Its
        factor on the vendor scales the model FLOP utilisation.
    global_batch
        Sequences per optimiser step over the whole run; each step then pays ``step_overhead_s``
        (:func:`achieved_mfu`). By default the batch is taken as large enough to hide it.

    Returns
    -------
    TrainingResult
        ``train_flops``, ``tflops_per_gpu`` (achieved model TFLOP/s per accelerator while stepping),
        ``gpu_hours`` (wall-clock, including the goodput loss), ``days``, ``energy_mwh`` (all-in IT
        energy) and ``cost_usd`` (at the catalog rental price).
    """
    spec = get_accelerator(accelerator)
    arch = get_model(model)
    check_precision(spec, precision)
    if not (isinstance(tokens, int | float) and math.isfinite(tokens) and tokens > 0):
        raise InputError("tokens", tokens, "must be > 0")
    if gpus is not None and (not isinstance(gpus, int | np.integer) or gpus < 1):
        raise InputError("gpus", gpus, "must be a positive integer")
    if days is not None and not days > 0:
        raise InputError("days", days, "must be > 0")
    if sequence_tokens is not None and sequence_tokens < 1:
        raise InputError("sequence_tokens", sequence_tokens, "must be a positive integer")
    if global_batch is not None and (not isinstance(global_batch, int | np.integer) or global_batch < 1):
        raise InputError("global_batch", global_batch, "must be a positive integer (sequences per step)")
    if precision not in ("bf16", "fp16", "fp8"):
        raise InputError("precision", precision, "training runs at bf16, fp16 or fp8")
    full = efficiency or load_efficiency()
    stack, stack_factor = full.stacks.resolve("training", stack, spec)
    eff = full.training
    seq = sequence_tokens or int(min(arch.max_context, eff.max_sequence_tokens.value))
    shape = ModelShape.of(arch)
    flops = float(training_flops(shape, tokens, seq))
    peak = spec.peak_tflops(precision) * 1e12

    def mfu_at(n: float) -> float:
        return achieved_mfu(arch, spec, precision, n, full, stack_factor, seq, global_batch)

    gpus_given = gpus is not None
    if gpus is None:
        target_days = days or eff.default_days.value
        target_s = target_days * 86400.0
        if global_batch is None:
            # Cluster size and utilisation depend on each other; a few fixed-point steps converge.
            n = 1.0
            for _ in range(8):
                n = flops / (peak * mfu_at(n) * eff.goodput.value * target_s)
        else:
            # Each step takes at least its overhead however many GPUs share it: the run has a floor.
            steps = tokens / (global_batch * seq)
            floor_days = steps * eff.step_overhead_s.value / stack_factor / eff.goodput.value / 86400.0
            if floor_days >= target_days:
                raise InputError("global_batch", global_batch, f"too small to finish in {target_days:g} days: "
                                 f"{steps:,.0f} steps of at least {eff.step_overhead_s.value * 1e3:.0f} ms take "
                                 f"{floor_days:,.0f} days on any cluster")

            def late_s(n: float) -> float:  # run time beyond the target on n GPUs (falls as n grows)
                return flops / (peak * mfu_at(n) * eff.goodput.value * n) - target_s

            high = 1.0
            while late_s(high) > 0 and high < 1e12:
                high *= 2.0
            n = float(brentq(late_s, high / 2.0, high)) if high > 1.0 else 1.0
        gpus = max(1, math.ceil(n))
    mfu = mfu_at(gpus)
    achieved = peak * mfu
    gpu_hours = flops / achieved / eff.goodput.value / SECONDS_PER_HOUR
    fac = load_facilities()
    gpu_it_w = spec.server_power_per_accelerator_w * (1.0 + fac.network_storage_overhead.value)
    return TrainingResult(
        model=model, accelerator=accelerator, precision=precision, stack=stack, tokens=float(tokens),
        sequence_tokens=seq, gpus=int(gpus), gpus_given=gpus_given, train_flops=flops, mfu=mfu,
        tflops_per_gpu=achieved / 1e12, gpu_hours=gpu_hours, days=gpu_hours / gpus / 24.0,
        power_mw=gpus * gpu_it_w / 1e6, energy_mwh=gpu_hours * gpu_it_w / 1e6,
        cost_usd=gpu_hours * spec.rental_usd_per_hour,
    )
