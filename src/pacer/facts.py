"""Reported facts against runs, and calibrating a scenario to them.

A scenario's ``facts:`` section states what was reported (a series of the results, filtered to a party,
region, workload and period, with a value and a band; see :class:`pacer.scenario.Fact`). Every result
of ``pacer simulate`` and ``pacer plan`` exposes its series in one long table (:func:`result_series`:
series, quarter, provider, tenant, region, workload, value), and :func:`check_facts` reads each fact off
it: reported, simulated, band, within. :func:`calibrate` fits named scenario parameters within bounds to
the facts with scipy's differential evolution, evaluating each generation's candidates in parallel
through :mod:`pacer.runner`.

Why differential evolution: a market run is a sequence of LPs whose decisions jump as parameters move,
so the fit's loss is piecewise constant with kinks (no useful gradients) and has several basins; a
bounded, population-based global search copes with both, needs no new dependency, and evaluates a whole
population at once, which is what a pool of processes or a Ray cluster wants.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from pacer._result import human
from pacer.errors import InputError, PacerError, did_you_mean
from pacer.scenario import Fact, Scenario, parse_scenario, quarter

#: Series of a market run (``pacer simulate``) and the dimensions each can be filtered on.
MARKET_SERIES: dict[str, tuple[str, ...]] = {
    **{name: ("provider",) for name in (
        "capacity_kh100e", "sold_kh100e", "gpus", "live_mw", "leased_live_mw", "built_mw", "pipeline_mw",
        "joined_mw", "revenue_usd", "gpu_capex_usd", "build_capex_usd", "capex_usd", "lease_capex_usd",
        "capex_with_leases_usd", "cloud_it_mw", "cloud_capex_usd", "company_capex_usd", "fees_usd",
        "equity_invested_usd")},
    "released_mw": ("provider", "region"),
    "absorbed_mw": ("provider", "region"),
    "demand_kh100e": ("tenant", "workload"),
    **{name: ("tenant",) for name in (
        "request_kh100e", "served_kh100e", "waiting_kh100e", "cut_kh100e", "spend_usd", "tenant_revenue_usd",
        "other_costs_usd", "funding_usd", "credits_used_usd", "net_income_usd", "cash_usd")},
    "purchased_kh100e": ("tenant", "provider"),
    "paid_usd": ("tenant", "provider"),
    **{f"{kind}_active": ("tenant", "provider") for kind in (
        "exclusivity", "exception", "rofr", "take_or_pay", "equity_for_compute")},
}
#: Series of a plan (``pacer plan``): expected values over the planning tree's scenarios.
PLAN_SERIES: dict[str, tuple[str, ...]] = {
    **{name: ("provider", "region") for name in (
        "live_mw", "pipeline_mw", "released_mw", "gpus", "gpus_bought", "gpu_capex_usd")},
    **{name: ("provider", "region", "workload") for name in (
        "demand_kh100e", "own_kh100e", "third_party_kh100e", "unserved_kh100e")},
}
DIMS = ("provider", "tenant", "region", "workload")
_COLUMNS = ["series", "quarter", *DIMS, "value"]
#: Penalty (in squared band half-widths) of a fact a run cannot say anything about.
MISSING_PENALTY = 100.0


def _long(frame: pd.DataFrame, series: dict[str, str], **dims: Any) -> pd.DataFrame:
    """Columns of ``frame`` (quarter and dimension columns kept) as rows of the long series table."""
    keep = ["quarter", *[d for d, v in dims.items() if v is True]]
    out = frame[keep + list(series)].rename(columns=series).melt(id_vars=keep, var_name="series")
    for d in DIMS:
        if dims.get(d) is not True:
            out[d] = dims.get(d) or ""
    return out[_COLUMNS]


def market_series(result: Any) -> pd.DataFrame:
    """Every series of a market run as one long table (see :data:`MARKET_SERIES`)."""
    prov = result.providers
    plain_provider = [s for s, dims in MARKET_SERIES.items() if dims == ("provider",)]
    parts = [_long(prov, {s: s for s in plain_provider}, provider=True)]
    events = pd.DataFrame([e for e in result.events if e["type"] in ("capacity_released", "capacity_absorbed")],
                          columns=["type", "quarter", "provider", "region", "mw"])
    for kind, name in (("capacity_released", "released_mw"), ("capacity_absorbed", "absorbed_mw")):
        rows = events[events.type == kind].groupby(["quarter", "provider", "region"], as_index=False)[["mw"]].sum()
        parts.append(_long(rows, {"mw": name}, provider=True, region=True))
    ten = result.tenants.assign(demand_training_kh100e=lambda f: f.demand_kh100e - f.demand_inference_kh100e)
    parts.append(_long(ten.assign(workload="training"), {"demand_training_kh100e": "demand_kh100e"},
                       tenant=True, workload=True))
    parts.append(_long(ten.assign(workload="inference"), {"demand_inference_kh100e": "demand_kh100e"},
                       tenant=True, workload=True))
    tenant_only = {s: s for s, dims in MARKET_SERIES.items() if dims == ("tenant",)}
    tenant_only["revenue_usd"] = tenant_only.pop("tenant_revenue_usd")
    parts.append(_long(ten, tenant_only, tenant=True))
    parts.append(_long(result.allocations, {"kh100e": "purchased_kh100e", "paid_usd": "paid_usd"},
                       tenant=True, provider=True))
    contracts = result.contracts.assign(value=1.0)
    for kind in contracts.kind.unique():
        rows = contracts[contracts.kind == kind]
        parts.append(_long(rows, {"value": f"{kind}_active"}, tenant=True, provider=True))
    return pd.concat(parts, ignore_index=True)


def plan_series(result: Any) -> pd.DataFrame:
    """Every series of a plan as one long table (see :data:`PLAN_SERIES`): per quarter, the expectation over
    the planning tree's scenarios (each quarter's nodes carry probabilities that add up to one)."""
    ds = result.dataset
    p = result.problem
    provider = result.scenario.provider.name
    weights = ds.probability
    expected = lambda da: (da * weights).groupby("quarter").sum()  # noqa: E731
    kept = expected(ds.kept_mw)
    released = (kept.shift(quarter=1) - kept).fillna(0.0).clip(min=0)
    price_da = xr.DataArray(p.generations.price_usd.to_numpy(), coords={"generation": ds.generation},
                            dims="generation")
    arrays = {
        "live_mw": expected(ds.live_mw), "pipeline_mw": kept, "released_mw": released,
        "gpus": expected(ds.fleet_kgpu.sum("generation") * 1e3),
        "gpus_bought": expected(ds.buy_kgpu.sum("generation") * 1e3),
        "gpu_capex_usd": expected((ds.buy_kgpu * 1e3 * price_da).sum("generation")),
        "own_kh100e": expected(ds.own_kh100e), "third_party_kh100e": expected(ds.third_party_kh100e),
        "unserved_kh100e": expected(ds.unserved_kh100e),
    }
    arrays["demand_kh100e"] = arrays["own_kh100e"] + arrays["third_party_kh100e"] + arrays["unserved_kh100e"]
    parts = []
    for name, da in arrays.items():
        frame = da.rename(name).to_dataframe().reset_index()
        for d in DIMS:
            if d not in frame:
                frame[d] = ""
        frame["provider"] = provider
        parts.append(frame.assign(series=name, value=frame[name])[_COLUMNS])
    return pd.concat(parts, ignore_index=True)


def result_series(result: Any) -> tuple[pd.DataFrame, dict[str, tuple[str, ...]]]:
    """The long series table of a market run or a plan, and its series catalogue."""
    from pacer.market.simulate import MarketResult
    from pacer.plan.result import PlanResult

    if isinstance(result, MarketResult):
        return market_series(result), MARKET_SERIES
    if isinstance(result, PlanResult):
        return plan_series(result), PLAN_SERIES
    raise TypeError(f"facts cannot be read off a {type(result).__name__}")


def unit_of(fact: Fact) -> str:
    if fact.metric.aggregate == "first_quarter":
        return "quarter"
    if fact.metric.ratio_to is not None:
        return "share"
    name = fact.metric.series
    for suffix, unit in (("_usd", "USD"), ("_mw", "MW"), ("_kh100e", "kH100e"), ("_active", "quarters")):
        if name.endswith(suffix):
            return unit
    return "GPUs" if name.startswith("gpus") else ""


def check_fact_specs(s: Scenario) -> None:
    """Check the scenario's facts against what it can produce: known series, filters the series has,
    parties and regions that exist, periods inside the horizon. One-line error naming the field."""
    providers = ([p.name for p in s.market.providers] if s.market else []) + ([s.provider.name] if s.provider else [])
    tenants = [t.name for t in s.market.tenants] if s.market else []
    names = {"provider": providers, "tenant": tenants, "region": list(s.regions),
             "workload": ["training", "inference"]}
    catalogue = {**{k: set(v) for k, v in PLAN_SERIES.items()}}
    for k, v in MARKET_SERIES.items():
        catalogue[k] = catalogue.get(k, set()) | set(v)
    # Series the scenario's own sections can produce: a fact on a market series in a scenario without a
    # market (a demand-only copy of a market scenario) reads off no run, so its parties are not checked.
    readable = ({*MARKET_SERIES} if s.market else set()) | ({*PLAN_SERIES} if s.provider else set())
    qs = s.quarters
    seen: set[str] = set()
    for i, f in enumerate(s.facts):
        where = f"facts[{i}]"
        if f.name in seen:
            raise InputError(f"{where}.name", f.name, "duplicate fact name")
        seen.add(f.name)
        m = f.metric
        for key, selection in (("metric", m.model_dump()), *((("metric.ratio_to", {**m.model_dump(), **m.ratio_to}),)
                                                              if m.ratio_to else ())):
            series = selection["series"]
            if series not in catalogue:
                hint = did_you_mean(series, catalogue)
                raise InputError(f"{where}.{key}.series", series, f"unknown series; {hint}")
            for dim in DIMS:
                value = selection.get(dim)
                if value is None or value == "all":
                    continue
                if dim not in catalogue[series]:
                    raise InputError(f"{where}.{key}.{dim}", value, f"series {series} has no {dim}")
                if series in readable and value not in names[dim]:
                    raise InputError(f"{where}.{key}.{dim}", value, f"unknown {dim}; {did_you_mean(value, names[dim])}")
        first, last = m.quarters
        if not (qs[0] <= quarter(first) and quarter(last) <= qs[-1]):
            raise InputError(f"{where}.metric.period", m.period, f"must be inside the horizon {qs[0]}..{qs[-1]}")
        if m.aggregate == "first_quarter" and m.ratio_to is not None:
            raise InputError(f"{where}.metric.ratio_to", m.ratio_to, "does not go with aggregate first_quarter")
        if m.aggregate == "first_quarter" and not (first <= str(f.low) and str(f.high) <= last):
            raise InputError(f"{where}.high", f.high, f"band must be inside the period {m.period}")


@dataclass
class FactCheck:
    """One fact against one run."""

    name: str
    series: str
    unit: str
    reported: float | str
    low: float | str
    high: float | str
    simulated: float | str | None
    within: bool
    residual: float | None  # (simulated - reported) in band half-widths
    source: str
    date: str
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self, name: str) -> str:
        """A value of this fact, for people."""
        return human(getattr(self, name), self.unit)


def _select(table: pd.DataFrame, selection: dict[str, Any]) -> pd.Series:
    """The selected series summed per quarter (dimensions left out are summed over)."""
    mask = table.series == selection["series"]
    for dim in DIMS:
        value = selection.get(dim)
        if value is not None and value != "all":
            mask &= table[dim] == value
    return table[mask].groupby("quarter").value.sum()


def _aggregate(values: pd.Series, quarters: list[str], how: str) -> float | str | None:
    values = values.reindex(quarters).fillna(0.0)
    if how == "sum":
        return float(values.sum())
    if how == "mean":
        return float(values.mean())
    if how == "last":
        return float(values.iloc[-1])
    if how == "max":
        return float(values.max())
    hit = values[values > 1e-9]
    return str(hit.index[0]) if len(hit) else None


def quarter_number(text: str) -> int:
    """2025Q1 -> a count of quarters (for distances between quarters)."""
    year, q = re.match(r"(\d{4})Q([1-4])", text).groups()  # type: ignore[union-attr]
    return int(year) * 4 + int(q) - 1


def _residual(fact: Fact, simulated: float | str | None) -> float | None:
    if simulated is None or (isinstance(simulated, float) and not math.isfinite(simulated)):
        return None
    if fact.metric.aggregate == "first_quarter":
        half = max((quarter_number(str(fact.high)) - quarter_number(str(fact.low))) / 2, 0.5)
        return (quarter_number(str(simulated)) - quarter_number(str(fact.reported))) / half
    reported, low, high = float(fact.reported), float(fact.low), float(fact.high)
    half = (high - low) / 2 or max(abs(reported) * 0.05, 1e-9)
    return (float(simulated) - reported) / half


def applies(fact: Fact, catalogue: dict[str, tuple[str, ...]]) -> bool:
    """Whether a run with this series catalogue can say anything about ``fact``."""
    m = fact.metric
    dims_used = [d for d in DIMS if getattr(m, d) not in (None, "all")]
    return m.series in catalogue and all(d in catalogue[m.series] for d in dims_used)


def check_facts(scenario: Scenario, result: Any) -> list[FactCheck]:
    """The scenario's facts read off ``result`` (a market run or a plan). Facts on series the result does not
    have (a market fact against a plan) are left out; a period the run does not cover reads as missing.
    Results keep theirs (``result.fact_checks``): read them there."""
    if not scenario.facts:
        return []
    frame, catalogue = result_series(result)
    run_quarters = list(dict.fromkeys(frame.quarter.astype(str))) if len(frame) else []
    run_quarters = sorted(run_quarters, key=quarter_number)
    out = []
    for f in scenario.facts:
        m = f.metric
        selection = m.model_dump()
        if not applies(f, catalogue):
            continue
        first, last = m.quarters
        period = [str(q) for q in pd.period_range(first, last, freq="Q")]
        note = ""
        simulated: float | str | None
        if run_quarters and (first < run_quarters[0] or last > run_quarters[-1]):
            simulated, note = None, f"the run covers {run_quarters[0]}..{run_quarters[-1]} only"
        else:
            simulated = _aggregate(_select(frame, selection), period, m.aggregate)
            if m.ratio_to is not None:
                denominator = _aggregate(_select(frame, {**selection, **m.ratio_to}), period, m.aggregate)
                simulated = (float(simulated) / float(denominator)  # type: ignore[arg-type]
                             if denominator else None)
                note = "" if simulated is not None else "the denominator is zero"
            elif simulated is None:
                note = "never positive in the period"
        within = simulated is not None and f.low <= simulated <= f.high  # type: ignore[operator]
        out.append(FactCheck(name=f.name, series=m.series, unit=unit_of(f), reported=f.reported, low=f.low,
                             high=f.high, simulated=simulated, within=bool(within), residual=_residual(f, simulated),
                             source=f.source, date=f.date, note=note or f.note))
    return out


def facts_frame(checks: list[FactCheck] | list[dict[str, Any]]) -> pd.DataFrame:
    """Facts as a table for people: reported, simulated and band in their units, and whether within."""
    rows = [c if isinstance(c, dict) else c.to_dict() for c in checks]
    return pd.DataFrame([{
        "fact": r["name"], "reported": human(r["reported"], r["unit"]), "simulated": human(r["simulated"], r["unit"]),
        "band": f"{human(r['low'], r['unit'])} .. {human(r['high'], r['unit'])}",
        "within": "yes" if r["within"] else "NO", "source": r["source"]} for r in rows],
        columns=["fact", "reported", "simulated", "band", "within", "source"])


def loss(checks: list[FactCheck]) -> float:
    """Mean squared residual in band half-widths (a missing value counts :data:`MISSING_PENALTY`)."""
    if not checks:
        return 0.0
    return float(np.mean([MISSING_PENALTY if c.residual is None else c.residual ** 2 for c in checks]))


# -- calibration ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    """A scenario value to fit: its path (``market.tenants[lab].other_costs_usd_per_year.2024``) and bounds."""

    path: str
    low: float
    high: float


_STEP = re.compile(r"([^.\[\]]+)|\[([^\]]+)\]")


def _steps(path: str) -> list[str | int]:
    """``a.b[name].c`` -> ["a", "b", "[name]", "c"] (list selectors kept in brackets)."""
    if not path or path.startswith(".") or ".." in path:
        raise InputError("param", path, "must be a dotted path like market.tenants[lab].cash_usd")
    steps: list[str | int] = []
    for m in _STEP.finditer(path):
        steps.append(m.group(1) if m.group(1) is not None else f"[{m.group(2)}]")
    return steps


def _child(node: Any, step: str | int, path: str) -> tuple[Any, Any]:
    """The container key for ``step`` in ``node`` (a dict key, or a list index found by ``[name]``)."""
    if isinstance(node, list) and isinstance(step, str) and step.startswith("["):
        key = step[1:-1]
        if key.isdigit() and int(key) < len(node):
            return node, int(key)
        for i, item in enumerate(node):
            if isinstance(item, dict) and key in (item.get("name"), item.get("id"), item.get("tenant")):
                return node, i
        raise InputError("param", path, f"no list item named {key!r}")
    if isinstance(node, dict) and isinstance(step, str) and not step.startswith("["):
        if step in node:
            return node, step
        if step.isdigit() and int(step) in node:
            return node, int(step)
        raise InputError("param", path, f"no field {step!r}; {did_you_mean(step, [str(k) for k in node])}")
    raise InputError("param", path, f"cannot follow {step!r} here")


def get_value(data: Any, path: str) -> Any:
    node = data
    for step in _steps(path):
        container, key = _child(node, step, path)
        node = container[key]
    return node


def set_value(data: Any, path: str, value: float) -> Any:
    """A deep copy of ``data`` with the value at ``path`` replaced."""
    out = copy.deepcopy(data)
    steps = _steps(path)
    node = out
    for step in steps[:-1]:
        container, key = _child(node, step, path)
        node = container[key]
    container, key = _child(node, steps[-1], path)
    container[key] = value
    return out


def check_calibrated(data: dict[str, Any], s: Scenario) -> None:
    """The ``calibrated:`` record must describe the scenario: each path exists and holds its recorded value."""
    for i, c in enumerate(s.calibrated):
        section = _steps(c.path)[0]
        if isinstance(section, str) and data.get(section) is None:
            continue  # a copy of the scenario without that section (e.g. demand only)
        try:
            current = get_value(data, c.path)
        except PacerError:
            raise InputError(f"calibrated[{i}].path", c.path, "names no value of this scenario") from None
        if not isinstance(current, int | float) or not math.isclose(float(current), c.value, rel_tol=1e-6,
                                                                      abs_tol=1e-12):
            raise InputError(f"calibrated[{i}].value", c.value, f"differs from the scenario's {c.path} ({current!r})")
        if not c.low <= c.value <= c.high:
            raise InputError(f"calibrated[{i}].value", c.value, f"is outside its bounds {c.low}..{c.high}")


def parse_param(text: str) -> Parameter:
    """``PATH=LOW:HIGH`` -> a :class:`Parameter` (one-line error on a malformed or empty range)."""
    path, sep, bounds = text.rpartition("=")
    low_text, colon, high_text = bounds.partition(":")
    if not sep or not path or not colon:
        raise InputError("param", text, "must be PATH=LOW:HIGH")
    try:
        low, high = float(low_text), float(high_text)
    except ValueError:
        raise InputError("param", text, "bounds must be numbers") from None
    if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
        raise InputError("param", text, "needs LOW < HIGH (an empty range cannot be fitted)")
    return Parameter(path=path, low=low, high=high)


def check_parameters(data: dict[str, Any], params: list[Parameter], base_dir: str | Path) -> None:
    """Every path exists and holds a number, and both bounds give a valid scenario."""
    if not params:
        raise InputError("param", None, "give at least one --param PATH=LOW:HIGH")
    if len({p.path for p in params}) != len(params):
        raise InputError("param", [p.path for p in params], "names a path twice")
    for p in params:
        current = get_value(data, p.path)
        if isinstance(current, bool) or not isinstance(current, int | float):
            raise InputError("param", p.path, f"must hold a number, holds {current!r}")
        for bound in (p.low, p.high):
            try:
                parse_scenario(set_value(data, p.path, bound), base_dir)
            except PacerError as exc:
                raise InputError("param", f"{p.path}={p.low}:{p.high}",
                                 f"bound {bound} is outside the valid range ({exc})") from None


@dataclass
class _Evaluate:
    """A picklable job: the scenario with parameter values set (given as shares of each range, 0..1), run
    (simulate or plan) and read off."""

    data: dict[str, Any]
    base_dir: str
    params: list[Parameter]
    kind: str

    def values(self, unit: Any) -> list[float]:
        u = np.clip(np.asarray(unit, dtype=float), 0.0, 1.0)
        return [p.low + float(v) * (p.high - p.low) for p, v in zip(self.params, u.tolist(), strict=True)]

    def scenario(self, unit: Any) -> Scenario:
        data = self.data
        for p, value in zip(self.params, self.values(unit), strict=True):
            whole = isinstance(get_value(self.data, p.path), int)  # a count stays a count
            data = set_value(data, p.path, round(value) if whole else value)
        return parse_scenario(data, self.base_dir)

    def checks(self, unit: Any) -> list[FactCheck]:
        """The facts at ``unit``; a candidate the model refuses (a plan not proven, an input out of range)
        reads as every fact missing, so the search moves away from it rather than stopping."""
        try:
            s = self.scenario(unit)
            if self.kind == "simulate":
                from pacer.market import simulate

                result: Any = simulate(s, executor="local")
            else:
                from pacer.plan import plan

                result = plan(s, evaluate_out_of_sample=False)
            return check_facts(s, result)
        except PacerError as exc:
            base = parse_scenario(self.data, self.base_dir)
            catalogue = MARKET_SERIES if self.kind == "simulate" else PLAN_SERIES
            return [FactCheck(name=f.name, series=f.metric.series, unit=unit_of(f), reported=f.reported, low=f.low,
                              high=f.high, simulated=None, within=False, residual=None, source=f.source,
                              date=f.date, note=f"run refused: {exc}") for f in base.facts if applies(f, catalogue)]

    def residuals(self, unit: Any) -> np.ndarray:
        """Each fact's residual in band half-widths (a missing one as the square root of the penalty)."""
        return np.array([math.sqrt(MISSING_PENALTY) if c.residual is None else c.residual
                         for c in self.checks(unit)])

    def __call__(self, unit: Any) -> float:
        return float(np.mean(self.residuals(unit) ** 2))


@dataclass
class CalibrationResult:
    """A fit: the parameters' values, each fact at the fit, each parameter's sensitivity, and the scenario."""

    params: list[Parameter]
    values: list[float]
    loss: float
    facts: list[FactCheck]
    sensitivity: list[dict[str, Any]]
    evaluations: int
    generations: int
    data: dict[str, Any] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        from pacer._result import plain

        return plain({
            "loss": self.loss, "evaluations": self.evaluations, "generations": self.generations,
            "within": sum(f.within for f in self.facts), "facts_total": len(self.facts),
            "params": [{"path": p.path, "low": p.low, "high": p.high, "value": v}
                       for p, v in zip(self.params, self.values, strict=True)],
            "facts": [f.to_dict() for f in self.facts],
            "sensitivity": self.sensitivity,
        })

    def write(self, path: str | Path) -> None:
        """The calibrated scenario as YAML, with a ``calibrated`` section naming what was fitted."""
        import os

        text = yaml.safe_dump(self.data, sort_keys=False, allow_unicode=True, width=110)
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, target)


def calibrate(data: dict[str, Any], params: list[Parameter], *, base_dir: str | Path = ".", kind: str = "simulate",
              budget: int = 40, seed: int = 0, executor: Any = "auto",
              on_generation: Callable[[int, int, float], None] | None = None) -> CalibrationResult:
    """Fit ``params`` (within their bounds) to the scenario's facts, in about ``budget`` runs.

    Two stages, both scipy, both evaluating their candidates in parallel through ``executor``
    (:mod:`pacer.runner`): a global search (differential evolution, half the budget) finds the basin; a
    bounded least-squares refinement (trust-region reflective) from its best point fits the facts'
    residuals (in band half-widths), its finite-difference Jacobian evaluated in parallel. Then each
    parameter's sensitivity: the change of every fact (and of the loss) when it moves by a tenth of its
    range either way. ``on_generation(done, total, best_loss)`` reports progress, one step per
    generation of the search and one for the refinement.
    """
    from scipy.optimize import differential_evolution, least_squares

    from pacer.runner import get_executor

    scenario = parse_scenario(data, base_dir)
    if not scenario.facts:
        raise InputError("facts", [], "the scenario states no facts to calibrate to")
    if kind not in ("simulate", "plan"):
        raise InputError("kind", kind, "must be simulate or plan")
    if kind == "simulate" and scenario.market is None:
        raise InputError("market", None, "the scenario needs a market section to calibrate a simulation")
    if kind == "plan" and scenario.provider is None:
        raise InputError("provider", None, "the scenario needs a provider section to calibrate a plan")
    if budget < 8:
        raise InputError("budget", budget, "must be at least 8 runs")
    check_parameters(data, params, base_dir)
    job = _Evaluate(data=data, base_dir=str(base_dir), params=params, kind=kind)
    n = len(params)
    search_budget = budget // 2
    per_member = max(1, min(15, search_budget // (2 * n)))
    population = max(5, per_member * n)
    generations = max(1, search_budget // population - 1)
    refine_steps = max(1, (budget - population * (generations + 1)) // (n + 1))
    pool = get_executor(executor) if isinstance(executor, str) else executor
    done = [0]
    total = generations + 1

    def progress(intermediate_result: Any) -> None:
        done[0] += 1
        if on_generation is not None:
            on_generation(done[0], total, float(intermediate_result.fun))

    try:
        search = differential_evolution(job, [(0.0, 1.0)] * n, popsize=per_member, maxiter=generations, seed=seed,
                                        polish=False, tol=0.0, updating="deferred", workers=pool.map,
                                        callback=progress, init="latinhypercube")
        # Finite differences over 2% of each range: a market run is piecewise constant at finer scales.
        refine = least_squares(job.residuals, np.clip(search.x, 0.0, 1.0), bounds=(0.0, 1.0), method="trf",
                               diff_step=0.02, max_nfev=refine_steps, workers=pool.map)
        best = refine.x if float(np.mean(refine.fun ** 2)) <= float(search.fun) else np.asarray(search.x)
        best = np.clip(best, 0.0, 1.0)
        done[0] = total
        if on_generation is not None:
            on_generation(total, total, min(float(np.mean(refine.fun ** 2)), float(search.fun)))
        probes = [best]
        for i in range(n):
            for sign in (-1.0, 1.0):
                x = best.copy()
                x[i] = float(np.clip(x[i] + sign * 0.1, 0.0, 1.0))
                probes.append(x)
        runs = pool.map(job.checks, probes)
    finally:
        if isinstance(executor, str):
            pool.close()
    values = job.values(best)
    facts_at_best = runs[0]
    sensitivity = []
    for i, p in enumerate(params):
        down, up = runs[1 + 2 * i], runs[2 + 2 * i]
        span = (float(probes[2 + 2 * i][i]) - float(probes[1 + 2 * i][i])) * (p.high - p.low)
        per_fact = {}
        for a, b in zip(down, up, strict=True):
            if isinstance(a.simulated, float) and isinstance(b.simulated, float) and span > 0:
                per_fact[a.name] = (b.simulated - a.simulated) / span
        sensitivity.append({"path": p.path, "loss_down": loss(down), "loss_up": loss(up),
                            "d_fact_d_param": per_fact})
    data_out = copy.deepcopy(data)
    written = [round(v) if isinstance(get_value(data, p.path), int) else _round(v)
               for p, v in zip(params, values, strict=True)]
    for p, v in zip(params, written, strict=True):
        data_out = set_value(data_out, p.path, v)
    data_out["calibrated"] = [{"path": p.path, "value": v, "low": p.low, "high": p.high}
                              for p, v in zip(params, written, strict=True)]
    evaluations = int(search.nfev) + int(refine.nfev) + int(refine.njev or 0) * n + len(probes)
    return CalibrationResult(params=params, values=values, loss=loss(facts_at_best), facts=facts_at_best,
                             sensitivity=sensitivity, evaluations=evaluations, generations=int(search.nit) + 1,
                             data=data_out)


def _round(value: float) -> float:
    """Six significant digits: enough for any scenario value, short in YAML."""
    return float(f"{value:.6g}")
