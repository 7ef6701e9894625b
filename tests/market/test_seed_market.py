"""The seed example's market, read from its JSON contract (what `pacer simulate --json` prints)."""

from __future__ import annotations

import pytest

SEED = "examples/seed-2025/scenario.yaml"
EARLY = {"land", "permits"}
RIVALS = ("rival-cloud", "rival-platform")


@pytest.fixture(scope="module")
def seed_json(seed_market_result):
    import json

    from pacer._result import plain

    return json.loads(json.dumps(plain(seed_market_result.to_dict()), allow_nan=False))


def _released(data, provider, since):
    return [e for e in data["events"] if e["type"] == "capacity_released" and e["provider"] == provider
            and e["quarter"] >= since]


def test_contract(seed_json):
    d = seed_json
    assert d["quarters"][0] == "2023Q1" and len(d["quarters"]) == 32
    for key in ("released_mw", "absorbed_mw"):
        assert set(d[key]) == {"hyperscaler", *RIVALS, "oracle-like", "neocloud"}
        assert all(len(v) == 32 for v in d[key].values())
    assert set(d["tenant_spend_usd"]) == {"lab", "provider-services", "rival-cloud-ai", "rival-cloud-ai-intl",
                                          "rival-platform-ai"}
    for e in d["events"]:
        assert {"type", "quarter", "parties", "mw"} <= set(e)


def test_hyperscaler_walks_away_from_early_stage_capacity_after_the_downshift(seed_json):
    after = _released(seed_json, "hyperscaler", "2025Q1")
    assert after, "no release after the downshift"
    early_mw = sum(e["mw"] for e in after if e["stage"] in EARLY)
    assert early_mw >= 0.95 * sum(e["mw"] for e in after)  # what goes is early-stage
    six_months = sum(e["mw"] for e in _released(seed_json, "hyperscaler", "2024Q3") if e["quarter"] <= "2025Q2")
    assert 1_000 <= six_months <= 8_000  # gigawatt-scale, as reported (about 2 GW); see docs/market.md


def test_rivals_absorb_part_of_it(seed_json):
    absorbed = [e for e in seed_json["events"] if e["type"] == "capacity_absorbed" and e["from"] == "hyperscaler"
                and e["provider"] in RIVALS and e["quarter"] >= "2024Q3"]
    released = sum(e["mw"] for e in _released(seed_json, "hyperscaler", "2024Q3"))
    taken = sum(e["mw"] for e in absorbed)
    assert 0 < taken < released
    assert {e["provider"] for e in absorbed} == set(RIVALS)


def test_a_declined_rofr_goes_to_another_provider(seed_json):
    declined = [e for e in seed_json["events"] if e["type"] == "rofr_declined"]
    assert declined and all(e["holder"] == "hyperscaler" and e["tenant"] == "lab" for e in declined)
    assert all(e["quarter"] >= "2025Q1" for e in declined)  # the ROFR starts in January 2025
    went = [e for e in declined if e["served_by"]]
    assert went and all("hyperscaler" not in e["served_by"] for e in went)
    assert any(e["type"] == "exception_used" and e["provider"] == "oracle-like" for e in seed_json["events"])


def test_lab_spend_and_losses_are_shown_and_calibrated(seed_json):
    spend, net = seed_json["tenant_spend_usd"]["lab"], seed_json["tenant_net_income_usd"]["lab"]
    assert set(spend) == {str(y) for y in range(2023, 2031)} == set(net)
    # Reported for 2024: compute about $5B, loss about $5B (NYT, Sep 2024).
    assert 3.0e9 <= spend["2024"] <= 7.0e9
    assert -7.0e9 <= net["2024"] <= -3.0e9
    assert spend["2025"] > 2 * spend["2024"]  # from billions to tens of billions a year


def test_conservation_on_the_seed(seed_json):
    checks = seed_json["checks"]
    assert checks["money_paid_minus_received_usd"] < 1.0
    assert checks["pipeline_balance_mw"] < 1e-6 and checks["sold_above_capacity_kh100e"] < 1e-6
