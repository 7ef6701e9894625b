"""The stored efficiency and stack factors are what the documented fit gives, and the fit is sane."""

import math

import numpy as np
import pandas as pd
import pytest

from pacer.catalog import load_efficiency
from pacer.sizing.calibration import (
    PRIORS,
    cross_validate,
    error_summary,
    fit,
    load_targets,
    predict,
    section_of,
    stack_log_factors,
    write_efficiency,
)


@pytest.mark.parametrize("section", ["inference", "training"])
def test_stored_factors_are_the_fit(section):
    stored = load_efficiency()
    result = fit(section, efficiency=stored)
    for name in PRIORS[section]:
        got = getattr(getattr(result.efficiency, section), name).value
        kept = getattr(getattr(stored, section), name).value
        assert got == pytest.approx(kept, rel=0.05, abs=1e-7), f"{name}: run `make calibrate`"
        prior = PRIORS[section][name]
        assert prior.low <= kept <= prior.high
    kind = "serving" if section == "inference" else "training"
    for stack in stored.stacks.names(kind):
        for vendor, family in stored.stacks.stacks[stack].families.items():
            got = result.efficiency.stacks.stacks[stack].families[vendor].value
            assert got == pytest.approx(family.value, rel=0.05), f"{stack}/{vendor}: run `make calibrate`"
    assert result.report.relative_error.abs().median() < 0.15


def _throughput_rows() -> pd.DataFrame:
    targets = load_targets()
    inference = np.array([section_of(r) == "inference" for r in targets.to_dict("records")])
    return targets[inference & targets.input_tokens.notna().to_numpy()].copy()


def test_fit_recovers_known_factors_from_synthetic_targets():
    """Targets made by the model with a perturbed physical factor and stack factor are fitted back."""
    base = load_efficiency()
    truth = base.with_values("inference", decode_mbu=0.7)
    truth = truth.model_copy(update={"stacks": truth.stacks.with_factors({("vllm", "amd"): 0.5})})
    rows = _throughput_rows()
    rows["value"] = [predict(r, truth) for r in rows.to_dict("records")]
    result = fit("inference", rows, base)
    errors = result.report.relative_error.abs()
    assert errors.median() < 0.01
    # Groups with a single row are shrunk toward their stack and vendor effects by design.
    populous = result.report.group.map(result.report.group.value_counts()) >= 4
    assert errors[populous].max() < 0.05
    assert result.efficiency.stacks.stacks["vllm"].families["amd"].value == pytest.approx(0.5, rel=0.05)


def test_stack_factors_fall_back_to_stack_and_vendor_effects():
    """A stack measured on one vendor only: its factor on another vendor is its effect times that vendor's."""
    groups = pd.Series(["tuned/nvidia"] * 4 + ["vllm/nvidia"] * 4 + ["tuned/amd"] * 4)
    log_ratio = [0.0] * 4 + [math.log(0.6)] * 4 + [math.log(0.8)] * 4
    factors, effects = stack_log_factors(pd.Series(log_ratio).to_numpy(), groups, "inference")
    assert factors["tuned/nvidia"] == 0.0
    assert math.exp(factors["vllm/nvidia"]) == pytest.approx(0.6, rel=0.15)
    unseen = math.exp(effects["stack:vllm"] + effects["vendor:amd"])
    assert 0.6 * 0.8 * 0.95 < unseen < 0.6  # about the product, a little shrunk toward 1


def test_leave_one_source_out_predicts_unseen_sources():
    rows = _throughput_rows()
    rows = rows[rows.source_group.isin(["mlperf-inf-v5.0", "mlperf-inf-v4.1", "trtllm-perf-overview"])]
    report = cross_validate("inference", rows, max_nfev=5, workers=1)
    assert set(report.source_group) == {"mlperf-inf-v5.0", "mlperf-inf-v4.1", "trtllm-perf-overview"}
    assert len(report) == len(rows) and report.estimate.gt(0).all()
    summary = error_summary(report)
    assert summary["rows"] == len(rows) and 0 < summary["median_abs_error"] < 0.5
    assert set(summary["per_vendor"]) <= {"nvidia", "amd", "intel", "google"}


def test_write_keeps_comments(tmp_path):
    from pacer.catalog.loader import CATALOG_DIR

    path, stacks = tmp_path / "efficiency.yaml", tmp_path / "stacks.yaml"
    path.write_text((CATALOG_DIR / "efficiency.yaml").read_text())
    stacks.write_text((CATALOG_DIR / "stacks.yaml").read_text())
    eff = load_efficiency().with_values("inference", decode_mbu=0.777)
    eff = eff.model_copy(update={"stacks": eff.stacks.with_factors({("vllm", "amd"): 0.432}, {("vllm", "amd"): 7})})
    write_efficiency(eff, path, stacks)
    text = path.read_text()
    assert "value: 0.777" in text and text.startswith("# Named efficiency factors")
    assert "amd: {value: 0.432, fitted: true, rows: 7}" in stacks.read_text()
    assert stacks.read_text().startswith("# Serving and training software stacks")
