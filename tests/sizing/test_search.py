import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacer import size_inference, size_search
from pacer.errors import PacerError
from pacer.sizing.search import pareto_front


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.01, 100), st.floats(0.001, 1)), min_size=1, max_size=60))
def test_pareto_front_is_exactly_the_undominated(points):
    cost, latency = (np.array(x) for x in zip(*points, strict=True))
    mask = pareto_front(cost, latency)
    for i in range(len(cost)):
        dominated = np.any((cost <= cost[i]) & (latency <= latency[i]) & ((cost < cost[i]) | (latency < latency[i])))
        duplicate_earlier = False
        if mask[i]:
            assert not dominated
        elif not dominated:
            # Ties: an identical point already on the front.
            same = (cost == cost[i]) & (latency == latency[i]) & mask
            duplicate_earlier = bool(same.any())
            assert duplicate_earlier


def test_search_agrees_with_single_sizing():
    search = size_search("llama-3.1-8b", 1000, 1000, accelerators=["h100-sxm"], precisions=["fp8"])
    frame = search.configurations
    row = frame[(frame.tensor_parallel == 1) & (frame.pipeline_parallel == 1)].nlargest(1, "batch").iloc[0]
    single = size_inference("llama-3.1-8b", "h100-sxm", 1, "fp8", 1000, 1000)
    assert row.output_tokens_per_s == pytest.approx(single.max_output_tokens_per_s)


def test_search_front_respects_limits_and_spans_accelerators():
    result = size_search("llama-3.1-70b", 1000, 1000, tpot_ms=40)
    assert (result.configurations.tpot_s <= 0.040).all()
    front = result.front
    assert len(front) >= 2
    assert front.usd_per_million_output_tokens.is_monotonic_decreasing
    assert result.configurations.accelerator.nunique() >= 8
    assert result.to_dict()["front"]


def test_search_bad_input():
    with pytest.raises(PacerError, match=r"^accelerators: "):
        size_search("llama-3.1-8b", accelerators=["h100-sx"])
    with pytest.raises(PacerError, match=r"^precisions: "):
        size_search("llama-3.1-8b", precisions=["fp3"])
