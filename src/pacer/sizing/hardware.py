"""Turning catalog entries into arrays and checking precisions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pacer.catalog.loader import InferenceEfficiency
from pacer.catalog.schema import BYTES_PER_VALUE, Accelerator
from pacer.errors import InputError
from pacer.sizing.roofline import Hardware

#: Precisions a user may ask for when serving or training.
PRECISIONS = ("bf16", "fp16", "fp8", "int8", "fp4")


def hardware_of(
    accelerators: Sequence[Accelerator],
    precisions: Sequence[str],
    kv_precisions: Sequence[str],
    eff: InferenceEfficiency,
) -> Hardware:
    """Arrays of per-accelerator figures, one element per (accelerator, precision) pair.

    The peak of 4-bit GEMMs is derated by ``fp4_gemm_efficiency`` (block-scaled formats and younger
    kernels reach a smaller share of their peak than 8-bit ones), and every rate of an accelerator by
    its vendor's ``software_efficiency_<vendor>`` (serving stacks differ in maturity).
    """
    fp4 = eff.fp4_gemm_efficiency.value
    peak = np.array([a.peak_tflops(p) * 1e12 * (fp4 if p == "fp4" else 1.0)
                     for a, p in zip(accelerators, precisions, strict=True)])
    attention = np.array([a.peak_tflops(p) * 1e12 for a, p in zip(accelerators, kv_precisions, strict=True)])
    return Hardware(
        peak_flops=peak,
        attention_peak_flops=np.where(attention > 0, np.minimum(attention, np.maximum(peak, attention)), peak),
        software_efficiency=np.array([eff.software_efficiency(a.vendor) for a in accelerators]),
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
    """KV cache precision engines use by default: 8-bit for quantised weights, else the weights'."""
    return "fp8" if BYTES_PER_VALUE[precision] <= 1 else precision


def bytes_per_value(precision: str, field: str = "precision") -> float:
    if precision not in BYTES_PER_VALUE:
        raise InputError(field, precision, "must be one of " + ", ".join(BYTES_PER_VALUE))
    return BYTES_PER_VALUE[precision]
