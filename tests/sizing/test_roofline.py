import numpy as np
import pytest

from pacer.catalog import get_model
from pacer.sizing.roofline import (
    ModelShape,
    attention_flops_per_token,
    kv_bytes_per_sequence,
    kv_shards,
    training_flops,
    weight_bytes_read,
)


def test_kv_cache_by_attention_kind():
    # Llama 3.1 8B (GQA): 32 layers x 8 KV heads x 128 dims x (K,V) x 2 bytes = 128 KiB per token.
    llama = ModelShape.of(get_model("llama-3.1-8b"))
    assert kv_bytes_per_sequence(llama, 1, 2.0) == 32 * 8 * 128 * 2 * 2
    # Llama 2 7B (MHA) keeps 4x the KV of Llama 3.1 8B per token.
    assert kv_bytes_per_sequence(ModelShape.of(get_model("llama-2-7b")), 1, 2.0) == 4 * 32 * 8 * 128 * 2 * 2
    # DeepSeek-V3 (MLA): 61 layers x (512 latent + 64 rope) values.
    ds = ModelShape.of(get_model("deepseek-v3"))
    assert kv_bytes_per_sequence(ds, 1, 1.0) == 61 * 576
    assert kv_shards(ds, 8) == 1  # the latent cache is not split by heads
    assert kv_shards(llama, 16) == 8  # GQA heads cannot be split beyond the KV heads


def test_sliding_window_caps_local_layers():
    shape = ModelShape.of(get_model("command-a"))
    short = kv_bytes_per_sequence(shape, 4096, 1.0)
    long = kv_bytes_per_sequence(shape, 4096 * 10, 1.0)
    # Beyond the window only the global layers (one in four) keep growing.
    assert long - short == pytest.approx(shape.global_layers / shape.layers * (10 - 1) * short)
    assert attention_flops_per_token(shape, 1e6) < attention_flops_per_token(
        ModelShape.of(get_model("llama-3.1-70b")), 1e6) * 2


def test_moe_reads_only_routed_experts():
    shape = ModelShape.of(get_model("mixtral-8x7b"))
    one = weight_bytes_read(shape, 1, 1.0)
    many = weight_bytes_read(shape, 10_000, 1.0)
    assert one == pytest.approx(shape.active_params, rel=0.05)
    assert many == pytest.approx(shape.total_params, rel=0.01)
    assert np.all(np.diff(weight_bytes_read(shape, np.arange(1, 64), 1.0)) >= 0)


def test_training_flops_match_six_n_d_plus_attention():
    gpt3 = ModelShape.of(get_model("gpt-3-175b"))
    flops = training_flops(gpt3, 300e9, 2048)
    assert flops == pytest.approx(3.14e23, rel=0.03)  # OpenAI's published figure
    assert flops > 6 * gpt3.active_params * 300e9


def test_fine_grained_experts_reach_a_smaller_share_of_the_dense_efficiency():
    """Narrow routed experts run many small grouped GEMMs: DeepSeek-V3 (2,048 wide) and Qwen3 (1,536) reach
    less of the dense efficiencies than Mixtral (14,336), every MoE model less than a dense one."""
    from pacer.catalog import load_efficiency
    from pacer.sizing.roofline import moe_share

    eff = load_efficiency()
    for section, base in (("inference", "moe_efficiency"), ("training", "moe_training_efficiency")):
        part = getattr(eff, section)
        share = {m: moe_share(ModelShape.of(get_model(m)), getattr(part, base).value, part.moe_expert_width_knee.value)
                 for m in ("llama-3.1-70b", "mixtral-8x7b", "deepseek-v3", "qwen3-235b-a22b")}
        assert share["llama-3.1-70b"] == 1.0
        assert 1.0 >= share["mixtral-8x7b"] > share["deepseek-v3"] > share["qwen3-235b-a22b"] > 0.2, (section, share)
    wide = ModelShape.of(get_model("mixtral-8x7b"))
    assert moe_share(wide, 0.9, 0.0) == pytest.approx(0.9)
    assert moe_share(wide, 0.9, wide.expert_ffn_size) == pytest.approx(0.45)
