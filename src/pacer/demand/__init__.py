"""Demand under uncertainty: workloads and drivers to GPUs and megawatts, as a scenario tree."""

from pacer.demand.drivers import DriverEvent, sample_growth_paths
from pacer.demand.forecast import DemandForecast, forecast
from pacer.demand.scenarios import ScenarioTree, reduce_to_tree

__all__ = ["DemandForecast", "DriverEvent", "ScenarioTree", "forecast", "reduce_to_tree", "sample_growth_paths"]
