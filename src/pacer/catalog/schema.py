"""Pydantic schemas of the catalog: accelerators, models, facilities and efficiency factors.

Every figure carries a source: an entry's ``source`` covers all of its figures except those named in
``field_sources``, which carry their own (and ``estimate: true`` where the figure is an estimate).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Precision = Literal["fp32", "tf32", "bf16", "fp16", "fp8", "int8", "fp4", "w8a16", "w4a16"]

#: Bytes per stored value of each precision (weights or KV cache).
BYTES_PER_VALUE: dict[str, float] = {
    "fp32": 4.0,
    "tf32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "fp4": 0.5,
    # Weight-only quantisation: 8- or 4-bit weights, 16-bit activations (GEMMs at the 16-bit peak).
    "w8a16": 1.0,
    "w4a16": 0.5,
}
#: Weight-only precisions and the precision their GEMMs compute at.
WEIGHT_ONLY = {"w8a16": "bf16", "w4a16": "bf16"}

_QUARTER = re.compile(r"^\d{4}Q[1-4]$")


class Source(BaseModel):
    """Where a figure comes from."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1)
    publisher: str = Field(min_length=1)
    year: int = Field(ge=1990, le=2100)
    estimate: bool = False
    note: str | None = None


class _Sourced(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    name: str
    source: Source
    field_sources: dict[str, Source] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _field_sources_name_fields(self) -> _Sourced:
        unknown = set(self.field_sources) - set(type(self).model_fields)
        if unknown:
            raise ValueError(f"field_sources names unknown fields {sorted(unknown)}")
        return self

    def source_of(self, field: str) -> Source:
        """The source of one figure of this entry."""
        return self.field_sources.get(field, self.source)


def _check_quarter(value: str) -> str:
    if not _QUARTER.match(value):
        raise ValueError(f"must look like 2024Q3, got {value!r}")
    return value


class Accelerator(_Sourced):
    """One accelerator (GPU, TPU, ...) with dense peak throughput per precision."""

    vendor: Literal["nvidia", "amd", "intel", "google"]
    generation: str
    available_quarter: str
    tflops: dict[Precision, float] = Field(description="dense peak TFLOP/s per precision")
    hbm_gb: float = Field(gt=0)
    hbm_tbps: float = Field(gt=0)
    tdp_w: float = Field(gt=0)
    scaleup_domain: int = Field(ge=1)
    scaleup_gbps: float = Field(gt=0, description="GB/s per accelerator per direction")
    scaleout_gbps: float = Field(gt=0, description="GB/s per accelerator per direction")
    server_accelerators: int = Field(ge=1)
    server_power_kw: float = Field(gt=0)
    price_usd: float = Field(gt=0)
    rental_usd_per_hour: float = Field(gt=0)

    _quarter = field_validator("available_quarter")(_check_quarter)

    @field_validator("tflops")
    @classmethod
    def _positive_tflops(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("needs at least one precision")
        for precision, tflops in value.items():
            if tflops <= 0:
                raise ValueError(f"tflops.{precision} must be > 0, got {tflops}")
        return value

    @property
    def server_power_per_accelerator_w(self) -> float:
        """Server power divided over its accelerators (W)."""
        return self.server_power_kw * 1000.0 / self.server_accelerators

    def peak_tflops(self, precision: str) -> float:
        """Dense peak TFLOP/s at ``precision``; fp16 and bf16 stand in for each other, and weight-only
        precisions (w8a16, w4a16) compute at the 16-bit peak."""
        precision = WEIGHT_ONLY.get(precision, precision)
        if precision in self.tflops:
            return self.tflops[precision]
        twin = {"bf16": "fp16", "fp16": "bf16"}.get(precision)
        if twin and twin in self.tflops:
            return self.tflops[twin]
        return 0.0


class Model(_Sourced):
    """A transformer language model's architecture."""

    developer: str
    release_quarter: str
    layers: int = Field(ge=1)
    hidden_size: int = Field(ge=1)
    attention_heads: int = Field(ge=1)
    kv_heads: int = Field(ge=1)
    head_dim: int = Field(ge=1)
    ffn_size: int = Field(ge=1)
    vocab_size: int = Field(ge=1)
    total_params_b: float = Field(gt=0)
    active_params_b: float = Field(gt=0)
    attention: Literal["mha", "gqa", "mla"]
    max_context: int = Field(ge=1)
    experts: int = Field(default=0, ge=0)
    experts_per_token: int = Field(default=0, ge=0)
    shared_experts: int = Field(default=0, ge=0)
    expert_ffn_size: int = Field(default=0, ge=0)
    dense_layers: int = Field(default=0, ge=0)
    kv_lora_rank: int = Field(default=0, ge=0)
    qk_rope_head_dim: int = Field(default=0, ge=0)
    sliding_window: int = Field(default=0, ge=0)
    global_attention_every: int = Field(default=1, ge=1)

    _quarter = field_validator("release_quarter")(_check_quarter)

    @model_validator(mode="after")
    def _consistent(self) -> Model:
        if self.active_params_b > self.total_params_b:
            raise ValueError("active_params_b must be <= total_params_b")
        if self.experts and not 0 < self.experts_per_token <= self.experts:
            raise ValueError("experts_per_token must be in 1..experts for a MoE model")
        if self.experts and self.expert_ffn_size <= 0:
            raise ValueError("expert_ffn_size must be > 0 for a MoE model (the width of one routed expert)")
        if self.attention == "mla" and self.kv_lora_rank <= 0:
            raise ValueError("an MLA model needs kv_lora_rank > 0")
        if self.kv_heads > self.attention_heads:
            raise ValueError("kv_heads must be <= attention_heads")
        return self

    @property
    def is_moe(self) -> bool:
        return self.experts > 0

    @property
    def total_params(self) -> float:
        return self.total_params_b * 1e9

    @property
    def active_params(self) -> float:
        return self.active_params_b * 1e9


class Catalog(BaseModel):
    """Every fact pacer ships, validated."""

    model_config = ConfigDict(frozen=True)

    accelerators: dict[str, Accelerator]
    models: dict[str, Model]
