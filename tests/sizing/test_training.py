import pytest

from pacer import size_training
from pacer.errors import PacerError


def test_405b_run_in_reported_range():
    r = size_training("llama-3.1-405b", 15.6e12, "h100-sxm", 16384)
    assert r.train_flops == pytest.approx(3.8e25, rel=0.06)
    assert 300 < r.tflops_per_gpu < 500
    assert r.days == pytest.approx(r.gpu_hours / 16384 / 24)
    assert r.energy_mwh == pytest.approx(r.gpu_hours * 1.453e-3, rel=0.01)
    assert r.cost_usd == pytest.approx(r.gpu_hours * 2.5, rel=0.5)


def test_sized_cluster_meets_days():
    r = size_training("llama-3.1-70b", 15e12, "h100-sxm", days=60)
    assert not r.gpus_given and r.days <= 60.5
    assert r.to_dict()["days"] is None


def test_faster_accelerator_fewer_hours():
    h100 = size_training("llama-3.1-70b", 15e12, "h100-sxm", 4096)
    a100 = size_training("llama-3.1-70b", 15e12, "a100-80gb", 4096)
    assert h100.gpu_hours < a100.gpu_hours


def test_moe_trains_on_active_parameters():
    moe = size_training("deepseek-v3", 14.8e12, "h800", 2048, "fp8")
    assert moe.train_flops < 6 * 60e9 * 14.8e12


def test_a_small_global_batch_on_many_gpus_pays_the_step_overhead():
    """MLPerf Training's Llama 3.1 8B at 512 GB200 ran 64 sequences per step: 0.125 per GPU, a few ms of
    compute against each step's fixed overhead. A pre-training batch hides it."""
    free = size_training("llama-3.1-8b", 1e12, "gb200", 512, "fp8", sequence_tokens=8192)
    strong = size_training("llama-3.1-8b", 1e12, "gb200", 512, "fp8", sequence_tokens=8192, global_batch=64)
    big = size_training("llama-3.1-8b", 1e12, "gb200", 512, "fp8", sequence_tokens=8192, global_batch=65536)
    assert strong.mfu < 0.6 * free.mfu
    assert strong.gpu_hours > free.gpu_hours
    assert big.mfu == pytest.approx(free.mfu, rel=0.02) and big.mfu < free.mfu
    mfus = [size_training("llama-3.1-70b", 1e12, "h100-sxm", 1024, global_batch=b).mfu for b in (16, 128, 1024, 8192)]
    assert mfus == sorted(mfus)
    # The same batch on fewer GPUs computes more per step, so it loses less.
    few = size_training("llama-3.1-8b", 1e12, "gb200", 64, "fp8", sequence_tokens=8192, global_batch=64)
    assert few.mfu > strong.mfu


def test_a_sized_cluster_at_a_global_batch_meets_the_days_or_says_it_cannot():
    sized = size_training("llama-3.1-405b", 15e12, "h100-sxm", days=90, global_batch=1024)
    assert 89 <= sized.days <= 90.5 and sized.gpus_given is False
    with pytest.raises(PacerError, match=r"^global_batch: too small to finish in 90 days: .* on any cluster"):
        size_training("llama-3.1-405b", 15e12, "h100-sxm", days=90, global_batch=16)


@pytest.mark.parametrize(("kwargs", "field"), [({"tokens": -1}, "tokens"), ({"gpus": 0}, "gpus"),
                                               ({"model": "llama-9"}, "model"), ({"days": -2}, "days"),
                                               ({"global_batch": 0}, "global_batch"),
                                               ({"global_batch": 2.5}, "global_batch")])
def test_bad_input(kwargs, field):
    args = {"model": "llama-3.1-8b", "tokens": 1e12} | kwargs
    with pytest.raises(PacerError, match=rf"^{field}: "):
        size_training(**args)
