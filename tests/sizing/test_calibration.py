"""The stored efficiency factors are what the documented fit gives, and the fit is sane."""

import pytest

from pacer.catalog import load_efficiency
from pacer.sizing.calibration import PRIORS, fit, load_targets, predict, write_efficiency


@pytest.mark.parametrize("section", ["inference", "training"])
def test_stored_factors_are_the_fit(section):
    stored = load_efficiency()
    fitted, report = fit(section, efficiency=stored)
    for name in PRIORS[section]:
        got = getattr(getattr(fitted, section), name).value
        kept = getattr(getattr(stored, section), name).value
        assert got == pytest.approx(kept, rel=0.02), f"{name}: run `make calibrate`"
        prior = PRIORS[section][name]
        assert prior.low <= kept <= prior.high
    assert report.relative_error.abs().median() < 0.10


def test_fit_recovers_known_factor_from_synthetic_targets():
    """Targets made by the model with a perturbed factor are fitted back to that factor."""
    truth = load_efficiency().with_values("inference", decode_mbu=0.7)
    targets = load_targets()
    rows = targets[(targets.kind == "inference") & (targets.metric == "max_output_tokens_per_s")].copy()
    rows["value"] = [predict(r, truth) for r in rows.to_dict("records")]
    _, report = fit("inference", rows)
    assert report.relative_error.abs().max() < 0.05


def test_write_keeps_comments(tmp_path):
    from pacer.catalog.loader import CATALOG_DIR

    path = tmp_path / "efficiency.yaml"
    path.write_text((CATALOG_DIR / "efficiency.yaml").read_text())
    eff = load_efficiency().with_values("inference", decode_mbu=0.777)
    write_efficiency(eff, path)
    text = path.read_text()
    assert "value: 0.777" in text and text.startswith("# Named efficiency factors")
