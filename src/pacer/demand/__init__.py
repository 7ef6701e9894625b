"""Demand under uncertainty: sampled driver paths reduced to a scenario tree."""

from pacer.demand.scenarios import ScenarioTree, reduce_to_tree, sample_growth_paths

__all__ = ["ScenarioTree", "reduce_to_tree", "sample_growth_paths"]
