import math

import pytest

from pacer import size_inference
from pacer.errors import PacerError
from pacer.sizing.inference import max_output_tokens_per_s


def test_llama_8b_on_one_h100():
    r = size_inference("llama-3.1-8b", "h100-sxm", 1, "fp8", 1000, 1000)
    assert r.fits and r.tensor_parallel == 1 and r.replicas == 1
    assert 100 < r.max_batch <= 2048
    assert 0 < r.ttft_s < 1 and 0.005 < r.tpot_s < 0.2
    assert r.power_kw == pytest.approx(10.2 / 8)
    assert r.usd_per_million_output_tokens == pytest.approx(
        r.usd_per_hour / (r.max_output_tokens_per_s * 3600) * 1e6)
    frame = r.to_frame()
    assert {"tensor_parallel", "batch_per_replica", "tpot_s"} <= set(frame.columns)


def test_command_a_fits_two_h100_at_fp8_not_bf16():
    context = 262144 - 1
    assert size_inference("command-a", "h100-sxm", 2, "fp8", context, 1).fits
    assert not size_inference("command-a", "h100-sxm", 2, "bf16", context, 1).fits


def test_does_not_fit_reports_no_throughput():
    r = size_inference("llama-3.1-405b", "h100-sxm", 1, "bf16", 1000, 1000)
    assert not r.fits and r.max_output_tokens_per_s == 0 and math.isinf(r.usd_per_million_output_tokens)


def test_latency_limits_trade_throughput():
    free = size_inference("llama-3.1-70b", "h100-sxm", 4, "fp8", 1000, 1000)
    tight = size_inference("llama-3.1-70b", "h100-sxm", 4, "fp8", 1000, 1000, tpot_ms=20)
    assert tight.tpot_s <= 0.020
    assert tight.max_output_tokens_per_s <= free.max_output_tokens_per_s
    impossible = size_inference("llama-3.1-70b", "h100-sxm", 4, "fp8", 1000, 1000, tpot_ms=0.01)
    assert not impossible.meets_latency and impossible.max_output_tokens_per_s == 0


def test_rate_answers_accelerators_needed():
    r = size_inference("llama-3.1-70b", "h100-sxm", None, "fp8", 1000, 1000, rate_rps=20, tpot_ms=50)
    assert r.accelerators_needed == r.count >= 2
    assert r.requests_per_s >= 20


def test_default_count_is_smallest_fit():
    assert size_inference("llama-3.1-8b", "h100-sxm", precision="fp8").count == 1
    assert size_inference("llama-3.1-405b", "h100-sxm", precision="fp8").count == 8


def test_pipeline_beyond_one_node():
    r = size_inference("llama-3.1-405b", "h100-sxm", 16, "bf16", 1000, 1000)
    assert r.fits and r.pipeline_parallel >= 2


def test_moe_decodes_faster_than_dense_of_same_size():
    moe = size_inference("mixtral-8x7b", "h100-sxm", 1, "fp8", 1000, 1000, tpot_ms=30)
    dense = size_inference("llama-3.1-70b", "h100-sxm", 1, "fp8", 1000, 1000, tpot_ms=30)
    assert moe.max_output_tokens_per_s > dense.max_output_tokens_per_s


def test_a_stated_tensor_parallel_degree_is_the_only_layout_tried():
    free = size_inference("llama-3.1-70b", "h100-sxm", 8, "fp8", 1000, 1000)
    tp8 = size_inference("llama-3.1-70b", "h100-sxm", 8, "fp8", 1000, 1000, tensor_parallel=8)
    assert tp8.tensor_parallel == 8 and set(tp8.to_frame().tensor_parallel) == {8}
    assert free.tensor_parallel != 8  # the best layout runs smaller replicas
    assert tp8.max_output_tokens_per_s < free.max_output_tokens_per_s
    assert tp8.max_output_tokens_per_s == pytest.approx(
        max_output_tokens_per_s("llama-3.1-70b", "h100-sxm", 8, "fp8", 1000, 1000, tensor_parallel=8))


def test_max_batch_caps_the_requests_running_at_once_over_the_deployment():
    free = size_inference("llama-3.1-8b", "h100-sxm", 2, "fp8", 128, 128)
    small = size_inference("llama-3.1-8b", "h100-sxm", 2, "fp8", 128, 128, max_batch=64)
    assert free.batch > 64 and small.batch <= 64
    frame = small.to_frame()
    assert (frame.batch_per_replica * frame.replicas <= 64).all()
    assert small.max_output_tokens_per_s < free.max_output_tokens_per_s
    # Above the engine default (2048 per replica) a stated batch is run where the memory holds it.
    engine = size_inference("llama-3.1-8b", "h100-sxm", 1, "fp8", 128, 128)
    big = size_inference("llama-3.1-8b", "h100-sxm", 1, "fp8", 128, 128, max_batch=4000)
    assert engine.batch == 2048 and 2048 < big.batch <= 4000
    assert big.max_output_tokens_per_s > engine.max_output_tokens_per_s
    assert big.max_output_tokens_per_s == pytest.approx(
        max_output_tokens_per_s("llama-3.1-8b", "h100-sxm", 1, "fp8", 128, 128, max_batch=4000))
    # Fewer requests than replicas: the extra accelerators sit idle, the model still fits.
    few = size_inference("llama-3.1-8b", "h100-sxm", 128, "fp8", 128, 128, tensor_parallel=1, max_batch=4)
    assert few.fits and few.replicas == 4 and few.batch == 4 and few.max_output_tokens_per_s > 0
    # More allowed never serves less.
    rates = [max_output_tokens_per_s("llama-3.1-70b", "h200", 8, "fp8", 1000, 1000, max_batch=b)
             for b in (8, 64, 512, 4096)]
    assert rates == sorted(rates)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"model": "gpt-5"}, "model"),
        ({"accelerator": "h1000"}, "accelerator"),
        ({"count": 0}, "count"),
        ({"precision": "fp2"}, "precision"),
        ({"input_tokens": -1}, "input_tokens"),
        ({"tpot_ms": -5.0}, "tpot_ms"),
        ({"rate_rps": 0.0}, "rate_rps"),
        ({"accelerator": "a100-80gb", "precision": "fp8"}, "precision"),
        ({"count": 8, "tensor_parallel": 3}, "tensor_parallel"),
        ({"count": 8, "tensor_parallel": 16}, "tensor_parallel"),
        ({"max_batch": 0}, "max_batch"),
        ({"max_batch": 64}, "max_batch"),  # no count: no deployment to cap
        ({"count": 8, "max_batch": 64, "rate_rps": 10.0}, "max_batch"),  # a cap and a rate to size for
        ({"count": 8, "mode": "disaggregated", "tensor_parallel": 8}, "tensor_parallel"),
    ],
)
def test_bad_input_names_field(kwargs, field):
    args = {"model": "llama-3.1-8b", "accelerator": "h100-sxm", "precision": "bf16"} | kwargs
    with pytest.raises(PacerError, match=rf"^{field}: "):
        size_inference(**args)


def test_every_decode_step_pays_a_fixed_overhead_that_small_models_feel_most():
    from pacer.catalog import load_efficiency

    eff = load_efficiency()
    without = eff.with_values("inference", decode_step_overhead_s=1e-9)
    gain = {}
    for model, count in (("llama-3.1-8b", 1), ("llama-3.1-405b", 8)):
        paid = size_inference(model, "b200", count, "fp8", 128, 128, tpot_ms=1e6)
        free = size_inference(model, "b200", count, "fp8", 128, 128, tpot_ms=1e6, efficiency=without)
        assert paid.tpot_s >= eff.inference.decode_step_overhead_s.value
        gain[model] = free.max_output_tokens_per_s / paid.max_output_tokens_per_s
    assert gain["llama-3.1-8b"] > gain["llama-3.1-405b"] > 1.0
