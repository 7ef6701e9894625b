"""Monotonicity properties of the sizing model (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pacer import size_inference, size_training
from pacer.catalog import get_model
from pacer.sizing.roofline import ModelShape, kv_bytes_per_sequence

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

dense_models = st.sampled_from(["llama-3.1-8b", "llama-2-13b", "llama-3.1-70b", "command-r"])
any_models = st.sampled_from(["llama-3.1-8b", "llama-3.1-70b", "mixtral-8x7b", "qwen3-235b-a22b",
                              "deepseek-v3", "command-a"])
fp8_accelerators = st.sampled_from(["h100-sxm", "h200", "b200", "mi300x", "gaudi3"])
tokens = st.integers(min_value=16, max_value=16_000)


@FAST
@given(model=any_models, accelerator=fp8_accelerators, inp=tokens, out=tokens, extra=st.integers(1, 8000))
def test_more_output_tokens_never_raise_throughput_per_request(model, accelerator, inp, out, extra):
    assume(inp + out + extra <= get_model(model).max_context)  # longer requests are refused
    base = size_inference(model, accelerator, 8, "fp8", inp, out)
    longer = size_inference(model, accelerator, 8, "fp8", inp, out + extra)
    assert longer.requests_per_s <= base.requests_per_s * (1 + 1e-9)


@FAST
@given(model=any_models, accelerator=fp8_accelerators, count=st.integers(1, 32), more=st.integers(1, 32),
       inp=tokens, out=tokens)
def test_more_gpus_never_reduce_max_batch(model, accelerator, count, more, inp, out):
    assume(inp + out <= get_model(model).max_context)
    few = size_inference(model, accelerator, count, "fp8", inp, out)
    many = size_inference(model, accelerator, count + more, "fp8", inp, out)
    assert many.max_batch >= few.max_batch
    assert many.fits or not few.fits
    assert many.max_output_tokens_per_s >= few.max_output_tokens_per_s * (1 - 1e-9)


@FAST
@given(model=any_models, accelerator=fp8_accelerators, count=st.integers(1, 16), inp=tokens, out=tokens)
def test_fp8_never_needs_more_memory_than_bf16(model, accelerator, count, inp, out):
    assume(inp + out <= get_model(model).max_context)
    bf16 = size_inference(model, accelerator, count, "bf16", inp, out)
    fp8 = size_inference(model, accelerator, count, "fp8", inp, out)
    assert fp8.max_batch >= bf16.max_batch
    assert fp8.fits or not bf16.fits
    shape = ModelShape.of(get_model(model))
    assert kv_bytes_per_sequence(shape, inp + out, 1.0) <= kv_bytes_per_sequence(shape, inp + out, 2.0)
    assert size_inference(model, accelerator, None, "fp8", inp, out).count <= \
        size_inference(model, accelerator, None, "bf16", inp, out).count


@FAST
@given(smaller=dense_models, larger=dense_models, accelerator=fp8_accelerators, inp=tokens, out=tokens)
def test_bigger_model_never_needs_fewer_gpus(smaller, larger, accelerator, inp, out):
    assume(inp + out <= min(get_model(smaller).max_context, get_model(larger).max_context))
    a, b = get_model(smaller), get_model(larger)
    # "Bigger" in every respect that takes memory: weights and KV cache per token.
    kv = lambda m: kv_bytes_per_sequence(ModelShape.of(m), 1, 1.0)  # noqa: E731
    if not (b.total_params >= a.total_params and kv(b) >= kv(a)):
        a, b = b, a
    if not (b.total_params >= a.total_params and kv(b) >= kv(a)):
        return
    need_a = size_inference(a.id, accelerator, None, "fp8", inp, out).count
    need_b = size_inference(b.id, accelerator, None, "fp8", inp, out).count
    assert need_b >= need_a


@FAST
@given(model=dense_models, rate=st.floats(0.1, 500), factor=st.floats(1.0, 20.0))
def test_more_demand_never_needs_fewer_gpus(model, rate, factor):
    low = size_inference(model, "h100-sxm", None, "fp8", 1000, 500, rate_rps=rate, tpot_ms=60)
    high = size_inference(model, "h100-sxm", None, "fp8", 1000, 500, rate_rps=rate * factor, tpot_ms=60)
    assert high.accelerators_needed >= low.accelerators_needed


@FAST
@given(model=any_models, tokens_=st.floats(1e9, 1e14), extra=st.floats(1.0, 10.0))
def test_training_more_tokens_more_gpu_hours(model, tokens_, extra):
    a = size_training(model, tokens_, "h100-sxm", 1024)
    b = size_training(model, tokens_ * extra, "h100-sxm", 1024)
    assert b.gpu_hours >= a.gpu_hours and b.energy_mwh >= a.energy_mwh


@FAST
@given(model=any_models, gpus=st.integers(1, 100_000), more=st.integers(1, 100_000))
def test_training_bigger_cluster_never_raises_utilisation(model, gpus, more):
    assert size_training(model, 1e12, "h100-sxm", gpus + more).mfu <= size_training(model, 1e12, "h100-sxm", gpus).mfu
