"""The calibration set spans the field: every row sourced, enough rows, accelerators and vendors."""

import math

import pandas as pd
import pytest

from pacer.catalog import get_accelerator, get_model, load_efficiency
from pacer.sizing.calibration import STACK_KIND, load_targets, predict, section_of

TABLE = load_targets()


def test_calibration_set_spans_the_field():
    used = TABLE[[section_of(r) is not None for r in TABLE.to_dict("records")]]
    assert len(used) >= 150
    assert used.accelerator.nunique() >= 8
    assert used.vendor.nunique() >= 3
    assert set(used.kind) >= {"training", "inference"}
    assert used.source_group.nunique() >= 20


def test_every_row_is_sourced_and_named_in_the_catalog():
    eff = load_efficiency()
    assert TABLE.id.is_unique
    for row in TABLE.to_dict("records"):
        assert isinstance(row["source"], str) and len(row["source"]) > 20, row["id"]
        assert isinstance(row["source_group"], str) and row["source_group"], row["id"]
        if isinstance(row["model"], str):
            get_model(row["model"])
        if isinstance(row["accelerator"], str):
            section = section_of(row)
            spec = get_accelerator(row["accelerator"])
            if section is not None:
                eff.stacks.resolve(STACK_KIND[section], row["stack"], spec)  # raises if unknown or wrong vendor


@pytest.mark.parametrize("row", [r for r in TABLE.to_dict("records") if section_of(r) is not None],
                         ids=lambda r: r["id"])
def test_every_row_has_a_finite_estimate(row):
    value = predict(row)
    assert math.isfinite(value) and value > 0, row["id"]


def test_a_stated_configuration_is_one_pacer_can_run_and_stated_in_the_source():
    """``tensor_parallel`` and ``max_batch`` hold what a source says it ran: the degree divides the count and
    fits one scale-up domain, the batch is a positive whole number, and the source text names them."""
    stated = TABLE[TABLE.tensor_parallel.notna() | TABLE.max_batch.notna()]
    assert len(stated) >= 30
    for row in stated.to_dict("records"):
        assert row["kind"] == "inference" and row["metric"] == "max_output_tokens_per_s", row["id"]
        if pd.notna(row["tensor_parallel"]):
            tp = int(row["tensor_parallel"])
            assert tp == row["tensor_parallel"] and row["count"] % tp == 0, row["id"]
            assert tp <= get_accelerator(row["accelerator"]).scaleup_domain, row["id"]
            said = (f"TP{tp}", f"-tp {tp}", f"--tp-size {tp}", f"{tp}-way TP", "tensor_parallel = count")
            assert any(s in f"{row['source']} {row['software']}" for s in said), row["id"]
        if pd.notna(row["max_batch"]):
            assert int(row["max_batch"]) == row["max_batch"] >= 1, row["id"]
            assert f"batch size {int(row['max_batch'])}" in row["source"], row["id"]


def test_a_stated_global_batch_is_a_training_rows_and_its_sources():
    stated = TABLE[TABLE.global_batch.notna()]
    assert len(stated) >= 25
    for row in stated.to_dict("records"):
        assert row["kind"] == "training", row["id"]
        batch = int(row["global_batch"])
        said = (f"global batch {batch}", f"GBS {batch}", f"global_batch_size {batch}", f"global batch size {batch}")
        assert batch == row["global_batch"] >= 1 and any(s in row["source"] for s in said), row["id"]
