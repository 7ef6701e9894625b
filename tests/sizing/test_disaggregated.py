"""Disaggregated serving: prefill and decode pools, their ratio, wide expert parallelism, and bad input."""

from pathlib import Path

import pandas as pd
import pytest

from pacer.errors import InputError, PacerError
from pacer.sizing import size_inference, size_search

PUBLISHED = pd.read_csv(Path(__file__).parents[1] / "validation" / "disaggregated.csv")


def test_disaggregated_json_carries_both_pools_and_the_decode_pool_rate():
    result = size_inference("llama-3.1-70b", "h100-sxm", 8, "fp8", 1000, 1000, mode="disaggregated")
    out = result.to_dict()
    assert out["mode"] == "disaggregated"
    assert out["prefill_gpus"] + out["decode_gpus"] == 8 and out["prefill_gpus"] >= 1 and out["decode_gpus"] >= 1
    # The deployment serves what the slower pool allows; the decode pool can emit at least that.
    assert 0 < out["max_output_tokens_per_s"] <= out["decode_output_tokens_per_s"] * (1 + 1e-9)
    assert "prefill_gpus" not in size_inference("llama-3.1-70b", "h100-sxm", 8, "fp8").to_dict()


def test_given_pools_are_used_and_more_decode_accelerators_never_serve_less():
    small = size_inference("llama-3.1-70b", "h100-sxm", None, "fp8", 1000, 1000, mode="disaggregated",
                           prefill_gpus=2, decode_gpus=4)
    large = size_inference("llama-3.1-70b", "h100-sxm", None, "fp8", 1000, 1000, mode="disaggregated",
                           prefill_gpus=2, decode_gpus=8)
    assert (small.prefill_gpus, small.decode_gpus, small.count) == (2, 4, 6)
    assert large.decode_output_tokens_per_s >= small.decode_output_tokens_per_s
    assert large.max_output_tokens_per_s >= small.max_output_tokens_per_s


def test_pacer_chooses_a_balanced_ratio_when_no_count_is_given():
    result = size_inference("llama-3.1-70b", "h100-sxm", None, "fp8", 4000, 250, mode="disaggregated")
    prefill_side = result.requests_per_s
    # Long prompts, short answers: the prefill pool is the larger one.
    assert result.prefill_gpus > result.decode_gpus
    assert result.decode_output_tokens_per_s / 250 >= prefill_side * 0.99


def test_wide_expert_parallelism_for_moe_decode_across_nodes():
    result = size_inference("deepseek-v3", "h100-sxm", 96, "fp8", 2000, 1000, mode="disaggregated",
                            prefill_gpus=24, decode_gpus=72, expert_parallel=72)
    assert "EP72" in result.decode_layout and result.decode_gpus == 72


def test_latency_limits_are_honoured():
    result = size_inference("llama-3.1-70b", "h100-sxm", 16, "fp8", 1000, 1000, mode="disaggregated", tpot_ms=30)
    assert result.tpot_s * 1e3 <= 30
    none = size_inference("llama-3.1-70b", "h100-sxm", 16, "fp8", 1000, 1000, mode="disaggregated", tpot_ms=0.5)
    assert not none.meets_latency and none.max_output_tokens_per_s == 0


@pytest.mark.validation
@pytest.mark.parametrize("row", PUBLISHED.to_dict("records"), ids=lambda r: r["id"])
def test_wide_ep_decode_within_a_third_of_published_deployments(row):
    result = size_inference(row["model"], row["accelerator"], None, row["precision"], row["input_tokens"],
                            row["output_tokens"], mode="disaggregated", prefill_gpus=32, decode_gpus=row["decode_gpus"],
                            expert_parallel=row["decode_gpus"])
    per_gpu = result.decode_output_tokens_per_s / row["decode_gpus"]
    error = per_gpu / row["value"] - 1
    if row["id"] == "D3":
        # Known off: pacer's GB200 decode is about 1.7x SGLang's figure (fp4 attention assumed; the
        # published run kept attention in fp8 and had not yet tuned the NVL72 all-to-all).
        assert error > 0.33, "D3 now within a third: drop this exception"
        return
    assert abs(error) <= 0.33, f"{row['id']}: {per_gpu:.0f} vs {row['value']} tokens/s/GPU"


@pytest.mark.parametrize("kwargs, message", [
    (dict(count=1, mode="disaggregated"), "at least 2 accelerators"),
    (dict(count=8, mode="disaggregated", expert_parallel=8), "dense model"),
    (dict(count=8, mode="split"), "mode"),
    (dict(count=8, prefill_gpus=2), "disaggregated only"),
    (dict(count=8, mode="disaggregated", prefill_gpus=2), "give both or neither"),
    (dict(count=8, mode="disaggregated", prefill_gpus=2, decode_gpus=2), "must equal"),
    (dict(count=8, stack="vllm-turbo"), "unknown serving stack"),
    (dict(count=8, stack="jetstream"), "does not run on"),
    (dict(count=8, precision="fp4"), "fp4"),
])
def test_bad_modes_stacks_and_precisions_are_one_line_errors(kwargs, message):
    args = dict(model="llama-3.1-70b", accelerator="h100-sxm", precision="fp8") | kwargs
    with pytest.raises((InputError, PacerError), match=message) as info:
        size_inference(**args)
    assert "\n" not in str(info.value)


def test_search_covers_both_modes():
    result = size_search("deepseek-v3", 2000, 1000, accelerators=["h100-sxm", "gb200"], modes=["aggregated",
                                                                                                "disaggregated"])
    frame = result.configurations
    assert set(frame["mode"]) == {"aggregated", "disaggregated"}
    disaggregated = frame[frame["mode"] == "disaggregated"]
    assert (disaggregated.prefill_gpus + disaggregated.decode_gpus == disaggregated.accelerators).all()
    with pytest.raises(InputError, match="modes"):
        size_search("deepseek-v3", modes=["both"])


def test_a_model_too_large_for_the_pools_does_not_fit():
    result = size_inference("llama-3.1-405b", "h100-sxm", None, "bf16", 1000, 1000, mode="disaggregated",
                            prefill_gpus=1, decode_gpus=1)
    assert not result.fits and result.max_output_tokens_per_s == 0
    slow = size_inference("llama-3.1-70b", "h100-sxm", 8, "fp8", 1000, 1000, mode="disaggregated", tpot_ms=0.5)
    assert slow.fits and not slow.meets_latency


def test_the_pool_search_stays_bounded_for_any_count(monkeypatch):
    """Prefill replica counts are exact up to 128, then 1% steps: ten million accelerators are sized in about
    a thousand candidates (the full range took gigabytes), and the answer stays within the search's own
    2% tolerance of the exhaustive one."""
    import tracemalloc

    import numpy as np

    import pacer.sizing.disaggregated as disaggregated

    counts = disaggregated.replica_counts(10_000_000)
    assert list(counts[:128]) == list(range(1, 129)) and counts[-1] == 10_000_000
    assert len(counts) < 1_300 and np.all(np.diff(counts) > 0)
    assert np.all(np.diff(counts) <= disaggregated.REPLICA_STEP * counts[:-1] + 1.5)  # 1% steps, whole replicas
    tracemalloc.start()
    big = size_inference("llama-3.1-70b", "h100-sxm", 10_000_000, "fp8", 1000, 1000, mode="disaggregated")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert big.fits and peak < 400e6
    stepped = size_inference("llama-3.1-405b", "b200", 1000, "fp8", 2000, 500, mode="disaggregated")
    monkeypatch.setattr(disaggregated, "replica_counts", lambda m: np.arange(1, m + 1, dtype=float))
    exhaustive = size_inference("llama-3.1-405b", "b200", 1000, "fp8", 2000, 500, mode="disaggregated")
    ratio = stepped.to_dict()["max_output_tokens_per_s"] / exhaustive.to_dict()["max_output_tokens_per_s"]
    assert abs(ratio - 1) <= disaggregated.NEAR_BEST + disaggregated.REPLICA_STEP
