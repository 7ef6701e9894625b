"""The scenario file: bad input gets one line naming the field and the value."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pacer.errors import PacerError
from pacer.scenario import load_scenario, parse_scenario

SEED = Path(__file__).resolve().parents[1] / "examples" / "seed-2025" / "scenario.yaml"
RAW = yaml.safe_load(SEED.read_text())


def mutate(path: str, value):
    raw = copy.deepcopy(RAW)
    node = raw
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return raw


def test_seed_loads():
    s = load_scenario(SEED)
    assert s.name == "seed-2025" and len(s.quarters) == 32
    assert s.accelerator_at()[0] == "h100-sxm" and s.accelerator_at()[-1] == "gb200"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("demand.drivers.tokens_served.annual_volatility", -0.2,
         "demand.drivers.tokens_served.annual_volatility: Input should be greater than or equal to 0, got -0.2"),
        ("demand.inference.0.model", "llama-9", "demand.inference[0].model: unknown model; did you mean"),
        ("demand.uncertainty.branch_quarters", ["2031Q1"],
         "demand.uncertainty.branch_quarters[0]: must be after the horizon start and inside it"),
        ("demand.training.0.region", "asia", "demand.training[0].region: unknown region"),
        ("horizon.start", "2023-01", "horizon.start: must be a quarter like 2025Q3, got '2023-01'"),
        ("demand.events.0.probability", 1.5, "demand.events[0].probability: Input should be less than or equal to 1"),
        ("roadmap.0.accelerator", "h100", "roadmap[0].accelerator: unknown accelerator 'h100'"),
        ("demand.training.0.duration_quarters", 0, "demand.training[0].duration_quarters"),
        ("facility.pue", 0.9, "facility.pue: Input should be greater than or equal to 1"),
    ],
)
def test_bad_values_name_field_and_value(path, value, message):
    with pytest.raises(PacerError) as info:
        parse_scenario(mutate(path, value))
    text = str(info.value)
    assert message in text and "\n" not in text


def test_unknown_field_rejected():
    raw = copy.deepcopy(RAW)
    raw["demand"]["inference"][0]["tokens_per_dya"] = 1
    with pytest.raises(PacerError, match=r"^demand.inference\[0\].tokens_per_dya: Extra inputs are not permitted"):
        parse_scenario(raw)


def test_unreadable_files(tmp_path):
    with pytest.raises(PacerError, match=r"^scenario: cannot read file"):
        load_scenario(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(PacerError, match=r"^scenario: is not valid YAML at line"):
        load_scenario(bad)


def test_drivers_default_to_the_documented_catalog_values():
    raw = copy.deepcopy(RAW)
    del raw["demand"]["drivers"]
    drivers = parse_scenario(raw).demand.drivers
    for name in ("training_compute", "tokens_served", "algorithmic_efficiency"):
        spec = getattr(drivers, name)
        assert spec.source and spec.annual_growth > -1


def test_market_names_must_be_unique():
    import copy

    import yaml

    from pacer.errors import PacerError
    from pacer.scenario import parse_scenario

    raw = yaml.safe_load(Path("examples/seed-2025/scenario.yaml").read_text())
    for section, field in (("providers", "provider name"), ("tenants", "tenant name")):
        bad = copy.deepcopy(raw)
        bad["market"][section][1]["name"] = bad["market"][section][0]["name"]
        with pytest.raises(PacerError, match=rf"market\.{section}\[1\]\.name: duplicate {field}"):
            parse_scenario(bad)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_nan_and_infinity_are_never_inputs(value):
    """Probe failure (issue 13): NaN and infinity passed validation of money, volume and fleet fields."""
    from tests.market.conftest import SMALL

    for path in (("market", "tenants", 0, "cash_usd"), ("market", "providers", 0, "fleet", 0, "gpus"),
                 ("market", "contracts", 2, "price_usd_per_h100e_hour")):
        data = copy.deepcopy(SMALL)
        node: Any = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        with pytest.raises(PacerError, match=r"must be a finite number|Input should be a finite number") as err:
            parse_scenario(data)
        assert "\n" not in str(err.value)


def test_plan_options_must_be_finite(pacer_cli):
    run = pacer_cli("plan", "examples/seed-2025/scenario.yaml", "--cvar-weight", "inf", "--no-save")
    assert run.code == 2 and "cvar_weight: must be a finite number >= 0" in run.err


@pytest.mark.parametrize(("path", "value", "field"), [
    (("demand", "uncertainty", "branch_quarters"), 1, "demand.uncertainty.branch_quarters"),
    (("demand", "drivers", "training_compute", "growth_from"), True, "demand.drivers.training_compute.growth_from"),
    (("demand", "uncertainty", "seed"), -1, "demand.uncertainty.seed"),
    (("market", "realised", "seed"), -5, "market.realised.seed"),
])
def test_values_a_user_can_write_are_one_line(path, value, field):
    """Probe failures (issue 13): these were tracebacks (TypeError, a negative seed)."""
    data = yaml.safe_load(Path("examples/seed-2025/scenario.yaml").read_text())
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(PacerError) as err:
        parse_scenario(data)
    assert str(err.value).startswith(field) and "\n" not in str(err.value)


@pytest.mark.parametrize(("content", "message"), [
    ("name: x\n".encode("utf-16"), "is not UTF-8 text"),
    (bytes(range(256)), "is not UTF-8 text"),
    (("a: " + "[" * 20000 + "]" * 20000).encode(), "nests too deeply"),
])
def test_unreadable_scenario_files_are_one_line(pacer_cli, tmp_path, content, message):
    path = tmp_path / "s.yaml"
    path.write_bytes(content)
    run = pacer_cli("demand", str(path), "--no-save")
    assert run.code == 2 and message in run.err and run.err.strip().count("\n") == 0


def test_a_correlation_that_is_no_valid_matrix_is_one_line(pacer_cli, tmp_path):
    """Probe failure (issue 13): correlation -0.6 with three drivers raised LinAlgError."""
    data = yaml.safe_load(Path("examples/seed-2025/scenario.yaml").read_text())
    data["demand"]["drivers"]["correlation"] = -0.6
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    run = pacer_cli("demand", str(path), "--no-save")
    assert run.code == 2 and "demand.drivers.correlation" in run.err and "no valid correlation" in run.err


def test_a_binary_projects_csv_is_one_line(tmp_path):
    data = yaml.safe_load(Path("examples/seed-2025/scenario.yaml").read_text())
    (tmp_path / "p.csv").write_bytes(bytes(range(256)) * 4)
    data["provider"]["projects_csv"] = "p.csv"
    with pytest.raises(PacerError, match=r"provider\.projects_csv"):
        parse_scenario(data, tmp_path)


def _leaves(x, path=""):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(x, list):
        for i, v in enumerate(x[:2]):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, x


def _set(data, path, value):
    import re

    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    node = data
    for p in parts[:-1]:
        node = node[int(p[1:-1])] if p.startswith("[") else node[p]
    last = parts[-1]
    node[int(last[1:-1]) if last.startswith("[") else last] = value


def test_every_bad_value_in_the_seed_is_named_at_its_field_in_one_line():
    """Every leaf of the seed scenario set to a wrong type or an absurd value: the error is one line and names
    that field (or a field that refers to it: a renamed region is unknown where it is used), never a union
    member such as ``.float`` and never the wrong value."""
    data = yaml.safe_load(Path("examples/seed-2025/scenario.yaml").read_text())
    data.pop("facts", None)
    data.pop("calibrated", None)
    norm = lambda s: s.replace("[", ".").replace("]", "")  # noqa: E731
    wrong = []
    for path, value in _leaves(data):
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        for bad in ([-1e9, "abc", None, [1]] if numeric else ["", 12345, None]):
            mutated = copy.deepcopy(data)
            _set(mutated, path, bad)
            try:
                parse_scenario(mutated, "examples/seed-2025")
            except PacerError as exc:
                message = str(exc)
                field = message.split(":")[0]
                named = norm(path).startswith(norm(field)) or norm(field).startswith(norm(path))
                refers = "unknown" in message or "overlaps" in message
                if "\n" in message or not (named or refers) or ".float" in field:
                    wrong.append((path, bad, message[:120]))
    assert wrong == []


_SEED = yaml.safe_load(Path("examples/seed-2025/scenario.yaml").read_text())
_SEED_LEAVES = [p for p, _ in _leaves({k: v for k, v in _SEED.items() if k not in ("facts", "calibrated")})]
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
    | st.sampled_from(["2025Q1", "2999Q4", "us", "h100-sxm", "owned", "live", "-1"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_SEED_LEAVES), _json_values, st.sampled_from(["set", "drop", "extra"])),
                min_size=1, max_size=3))
def test_fuzzed_scenarios_are_valid_or_refused_in_one_line(mutations):
    """Random values, dropped fields and unknown fields anywhere in the seed: parsed, or refused with one line
    naming a field; never another exception (a traceback)."""
    data = copy.deepcopy(_SEED)
    for path, value, how in mutations:
        try:
            if how == "set":
                _set(data, path, value)
            elif how == "drop":
                _drop(data, path)
            else:
                _set(data, path.rsplit(".", 1)[0] + ".unexpected_field" if "." in path else "unexpected", value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed the way there
    try:
        parse_scenario(data, "examples/seed-2025")
    except PacerError as exc:
        message = str(exc)
        assert message and "\n" not in message and ":" in message, message


def _drop(data, path):
    import re

    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    node = data
    for p in parts[:-1]:
        node = node[int(p[1:-1])] if p.startswith("[") else node[p]
    last = parts[-1]
    del node[int(last[1:-1]) if last.startswith("[") else last]
