"""What-if without YAML: the assumptions people change, as named knobs over a scenario's fields.

A knob is a scenario path (the ``a.b[name].c`` paths of ``pacer calibrate``) with a label, a unit and a
range where a range makes sense (sliders). :func:`knobs` lists the knobs a scenario has, with its current
values (schema defaults where the file leaves a field out); :func:`apply_overrides` sets values and
validates the result, so an out-of-range value is refused naming the knob's path.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pacer.errors import InputError

#: Most overrides one request may carry.
MAX_OVERRIDES = 64


@dataclass(frozen=True)
class Knob:
    """One assumption a person may change: ``path`` in the scenario, ``value`` now, a slider's range."""

    path: str
    label: str
    group: str
    unit: str
    value: float
    low: float
    high: float
    step: float
    integer: bool = False
    help: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# (path template, label, group, unit, low, high, step, integer, help); {name} runs over a mapping's keys.
_TEMPLATES: tuple[tuple[str, str, str, str, float, float, float, bool, str], ...] = (
    ("demand.drivers.{name}.annual_growth", "{name}: growth per year", "demand", "x per year", 0.0, 20.0, 0.05,
     False, "a multiple of one per year: 3 means 4x a year (+300%)"),
    ("demand.drivers.{name}.annual_volatility", "{name}: volatility", "demand", "", 0.0, 1.5, 0.05, False,
     "standard deviation of the yearly log growth"),
    ("demand.drivers.correlation", "correlation of the drivers", "demand", "", -0.45, 0.95, 0.05, False,
     "between every pair of drivers"),
    ("demand.uncertainty.leaves", "scenarios of the demand tree", "demand", "", 1, 64, 1, True, ""),
    ("facility.pue", "PUE", "facility", "", 1.0, 2.0, 0.01, False,
     "facility power over IT power (power usage effectiveness)"),
    ("facility.pue_by_region.{name}", "PUE, {name}", "facility", "", 1.0, 2.0, 0.01, False,
     "this region's PUE (overrides the default)"),
    ("provider.economics.revenue_usd_per_h100e_hour.{name}", "price charged, {name}", "prices", "USD/h", 0.0, 10.0,
     0.05, False, "revenue per H100-equivalent hour sold"),
    ("provider.economics.third_party_usd_per_h100e_hour.{name}", "third-party price, {name}", "prices", "USD/h",
     0.0, 10.0, 0.05, False, "what capacity bought from others costs per H100-equivalent hour"),
    ("provider.economics.power_usd_per_mwh", "power price", "prices", "USD/MWh", 0.0, 300.0, 1.0, False, ""),
    ("provider.economics.gpu_utilisation", "GPU utilisation", "prices", "share", 0.05, 1.0, 0.01, False, ""),
    ("provider.discount_rate", "discount rate", "risk", "share", 0.0, 0.3, 0.005, False, "per year"),
    ("provider.cvar.weight", "CVaR weight (risk aversion)", "risk", "", 0.0, 2.0, 0.05, False,
     "0: maximise expected NPV; higher: give up some of it for a better worst 10%"),
    ("provider.planning.leaves", "scenarios of the planning tree (leaves)", "solver", "", 1, 64, 1, True,
     "more: a finer plan, a longer solve"),
    ("provider.planning.time_limit_s", "solver time limit", "solver", "s", 1.0, 3600.0, 1.0, False,
     "a plan not proven within it is refused unless an accepted gap is given"),
    ("provider.planning.mip_gap", "planning tolerance (gap)", "solver", "share", 0.0, 0.2, 0.001, False, ""),
)


def _expand(data: dict[str, Any]) -> Iterator[tuple[str, str, tuple[Any, ...], Any]]:
    """Every knob path ``data`` holds: (path, label, the template's row, the value there); a ``{name}``
    template runs over the keys of its mapping."""
    for row in _TEMPLATES:
        template, label = row[0], row[1]
        head, _, _ = template.partition(".{name}")
        names: list[str | None] = [None]
        if "{name}" in template:
            mapping = _lookup(data, head)
            names = list(mapping) if isinstance(mapping, dict) else []
        for name in names:
            path = template.format(name=name) if name is not None else template
            yield path, label.format(name=str(name or "").replace("_", " ")), row, _lookup(data, path)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def knobs(data: dict[str, Any], base_dir: str | Path = ".") -> list[Knob]:
    """The knobs of a scenario (raw YAML data), valued from the validated scenario so that fields the file
    leaves out show their defaults."""
    from pacer.scenario import parse_scenario

    return _knobs(parse_scenario(copy.deepcopy(data), base_dir))


def _knobs(scenario: Any) -> list[Knob]:
    out = []
    for path, text, row, value in _expand(scenario.model_dump(mode="json")):
        _, _, group, unit, low, high, step, integer, help_text = row
        if value is None and path.endswith("planning.leaves"):
            value = scenario.demand.uncertainty.leaves if scenario.demand else None
        if _is_number(value):
            out.append(Knob(path=path, label=text, group=group, unit=unit, value=float(value),
                            low=min(low, float(value)), high=max(high, float(value)), step=step, integer=integer,
                            help=help_text))
    return out


def stated_assumptions(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The knobs' paths a scenario's raw data sets, with their values (no validation: for showing a stored
    run's inputs, whatever version wrote them)."""
    return [{"path": path, "label": text, "unit": row[3], "value": value}
            for path, text, row, value in _expand(data) if _is_number(value)]


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any],
                    base_dir: str | Path = ".") -> tuple[dict[str, Any], Any]:
    """A copy of ``data`` with each ``path: value`` set (missing sections are created), and its validated
    :class:`~pacer.scenario.Scenario`: a bad value is one line naming its path."""
    from pacer.scenario import parse_scenario

    if len(overrides) > MAX_OVERRIDES:
        raise InputError("overrides", f"{len(overrides)} values", f"at most {MAX_OVERRIDES} per run")
    base = parse_scenario(copy.deepcopy(data), base_dir)
    allowed = {k.path: k for k in _knobs(base)}
    defaults = base.model_dump(mode="json")
    out = copy.deepcopy(data)
    for path, value in overrides.items():
        if path not in allowed:
            raise InputError(path, value, "is not an assumption the form may change (see GET /api/scenarios/knobs)")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InputError(path, value, "must be a finite number")
        if allowed[path].integer:
            if not float(value).is_integer():
                raise InputError(path, value, "must be a whole number")
            value = int(value)
        _assign(out, path, value, defaults)
    return out, parse_scenario(copy.deepcopy(out), base_dir)


def _lookup(data: Any, path: str) -> Any:
    node = data
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _assign(data: dict[str, Any], path: str, value: Any, defaults: dict[str, Any]) -> None:
    """Set ``path``; a section the file leaves out is written whole from the validated ``defaults`` (a
    scenario without ``demand.drivers`` gets all three drivers, as it ran with them)."""
    keys = path.split(".")
    node = data
    for depth, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            default = _lookup(defaults, ".".join(keys[: depth + 1]))
            child = node[key] = copy.deepcopy(default) if isinstance(default, dict) else {}
        if not isinstance(child, dict):
            raise InputError(path, value, f"{key} is not a section in this scenario")
        node = child
    node[keys[-1]] = value
