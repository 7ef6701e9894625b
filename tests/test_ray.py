"""Ray for real: a local Ray instance gives the same plan evaluation and market run as the local executor."""

from __future__ import annotations

import pandas as pd
import pytest

from pacer.market import simulate
from pacer.plan import plan
from pacer.scenario import parse_scenario

from .market.conftest import SMALL
from .plan.conftest import mini

ray = pytest.importorskip("ray", reason="Ray is an extra: pip install -e '.[ray]' (make test installs it)")


@pytest.fixture(scope="module")
def ray_executor():
    from pacer.runner import RayExecutor

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield RayExecutor()
    finally:
        ray.shutdown()


def test_plan_evaluation_is_identical_on_ray(ray_executor):
    s = parse_scenario(mini())
    local = plan(s, executor="local", perfect_foresight_paths=2)
    remote = plan(s, executor=ray_executor, perfect_foresight_paths=2)
    assert remote.evaluation["perfect_foresight"] == local.evaluation["perfect_foresight"]
    assert remote.evaluation["stochastic"] == local.evaluation["stochastic"]


def test_market_run_is_identical_on_ray(ray_executor, small_market_result):
    local = small_market_result  # the same small market, run locally once per session
    remote = simulate(parse_scenario(SMALL), executor=ray_executor)
    assert remote.events == local.events
    pd.testing.assert_frame_equal(remote.providers, local.providers)
    pd.testing.assert_frame_equal(remote.tenants, local.tenants)
