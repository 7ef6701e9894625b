"""pacer: plan AI compute capacity from workloads to GPUs to gigawatts, and pace it under uncertainty."""

from pacer.demand import forecast
from pacer.errors import PacerError
from pacer.market import simulate
from pacer.plan import plan
from pacer.scenario import load_scenario
from pacer.sizing import size_inference, size_search, size_training

__version__ = "0.1.0"

__all__ = [
    "PacerError",
    "__version__",
    "forecast",
    "load_scenario",
    "plan",
    "simulate",
    "size_inference",
    "size_search",
    "size_training",
]
