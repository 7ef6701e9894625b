"""Workloads sized with the sizing engine: FLOP/s per GPU for training, output tokens/s per GPU for serving."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from pacer.catalog import get_accelerator, get_model, load_efficiency
from pacer.catalog.loader import StackKind
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
def _training_rate(model: str, flops: float, accelerator: str, precision: str, days: float,
                   stack: str | None = None) -> float:
    shape = ModelShape.of(get_model(model))
    tokens = flops / (6.0 * shape.active_params)
    result = size_training(model, tokens, accelerator, None, precision, days=days, stack=stack)
    return result.train_flops / (result.gpu_hours * 3600.0)


def _stack_on(kind: StackKind, stack: str | None, accelerator: str) -> str | None:
    """``stack`` where it runs on ``accelerator``, else the vendor's default (for reference sizings)."""
    families = load_efficiency().stacks.stacks.get(stack or "")
    return stack if families is not None and get_accelerator(accelerator).vendor in families.families else None


def training_flops_per_gpu_s(campaign: TrainingCampaign, accelerator: str) -> float:
    """Effective FLOP per GPU-second of a run of ``campaign`` on ``accelerator`` (utilisation and goodput in)."""
    precision = campaign.precision if get_accelerator(accelerator).peak_tflops(campaign.precision) > 0 else "bf16"
    days = campaign.duration_quarters * SECONDS_PER_QUARTER / 86400
    return _training_rate(campaign.model, round(campaign_flops(campaign), -18), accelerator, precision, days,
                          _stack_on("training", campaign.stack, accelerator))


@lru_cache(maxsize=512)
def _serving_rate(model: str, accelerator: str, precision: str, inp: int, out: int,
                  ttft_ms: float | None, tpot_ms: float | None, stack: str | None = None) -> float:
    smallest = size_inference(model, accelerator, None, precision, inp, out, ttft_ms=ttft_ms, tpot_ms=tpot_ms,
                              stack=stack)
    # Serve from whole servers (up to 8 accelerators), as fleets are deployed.
    count = max(smallest.count, min(8, get_accelerator(accelerator).server_accelerators))
    result = size_inference(model, accelerator, count, precision, inp, out, ttft_ms=ttft_ms, tpot_ms=tpot_ms,
                            stack=stack)
    return result.max_output_tokens_per_s / result.count


def serving_precision(accelerator: str, precision: str) -> str:
    """``precision`` where ``accelerator`` computes at it, else the nearest it has (fp4 -> fp8 -> bf16)."""
    spec = get_accelerator(accelerator)
    for candidate in (precision, *FALLBACK.get(precision, ()), "bf16"):
        if spec.peak_tflops(candidate) > 0:
            return candidate
    return "bf16"


FALLBACK = {"fp4": ("fp8", "int8"), "int8": ("fp8",), "fp8": ("int8",)}


def output_tokens_per_gpu_s(service: InferenceService, accelerator: str) -> float:
    """Output tokens/s one ``accelerator`` sustains for ``service`` within its latency limits."""
    rate = _serving_rate(service.model, accelerator, serving_precision(accelerator, service.precision),
                         service.input_tokens, service.output_tokens, service.ttft_ms, service.tpot_ms,
                         _stack_on("serving", service.stack, accelerator))
    if rate <= 0:
        from pacer.errors import InputError

        raise InputError(f"demand.inference[{service.name}]", accelerator,
                         "cannot be served within its latency limits on this accelerator")
    return rate


#: The accelerator H100-equivalents are counted in.
REFERENCE_ACCELERATOR = "h100-sxm"
#: Workloads that stand for a scenario's training and serving when it names none (a demand table).
REFERENCE_TRAINING = TrainingCampaign(name="reference", model="llama-3.1-70b", tokens=15e12, start="2025Q1",
                                      duration_quarters=2, region="-", precision="bf16")
REFERENCE_SERVICE = InferenceService(name="reference", model="llama-3.1-70b", tokens_per_day=1e9, input_tokens=1000,
                                     output_tokens=1000, precision="fp8", region="-")


def h100e_per_gpu(accelerators: list[str], training: list[TrainingCampaign],
                  inference: list[InferenceService]) -> dict[str, dict[str, float]]:
    """H100-equivalents of one accelerator per workload, from the sizing engine.

    For training, the achieved FLOP/s of each campaign (its model, precision and stack) on the
    accelerator over that on an H100; for inference, each service's output tokens/s per accelerator
    (its precision, stack and latency limits) over an H100's. Campaigns are weighted by their FLOPs,
    services by their tokens per day. A B200 serving at fp4 is thus worth more H100s than the same
    B200 training at bf16.
    """
    campaigns = training or [REFERENCE_TRAINING]
    services = inference or [REFERENCE_SERVICE]
    train_w = np.array([campaign_flops(c) for c in campaigns])
    serve_w = np.array([svc.tokens_per_day for svc in services])
    out: dict[str, dict[str, float]] = {}
    for acc in accelerators:
        train = np.array([training_flops_per_gpu_s(c, acc) / training_flops_per_gpu_s(c, REFERENCE_ACCELERATOR)
                          for c in campaigns])
        serve = np.array([output_tokens_per_gpu_s(svc, acc) / output_tokens_per_gpu_s(svc, REFERENCE_ACCELERATOR)
                          for svc in services])
        out[acc] = {"training": float(train @ train_w / train_w.sum()),
                    "inference": float(serve @ serve_w / serve_w.sum())}
    return out
