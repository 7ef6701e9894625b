"""Facts as data: accelerators, models, facilities and the sizing model's efficiency factors."""

from pacer.catalog.loader import (
    Efficiency,
    Facilities,
    Factor,
    get_accelerator,
    get_model,
    load_catalog,
    load_efficiency,
    load_facilities,
)
from pacer.catalog.schema import BYTES_PER_VALUE, Accelerator, Catalog, Model, Source

__all__ = [
    "BYTES_PER_VALUE",
    "Accelerator",
    "Catalog",
    "Efficiency",
    "Facilities",
    "Factor",
    "Model",
    "Source",
    "get_accelerator",
    "get_model",
    "load_catalog",
    "load_efficiency",
    "load_facilities",
]
