"""Acceptance on the seed example: inference share and the lab's path against public estimates."""

from __future__ import annotations

import itertools

import pytest

from pacer.demand import forecast

from .conftest import SEED

EPOCH_LAB_H100E = {"2023": 0.1e6, "2024": 0.39e6, "2025": 1.7e6}  # Epoch AI estimates for OpenAI


@pytest.fixture(scope="module")
def seed_forecast():
    return forecast(SEED)


def test_inference_share_rises_every_year_and_crosses_half(seed_forecast):
    share = seed_forecast.inference_share_by_year()
    years = sorted(share)
    assert all(share[b] > share[a] for a, b in itertools.pairwise(years)), share
    assert share["2024"] < 0.5 <= share["2026"]
    assert share["2023"] == pytest.approx(1 / 3, abs=0.1)  # Deloitte: about a third in 2023
    assert share["2025"] == pytest.approx(0.5, abs=0.1)  # and about half in 2025


@pytest.mark.parametrize("year", sorted(EPOCH_LAB_H100E))
def test_lab_path_within_35pct_of_epoch(seed_forecast, year):
    """Epoch counts H100-equivalents by peak FLOP/s; pacer counts them per workload from the sizing engine,
    where an H200 serving counts for about 1.17 H100s (its memory), so 2024, the H200 year, reads higher."""
    lab = seed_forecast.to_dict()["gpus_h100e_by_tenant"]["lab"][year]
    assert lab == pytest.approx(EPOCH_LAB_H100E[year], rel=0.35)


def test_tree_is_valid_and_keeps_scenario_spread(seed_forecast):
    tree = seed_forecast.tree
    assert (tree.probability_by_quarter() - 1).abs().max() < 1e-9
    assert tree.n_leaves == 24
    ranges = seed_forecast.to_dict()["ranges"]
    assert ranges["2023"]["gpus_h100e"]["min"] == pytest.approx(ranges["2023"]["gpus_h100e"]["max"])
    assert ranges["2027"]["gpus_h100e"]["max"] > 2 * ranges["2027"]["gpus_h100e"]["min"]


def test_dataset_shape_and_power(seed_forecast):
    ds = seed_forecast.to_dataset()
    assert set(ds.gpus.dims) == {"node", "region", "workload", "accelerator"}
    assert set(ds.workload.to_numpy()) == {"training", "inference"}
    # Facility MW = IT MW x PUE per region.
    ratio = (ds.facility_mw / ds.it_mw).mean(("node", "workload"))
    assert float(ratio.sel(region="us")) == pytest.approx(1.2)
    assert float(ratio.sel(region="eu")) == pytest.approx(1.15)
    frame = seed_forecast.to_frame()
    assert {"node", "region", "workload", "gpus_h100e", "facility_mw"} <= set(frame.columns)
    assert "seed-2025" in seed_forecast.summary()


def test_json_carries_h100e_per_gpu_per_workload_from_sizing(seed_forecast):
    table = seed_forecast.to_dict()["h100e_per_gpu"]
    from pacer.scenario import load_scenario

    from .conftest import SEED

    roadmap = {e.accelerator for e in load_scenario(SEED).roadmap}
    assert set(table) == roadmap
    assert table["h100-sxm"] == {"training": 1.0, "inference": 1.0}
    for acc, worth in table.items():
        assert set(worth) == {"training", "inference"} and worth["training"] > 0 and worth["inference"] > 0, acc
