"""Load and validate the catalog YAML files shipped with pacer."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pacer.catalog.schema import Accelerator, Catalog, Model, Source
from pacer.errors import CatalogError, PacerError, did_you_mean

CATALOG_DIR = Path(str(resources.files("pacer.catalog")))


class Factor(BaseModel):
    """One named, documented factor (an efficiency, an overhead, a PUE)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float
    unit: str
    doc: str
    fitted: bool = False
    source: Source | None = None


class InferenceEfficiency(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prefill_mfu: Factor
    decode_mfu: Factor
    decode_mbu: Factor
    scaleup_link_efficiency: Factor
    collective_latency_s: Factor
    memory_usable_fraction: Factor
    activation_reserve_fraction: Factor
    max_batch_per_replica: Factor
    pipeline_p2p_latency_s: Factor
    fp4_gemm_efficiency: Factor
    weight_only_gemm_efficiency: Factor
    moe_efficiency: Factor
    moe_expert_width_knee: Factor
    decode_step_overhead_s: Factor
    software_gain_per_year: Factor
    software_reference_year: Factor


class TrainingEfficiency(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mfu_max: Factor
    hidden_size_knee: Factor
    cluster_penalty_per_doubling: Factor
    cluster_penalty_from_gpus: Factor
    fp8_training_efficiency: Factor
    moe_training_efficiency: Factor
    moe_expert_width_knee: Factor
    attention_training_efficiency: Factor
    software_gain_per_year: Factor
    software_reference_year: Factor
    goodput: Factor
    step_overhead_s: Factor
    default_days: Factor
    max_sequence_tokens: Factor


StackKind = Literal["serving", "training"]
VENDORS = ("nvidia", "amd", "intel", "google")


class StackFamily(BaseModel):
    """What share of the reference efficiency one stack reaches on one vendor's accelerators."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float = Field(gt=0, le=2)
    fitted: bool = False
    rows: int = Field(default=0, ge=0)
    note: str | None = None


class Stack(BaseModel):
    """A serving or training software stack (``stacks.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: StackKind
    name: str
    doc: str
    precisions: list[str] | None = None
    source: Source
    families: dict[str, StackFamily] = Field(min_length=1)


class Stacks(BaseModel):
    """Every stack and the default stack per vendor and workload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    defaults: dict[StackKind, dict[str, str]]
    stacks: dict[str, Stack]

    def names(self, kind: StackKind) -> list[str]:
        return [k for k, v in self.stacks.items() if v.kind == kind]

    def get(self, kind: StackKind, name: str, field: str = "stack") -> Stack:
        """The stack ``name`` of ``kind``; an unknown one is a one-line error listing the allowed ones."""
        known = self.names(kind)
        if name not in known:
            raise PacerError(f"{field}: unknown {kind} stack {name!r}; allowed: {', '.join(known)}")
        return self.stacks[name]

    def resolve(self, kind: StackKind, stack: str | None, accelerator: Accelerator, precision: str | None = None,
                field: str = "stack") -> tuple[str, float]:
        """The stack id (the vendor's default when ``None``) and its factor on ``accelerator``; an unknown
        stack, a stack that does not run on the accelerator or lacks ``precision`` is a one-line error."""
        vendor = accelerator.vendor
        name = stack if stack is not None else self.defaults[kind].get(vendor)
        if name is None:
            raise PacerError(f"{field}: no default {kind} stack for vendor {vendor!r}; give one of "
                             + ", ".join(self.names(kind)))
        spec = self.get(kind, name, field)
        if vendor not in spec.families:
            raise PacerError(f"{field}: {name!r} does not run on {accelerator.id} ({vendor}); it runs on "
                             + ", ".join(spec.families))
        if precision is not None and spec.precisions is not None and precision not in spec.precisions:
            raise PacerError(f"precision: {precision!r} is not supported by stack {name!r}; allowed: "
                             + ", ".join(spec.precisions))
        return name, spec.families[vendor].value

    def with_factors(self, values: dict[tuple[str, str], float], rows: dict[tuple[str, str], int] | None = None
                     ) -> Stacks:
        """A copy with some (stack, vendor) factors replaced (used by calibration)."""
        stacks = dict(self.stacks)
        for (name, vendor), value in values.items():
            fam = stacks[name].families[vendor].model_copy(
                update={"value": float(value), "rows": (rows or {}).get((name, vendor), 0)})
            stacks[name] = stacks[name].model_copy(update={"families": {**stacks[name].families, vendor: fam}})
        return self.model_copy(update={"stacks": stacks})


class Efficiency(BaseModel):
    """All named efficiency factors of the sizing model (``efficiency.yaml`` and ``stacks.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    inference: InferenceEfficiency
    training: TrainingEfficiency
    stacks: Stacks

    def with_values(self, section: Literal["inference", "training"], **values: float) -> Efficiency:
        """A copy with some factor values replaced (used by calibration and sensitivity studies)."""
        part = getattr(self, section)
        updates = {name: getattr(part, name).model_copy(update={"value": v}) for name, v in values.items()}
        return self.model_copy(update={section: part.model_copy(update=updates)})


class StageDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    duration_quarters: int = Field(ge=0)
    spend_usd_per_mw: float = Field(ge=0)
    cancel_fee_usd_per_mw: float = Field(ge=0)


class LeaseDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rent_usd_per_kw_month: float = Field(gt=0)
    fit_out_share: float = Field(ge=0, le=1)
    source: Source


class Facilities(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    network_storage_overhead: Factor
    pue: dict[str, Factor] = Field(min_length=1)
    stages: dict[str, StageDefaults]
    stages_source: Source
    lease: LeaseDefaults
    owned_opex_usd_per_mw_quarter: Factor
    hold_usd_per_mw_quarter: Factor


def _read_yaml(name: str) -> Any:
    path = CATALOG_DIR / name
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"catalog/{name}: cannot read: {exc}") from exc


def _validate(name: str, kind: type[BaseModel], raw: Any) -> Any:
    try:
        return kind.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise CatalogError(f"catalog/{name}: {where}: {err['msg']}") from exc


def _entries(name: str, key: str, kind: type[Accelerator] | type[Model]) -> dict[str, Any]:
    raw = _read_yaml(name)
    if not isinstance(raw, dict) or not isinstance(raw.get(key), list):
        raise CatalogError(f"catalog/{name}: expected a list under '{key}'")
    out: dict[str, Any] = {}
    for i, item in enumerate(raw[key]):
        entry = _validate(f"{name}: {key}[{i}]", kind, item)
        if entry.id in out:
            raise CatalogError(f"catalog/{name}: {key}[{i}].id: duplicate id {entry.id!r}")
        out[entry.id] = entry
    return out


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The validated catalog of accelerators and models (cached)."""
    return Catalog(
        accelerators=_entries("accelerators.yaml", "accelerators", Accelerator),
        models=_entries("models.yaml", "models", Model),
    )


@lru_cache(maxsize=1)
def load_efficiency() -> Efficiency:
    """The named efficiency factors of the sizing model (cached)."""
    raw = _read_yaml("efficiency.yaml")
    if not isinstance(raw, dict):
        raise CatalogError("catalog/efficiency.yaml: expected a mapping")
    result: Efficiency = _validate("efficiency.yaml and stacks.yaml", Efficiency,
                                   {**raw, "stacks": _read_yaml("stacks.yaml")})
    return result


@lru_cache(maxsize=1)
def load_facilities() -> Facilities:
    """Facility-level power facts (cached)."""
    result: Facilities = _validate("facilities.yaml", Facilities, _read_yaml("facilities.yaml"))
    return result


def get_accelerator(accelerator_id: str, field: str = "accelerator") -> Accelerator:
    """Look up an accelerator by id; unknown ids raise a :class:`PacerError` with close matches."""
    accelerators = load_catalog().accelerators
    if accelerator_id not in accelerators:
        hint = did_you_mean(accelerator_id, accelerators)
        raise PacerError(f"{field}: unknown accelerator {accelerator_id!r}; {hint}")
    return accelerators[accelerator_id]


def get_model(model_id: str, field: str = "model") -> Model:
    """Look up a model by id; unknown ids raise a :class:`PacerError` with close matches."""
    models = load_catalog().models
    if model_id not in models:
        raise PacerError(f"{field}: unknown model {model_id!r}; {did_you_mean(model_id, models)}")
    return models[model_id]
