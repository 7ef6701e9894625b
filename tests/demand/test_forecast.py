"""Properties and small cases of the demand forecast."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pacer.demand import forecast
from pacer.errors import PacerError
from pacer.scenario import parse_scenario

from .conftest import small

FAST = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                     HealthCheck.function_scoped_fixture])


@FAST
@given(factor=st.floats(1.0, 4.0), seed=st.integers(0, 50))
def test_more_tokens_served_never_lowers_inference_demand(seed_raw, factor, seed):
    base = small(seed_raw)
    more = small(seed_raw)
    for svc in more["demand"]["inference"]:
        svc["tokens_per_day"] *= factor
    a = forecast(parse_scenario(base), seed=seed).to_dataset()
    b = forecast(parse_scenario(more), seed=seed).to_dataset()
    inf_a = a.gpus_h100e.sel(workload="inference")
    inf_b = b.gpus_h100e.sel(workload="inference")
    assert (inf_b >= inf_a * (1 - 1e-9)).all()
    np.testing.assert_allclose(inf_b, inf_a * factor, rtol=1e-9)


@FAST
@given(shift=st.integers(1, 8), seed=st.integers(0, 50))
def test_faster_roadmap_never_raises_gpu_count(seed_raw, shift, seed):
    slow = small(seed_raw)
    fast = small(seed_raw)
    for entry in fast["roadmap"][1:]:
        year, q = int(entry["available"][:4]), int(entry["available"][-1])
        index = max(year * 4 + q - 1 - shift, 2023 * 4 + 1)  # never before 2023Q2
        entry["available"] = f"{index // 4}Q{index % 4 + 1}"
    a = forecast(parse_scenario(slow), seed=seed)
    b = forecast(parse_scenario(fast), seed=seed)
    gpus_a = a.expected("gpus").sum(("region", "accelerator"))
    gpus_b = b.expected("gpus").sum(("region", "accelerator"))
    assert (gpus_b <= gpus_a * (1 + 1e-9)).all()


@FAST
@given(leaves=st.integers(1, 30), seed=st.integers(0, 100))
def test_tree_probabilities_sum_to_one_every_quarter(seed_raw, leaves, seed):
    result = forecast(parse_scenario(small(seed_raw, paths=120, leaves=30)), leaves=leaves, seed=seed)
    sums = result.tree.probability_by_quarter()
    assert np.allclose(sums, 1.0)
    assert result.tree.n_leaves == leaves


def test_tree_mean_equals_sampled_mean(seed_raw):
    """The reduced tree keeps the mean of the sampled paths (tolerance 1e-9 relative)."""
    full = forecast(parse_scenario(small(seed_raw, paths=300, leaves=300)))
    reduced = forecast(parse_scenario(small(seed_raw, paths=300, leaves=6)))
    np.testing.assert_allclose(reduced.expected("gpus_h100e"), full.expected("gpus_h100e"), rtol=1e-9)
    assert reduced.quantiles.sel(quantile=0.95).sum() > reduced.quantiles.sel(quantile=0.05).sum()


def test_hundred_thousand_h100s_is_about_145_mw(seed_raw):
    raw = small(seed_raw, paths=1, leaves=1)
    raw["roadmap"] = [{"accelerator": "h100-sxm", "available": "2023Q1"}]
    raw["demand"]["inference"] = []
    raw["demand"]["events"] = []
    raw["demand"]["drivers"]["training_compute"].update(annual_growth=0.0, annual_volatility=0.0, growth_from={})
    raw["demand"]["training"] = [raw["demand"]["training"][0]]
    result = forecast(parse_scenario(raw))
    ds = result.to_dataset()
    h100 = ds.gpus.sel(accelerator="h100-sxm").sum(("region", "workload"))
    it_mw = ds.it_mw.sum(("region", "workload"))
    assert float((it_mw / h100 * 1e5).mean()) == pytest.approx(145, rel=0.02)


def test_user_demand_table(tmp_path, seed_raw):
    csv = tmp_path / "demand.csv"
    rows = ["scenario,probability,quarter,region,workload,gpus_h100e"]
    for name, prob, growth in (("low", 0.25, 1.0), ("high", 0.75, 2.0)):
        for i, q in enumerate(["2025Q1", "2025Q2", "2025Q3", "2025Q4"]):
            value = 1000 * (growth ** i)
            rows.append(f"{name},{prob},{q},us,inference,{value}")
            rows.append(f"{name},{prob},{q},eu,training,500")
    csv.write_text("\n".join(rows))
    raw = small(seed_raw)
    raw["horizon"] = {"start": "2025Q1", "end": "2025Q4"}
    raw["roadmap"] = [{"accelerator": "b200", "available": "2025Q1"}]
    raw["demand"].update(table=str(csv), training=[], inference=[], events=[])
    raw["demand"]["uncertainty"] = {"paths": 2, "leaves": 2}
    result = forecast(parse_scenario(raw, tmp_path))
    assert result.tree.n_leaves == 2
    expected = result.expected("gpus_h100e").sel(region="us", workload="inference").to_numpy()
    np.testing.assert_allclose(expected, [1000, 0.25 * 1000 + 0.75 * 2000, 0.25 * 1000 + 0.75 * 4000,
                                          0.25 * 1000 + 0.75 * 8000])
    # Scenarios share the first quarter (identical there), then branch.
    assert (result.tree.nodes.quarter == 0).sum() == 1
    # GPUs are counted on the roadmap's accelerator: H100e / (a B200's H100e for serving, from the sizing
    # engine on the reference service, since a demand table names no workloads).
    from pacer.demand.workloads import REFERENCE_SERVICE, output_tokens_per_gpu_s

    per_gpu = (output_tokens_per_gpu_s(REFERENCE_SERVICE, "b200")
               / output_tokens_per_gpu_s(REFERENCE_SERVICE, "h100-sxm"))
    assert result.dataset.attrs["h100e_per_gpu"]["b200"]["inference"] == pytest.approx(per_gpu)
    b200 = float(result.expected("gpus").sel(region="us", workload="inference", accelerator="b200")[0])
    assert b200 == pytest.approx(1000 / per_gpu, rel=1e-6)


def test_user_table_probabilities_must_sum_to_one(tmp_path, seed_raw):
    csv = tmp_path / "demand.csv"
    csv.write_text(textwrap.dedent("""\
        scenario,probability,quarter,region,workload,gpus_h100e
        a,0.5,2025Q1,us,inference,10
        b,0.4,2025Q1,us,inference,20
        """))
    raw = small(seed_raw)
    raw["horizon"] = {"start": "2025Q1", "end": "2025Q2"}
    raw["demand"].update(table=str(csv), training=[], inference=[], events=[])
    raw["demand"]["uncertainty"] = {"paths": 2, "leaves": 2}
    with pytest.raises(PacerError, match=r"^demand.table.probability: must sum to 1 over scenarios, got 0.9"):
        forecast(parse_scenario(raw, tmp_path))


def test_a_forecast_too_large_for_memory_is_refused_before_allocating(pacer_cli):
    """Probe failure (issue 13): --paths 100000000 tried to allocate 24.6 GiB."""
    run = pacer_cli("demand", "examples/seed-2025/scenario.yaml", "--paths", "100000000", "--no-save")
    assert run.code == 2 and "paths: needs about" in run.err and "use at most" in run.err
