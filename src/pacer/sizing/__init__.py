"""Sizing workloads onto accelerators: inference services, training runs, configuration search."""

from pacer.sizing.inference import InferenceResult, size_inference
from pacer.sizing.search import SearchResult, pareto_front, size_search
from pacer.sizing.training import TrainingResult, size_training

__all__ = [
    "InferenceResult",
    "SearchResult",
    "TrainingResult",
    "pareto_front",
    "size_inference",
    "size_search",
    "size_training",
]
