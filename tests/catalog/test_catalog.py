import pytest

from pacer.catalog import get_accelerator, get_model, load_catalog, load_efficiency, load_facilities
from pacer.catalog.loader import _validate
from pacer.catalog.schema import Accelerator, Model
from pacer.errors import CatalogError, PacerError

REQUIRED_ACCELERATORS = {"a100-80gb", "h100-sxm", "h100-pcie", "h800", "h200", "b200", "gb200", "mi300x",
                         "mi325x", "gaudi3", "tpu-v5p", "tpu-v6e"}
REQUIRED_MODELS = {"llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3.1-8b", "llama-3.1-70b",
                   "llama-3.1-405b", "command-r", "command-a", "mixtral-8x7b", "deepseek-v3",
                   "qwen3-235b-a22b", "gpt-3-175b"}
ESTIMATED_FIELDS = ("price_usd", "rental_usd_per_hour")


def test_required_entries_present():
    catalog = load_catalog()
    assert set(catalog.accelerators) >= REQUIRED_ACCELERATORS
    assert set(catalog.models) >= REQUIRED_MODELS


@pytest.mark.parametrize("accelerator_id", sorted(REQUIRED_ACCELERATORS))
def test_accelerator_figures_have_sources(accelerator_id):
    acc = get_accelerator(accelerator_id)
    assert acc.source.title and acc.source.publisher
    # Prices are estimates everywhere: they must say so.
    for name in ESTIMATED_FIELDS:
        assert acc.source_of(name).estimate, f"{accelerator_id}.{name} must be marked estimate"
    assert acc.peak_tflops("bf16") > 0
    assert acc.server_power_per_accelerator_w >= acc.tdp_w


def test_known_figures():
    h100 = get_accelerator("h100-sxm")
    assert h100.hbm_gb == 80 and h100.server_power_kw == pytest.approx(10.2)
    assert h100.peak_tflops("fp8") == pytest.approx(2 * h100.peak_tflops("bf16"), rel=0.01)
    assert get_accelerator("a100-80gb").peak_tflops("fp8") == 0
    assert get_accelerator("h200").hbm_gb == pytest.approx(141)
    ds = get_model("deepseek-v3")
    assert ds.attention == "mla" and ds.is_moe and ds.active_params_b < ds.total_params_b
    assert get_model("command-a").sliding_window > 0


def test_model_parameter_counts_consistent_with_architecture():
    """Dense models: 12*L*d^2-style count from the architecture within 10% of the stated total."""
    for m in load_catalog().models.values():
        if m.is_moe or m.attention == "mla":
            continue
        attn = m.hidden_size * m.head_dim * (2 * m.attention_heads + 2 * m.kv_heads)
        mlp = 3 * m.hidden_size * m.ffn_size if m.id != "gpt-3-175b" else 2 * m.hidden_size * m.ffn_size
        embed = m.vocab_size * m.hidden_size * (1 if m.id in {"gpt-3-175b", "command-r", "command-a"} else 2)
        estimate = m.layers * (attn + mlp) + embed
        assert estimate == pytest.approx(m.total_params, rel=0.1), m.id


def test_unknown_ids_suggest_close_matches():
    with pytest.raises(PacerError, match=r"did you mean.*h100-sxm"):
        get_accelerator("h100-sx")
    with pytest.raises(PacerError, match=r"model: unknown model 'lama-3.1-70b'"):
        get_model("lama-3.1-70b")


def test_bad_catalog_entry_names_field():
    good = get_accelerator("h100-sxm").model_dump()
    good["hbm_gb"] = -1
    with pytest.raises(CatalogError, match="hbm_gb"):
        _validate("accelerators.yaml: accelerators[0]", Accelerator, good)
    model = get_model("llama-3.1-8b").model_dump()
    model["active_params_b"] = 100
    with pytest.raises(CatalogError, match="active_params_b"):
        _validate("models.yaml: models[0]", Model, model)
    moe = get_model("mixtral-8x7b").model_dump() | {"expert_ffn_size": 0}  # its share would be 0: a division by 0
    with pytest.raises(CatalogError, match="expert_ffn_size"):
        _validate("models.yaml: models[0]", Model, moe)


def test_efficiency_and_facilities_load():
    eff = load_efficiency()
    assert 0 < eff.inference.prefill_mfu.value < 1
    assert 0 < eff.training.goodput.value <= 1
    for section in (eff.inference, eff.training):
        for name, factor in section:
            assert factor.doc, name
            assert factor.fitted or factor.source is not None, f"{name}: unfitted factors need a source"
    assert load_facilities().pue["hyperscale"].value > 1
