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
    moe_efficiency: Factor
    software_efficiency_amd: Factor
    software_efficiency_intel: Factor
    software_efficiency_google: Factor

    def software_efficiency(self, vendor: str) -> float:
        """Serving-stack maturity of ``vendor`` relative to NVIDIA's (1.0)."""
        factor = getattr(self, f"software_efficiency_{vendor}", None)
        return 1.0 if factor is None else float(factor.value)


class TrainingEfficiency(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mfu_max: Factor
    hidden_size_knee: Factor
    cluster_penalty_per_doubling: Factor
    cluster_penalty_from_gpus: Factor
    goodput: Factor
    default_days: Factor
    max_sequence_tokens: Factor


class Efficiency(BaseModel):
    """All named efficiency factors of the sizing model (``efficiency.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    inference: InferenceEfficiency
    training: TrainingEfficiency

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
    result: Efficiency = _validate("efficiency.yaml", Efficiency, _read_yaml("efficiency.yaml"))
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
