"""Workloads sized with the sizing engine: FLOP/s per GPU for training, output tokens/s per GPU for serving."""

from __future__ import annotations

from functools import lru_cache

from pacer.catalog import get_accelerator, get_model
from pacer.scenario import InferenceService, TrainingCampaign
from pacer.sizing import size_inference, size_training
from pacer.sizing.roofline import ModelShape, training_flops

SECONDS_PER_QUARTER = 365.25 / 4 * 86400


def campaign_flops(campaign: TrainingCampaign) -> float:
    """Training FLOPs of one run of ``campaign`` (given, or from its model and tokens)."""
    if campaign.train_flops is not None:
        return campaign.train_flops
    model = get_model(campaign.model)
    seq = min(model.max_context, 8192)
    return float(training_flops(ModelShape.of(model), campaign.tokens or 0.0, seq))


@lru_cache(maxsize=512)
def _training_rate(model: str, flops: float, accelerator: str, precision: str, days: float) -> float:
    shape = ModelShape.of(get_model(model))
    tokens = flops / (6.0 * shape.active_params)
    result = size_training(model, tokens, accelerator, None, precision, days=days)
    return result.train_flops / (result.gpu_hours * 3600.0)


def training_flops_per_gpu_s(campaign: TrainingCampaign, accelerator: str) -> float:
    """Effective FLOP per GPU-second of a run of ``campaign`` on ``accelerator`` (utilisation and goodput in)."""
    precision = campaign.precision if get_accelerator(accelerator).peak_tflops(campaign.precision) > 0 else "bf16"
    days = campaign.duration_quarters * SECONDS_PER_QUARTER / 86400
    return _training_rate(campaign.model, round(campaign_flops(campaign), -18), accelerator, precision, days)


@lru_cache(maxsize=512)
def _serving_rate(model: str, accelerator: str, precision: str, inp: int, out: int,
                  ttft_ms: float | None, tpot_ms: float | None) -> float:
    smallest = size_inference(model, accelerator, None, precision, inp, out, ttft_ms=ttft_ms, tpot_ms=tpot_ms)
    # Serve from whole servers (up to 8 accelerators), as fleets are deployed.
    count = max(smallest.count, min(8, get_accelerator(accelerator).server_accelerators))
    result = size_inference(model, accelerator, count, precision, inp, out, ttft_ms=ttft_ms, tpot_ms=tpot_ms)
    return result.max_output_tokens_per_s / result.count


def output_tokens_per_gpu_s(service: InferenceService, accelerator: str) -> float:
    """Output tokens/s one ``accelerator`` sustains for ``service`` within its latency limits."""
    rate = _serving_rate(service.model, accelerator, service.precision, service.input_tokens,
                         service.output_tokens, service.ttft_ms, service.tpot_ms)
    if rate <= 0:
        from pacer.errors import InputError

        raise InputError(f"demand.inference[{service.name}]", accelerator,
                         "cannot be served within its latency limits on this accelerator")
    return rate
