"""Turning catalog entries into arrays and checking precisions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pacer.catalog.loader import InferenceEfficiency
from pacer.catalog.schema import BYTES_PER_VALUE, WEIGHT_ONLY, Accelerator
from pacer.errors import InputError
from pacer.sizing.roofline import Hardware

#: Precisions a user may ask for when serving or training.
PRECISIONS = ("bf16", "fp16", "fp8", "int8", "fp4", "w8a16", "w4a16")


def hardware_of(
    accelerators: Sequence[Accelerator],
    precisions: Sequence[str],
    kv_precisions: Sequence[str],
    eff: InferenceEfficiency,
    stack_factors: Sequence[float] | np.ndarray | None = None,
) -> Hardware:
    """Arrays of per-accelerator figures, one element per (accelerator, precision) pair.

    The peak of 4-bit GEMMs is derated by ``fp4_gemm_efficiency`` (block-scaled formats and younger
    kernels reach a smaller share of their peak than 8-bit ones), that of weight-only precisions by
    ``weight_only_gemm_efficiency`` (weights dequantised on the fly), and every rate by the serving
    stack's factor on the accelerator's vendor (``stacks.yaml``; 1.0 when not given).
    """
    derate = {"fp4": eff.fp4_gemm_efficiency.value} | dict.fromkeys(WEIGHT_ONLY, eff.weight_only_gemm_efficiency.value)
    peak = np.array([a.peak_tflops(p) * 1e12 * derate.get(p, 1.0)
                     for a, p in zip(accelerators, precisions, strict=True)])
    attention = np.array([a.peak_tflops(p) * 1e12 for a, p in zip(accelerators, kv_precisions, strict=True)])
    return Hardware(
        peak_flops=peak,
        attention_peak_flops=np.where(attention > 0, np.minimum(attention, np.maximum(peak, attention)), peak),
        stack_efficiency=np.ones(len(accelerators)) if stack_factors is None else np.asarray(stack_factors, float),
        hbm_bytes=np.array([a.hbm_gb * 1e9 for a in accelerators]),
        hbm_bytes_per_s=np.array([a.hbm_tbps * 1e12 for a in accelerators]),
        link_bytes_per_s=np.array([a.scaleup_gbps * 1e9 for a in accelerators]),
        scaleout_bytes_per_s=np.array([a.scaleout_gbps * 1e9 for a in accelerators]),
    )


def check_precision(accelerator: Accelerator, precision: str, field: str = "precision") -> None:
    """Raise an :class:`InputError` unless ``accelerator`` computes at ``precision``."""
    if precision not in PRECISIONS:
        raise InputError(field, precision, "must be one of " + ", ".join(PRECISIONS))
    if accelerator.peak_tflops(precision) <= 0:
        has = ", ".join(p for p in PRECISIONS if accelerator.peak_tflops(p) > 0)
        raise InputError(field, precision, f"{accelerator.id} has no {precision} support (has {has})")


def default_kv_precision(precision: str) -> str:
    """KV cache precision engines use by default: 8-bit for quantised weights and activations, 16-bit
    for weight-only quantisation, else the weights'."""
    if precision in WEIGHT_ONLY:
        return WEIGHT_ONLY[precision]
    return "fp8" if BYTES_PER_VALUE[precision] <= 1 else precision


def bytes_per_value(precision: str, field: str = "precision") -> float:
    if precision not in BYTES_PER_VALUE:
        raise InputError(field, precision, "must be one of " + ", ".join(BYTES_PER_VALUE))
    return BYTES_PER_VALUE[precision]
