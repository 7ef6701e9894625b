"""The scenario file: one pydantic schema for every input a pacer run needs.

``load_scenario(path)`` reads YAML, validates it and checks cross-references (regions, models,
accelerators, quarters inside the horizon). Any problem raises a :class:`~pacer.errors.PacerError`
whose one-line message names the field path and the value, e.g.
``demand.training[2].model: unknown model 'llama-9'; did you mean llama-2-7b?, got 'llama-9'``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pacer.catalog import get_accelerator, load_catalog
from pacer.errors import InputError, PacerError, did_you_mean

_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


def quarter(value: str) -> pd.Period:
    """Parse ``2025Q3`` into a quarterly :class:`pandas.Period`."""
    return pd.Period(value, freq="Q")


def _check_quarter(value: Any) -> str:
    text = str(value).strip().upper()
    if not _QUARTER.match(text):
        raise ValueError("must be a quarter like 2025Q3")
    return text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Horizon(_Strict):
    start: str
    end: str

    _q = field_validator("start", "end", mode="before")(_check_quarter)

    @model_validator(mode="after")
    def _ordered(self) -> Horizon:
        if quarter(self.end) < quarter(self.start):
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    @property
    def quarters(self) -> pd.PeriodIndex:
        return pd.period_range(quarter(self.start), quarter(self.end), freq="Q")


class RoadmapEntry(_Strict):
    """An accelerator generation and the quarter from which new capacity uses it."""

    accelerator: str
    available: str

    _q = field_validator("available", mode="before")(_check_quarter)


class Facility(_Strict):
    pue: float = Field(default=1.2, ge=1.0, le=3.0, description="power usage effectiveness")
    pue_by_region: dict[str, float] = Field(default_factory=dict)

    @field_validator("pue_by_region")
    @classmethod
    def _pues(cls, value: dict[str, float]) -> dict[str, float]:
        for region, pue in value.items():
            if not 1.0 <= pue <= 3.0:
                raise ValueError(f"{region}: PUE must be in [1, 3], got {pue}")
        return value


class DriverSpec(_Strict):
    """A demand driver: growth per year of its level and the volatility of that growth."""

    annual_growth: float = Field(gt=-1.0, description="mean growth per year (0.5 = +50%/yr)")
    annual_volatility: float = Field(ge=0.0, le=3.0, description="standard deviation of log growth per year")
    growth_from: dict[str, float] = Field(
        default_factory=dict, description="scheduled changes of annual growth: {quarter: growth from then on}")
    source: str = ""

    @field_validator("growth_from", mode="before")
    @classmethod
    def _schedule(cls, value: Any) -> dict[str, float]:
        out = {}
        for q, g in dict(value or {}).items():
            if not isinstance(g, int | float) or g <= -1:
                raise ValueError(f"{q}: growth must be a number > -1, got {g!r}")
            out[_check_quarter(q)] = float(g)
        return out


class Drivers(_Strict):
    training_compute: DriverSpec
    tokens_served: DriverSpec
    algorithmic_efficiency: DriverSpec
    correlation: float = Field(default=0.3, gt=-1.0, lt=1.0)


DriverName = Literal["training_compute", "tokens_served", "algorithmic_efficiency"]


class Event(_Strict):
    """A possible shock at a quarter: a jump of a driver's level, or a plateau of its growth."""

    name: str
    driver: DriverName
    quarter: str
    probability: float = Field(ge=0.0, le=1.0)
    kind: Literal["jump", "plateau"]
    size: float = Field(default=0.0, gt=-1.0, description="jump: relative change of the level")
    growth_after: float = Field(default=0.0, gt=-1.0, description="plateau: annual growth from then on")
    source: str = ""

    _q = field_validator("quarter", mode="before")(_check_quarter)


class TrainingCampaign(_Strict):
    """Training runs of a model class: compute per run, window, region; optionally recurring."""

    name: str
    model: str
    tokens: float | None = Field(default=None, gt=0)
    train_flops: float | None = Field(default=None, gt=0)
    start: str
    duration_quarters: int = Field(ge=1, le=40)
    repeat_every_quarters: int | None = Field(default=None, ge=1, le=40)
    grows_with_driver: bool = True
    region: str
    tenant: str = "self"
    precision: Literal["bf16", "fp16", "fp8"] = "bf16"

    _q = field_validator("start", mode="before")(_check_quarter)

    @model_validator(mode="after")
    def _size(self) -> TrainingCampaign:
        if (self.tokens is None) == (self.train_flops is None):
            raise ValueError("give exactly one of tokens or train_flops")
        return self


class InferenceService(_Strict):
    """An inference service: model, tokens processed per day at the horizon start, request shape."""

    name: str
    model: str
    tokens_per_day: float = Field(gt=0, description="input + output tokens per day at the horizon start")
    input_tokens: int = Field(default=1000, ge=1)
    output_tokens: int = Field(default=300, ge=1)
    ttft_ms: float | None = Field(default=None, gt=0)
    tpot_ms: float | None = Field(default=None, gt=0)
    precision: Literal["bf16", "fp16", "fp8", "int8", "fp4"] = "fp8"
    peak_to_average: float = Field(default=1.5, ge=1.0, le=10.0)
    start: str | None = None
    region: str
    tenant: str = "self"

    _q = field_validator("start", mode="before")(lambda v: None if v is None else _check_quarter(v))


class Uncertainty(_Strict):
    paths: int = Field(default=2000, ge=1, le=1_000_000)
    leaves: int = Field(default=20, ge=1, le=5000)
    branch_quarters: list[str] = Field(default_factory=list)
    seed: int = 0

    @field_validator("branch_quarters", mode="before")
    @classmethod
    def _quarters(cls, value: Any) -> list[str]:
        return [_check_quarter(v) for v in value]


def default_drivers() -> Drivers:
    """The documented default drivers (``catalog/drivers.yaml``, each with its source)."""
    from pacer.catalog.loader import CATALOG_DIR

    return Drivers.model_validate(yaml.safe_load((CATALOG_DIR / "drivers.yaml").read_text()))


class DemandSpec(_Strict):
    drivers: Drivers = Field(default_factory=default_drivers)
    events: list[Event] = Field(default_factory=list)
    training: list[TrainingCampaign] = Field(default_factory=list)
    inference: list[InferenceService] = Field(default_factory=list)
    uncertainty: Uncertainty = Field(default_factory=Uncertainty)
    table: str | None = Field(default=None, description="CSV of demand per scenario, instead of workloads")


#: Project stages in order; a project is ``live`` after the last build stage.
STAGES = ("land", "permits", "shell", "power", "fit-out", "live")
BUILD_STAGES = STAGES[:-1]
Stage = Literal["land", "permits", "shell", "power", "fit-out", "live"]
Workload = Literal["training", "inference"]


class StageOverride(_Strict):
    duration_quarters: int | None = Field(default=None, ge=0, le=40)
    spend_usd_per_mw: float | None = Field(default=None, ge=0)
    cancel_fee_usd_per_mw: float | None = Field(default=None, ge=0)


class Lease(_Strict):
    rent_usd_per_kw_month: float = Field(gt=0)
    term_years: float = Field(default=15.0, gt=0)


class Project(_Strict):
    """A datacenter project: where it stands, how big, owned or leased; stage costs default from the catalog."""

    id: str = Field(min_length=1)
    region: str
    power_mw: float = Field(gt=0, le=10_000)
    ownership: Literal["owned", "leased"]
    stage: Stage
    quarters_in_stage: int = Field(default=0, ge=0)
    stages: dict[str, StageOverride] = Field(default_factory=dict)
    lease: Lease | None = None
    hold_usd_per_mw_quarter: float | None = Field(default=None, ge=0)

    @field_validator("stages")
    @classmethod
    def _stage_names(cls, value: dict[str, StageOverride]) -> dict[str, StageOverride]:
        for name in value:
            if name not in BUILD_STAGES:
                raise ValueError(f"unknown stage {name!r}; stages are {', '.join(BUILD_STAGES)}")
        return value

    @model_validator(mode="after")
    def _lease(self) -> Project:
        if self.ownership == "leased" and self.lease is None:
            raise ValueError("a leased project needs lease.rent_usd_per_kw_month")
        return self


class Economics(_Strict):
    revenue_usd_per_h100e_hour: dict[Workload, float]
    third_party_usd_per_h100e_hour: dict[Workload, float]
    unserved_penalty_usd_per_h100e_hour: dict[Workload, float] = Field(default_factory=dict)
    power_usd_per_mwh: float = Field(default=70.0, ge=0)
    gpu_utilisation: float = Field(default=0.8, gt=0, le=1)

    @model_validator(mode="after")
    def _prices(self) -> Economics:
        for name in ("revenue_usd_per_h100e_hour", "third_party_usd_per_h100e_hour",
                     "unserved_penalty_usd_per_h100e_hour"):
            for workload, price in getattr(self, name).items():
                if price < 0:
                    raise ValueError(f"{name}.{workload} must be >= 0, got {price}")
        for name in ("revenue_usd_per_h100e_hour", "third_party_usd_per_h100e_hour"):
            missing = {"training", "inference"} - set(getattr(self, name))
            if missing:
                raise ValueError(f"{name} needs a price for {sorted(missing)}")
        return self


class FleetEntry(_Strict):
    accelerator: str
    region: str
    gpus: float = Field(ge=0)
    bought: str

    _q = field_validator("bought", mode="before")(_check_quarter)


class CVaR(_Strict):
    alpha: float = Field(default=0.9, gt=0, lt=1)
    weight: float = Field(default=0.0, ge=0)


class Planning(_Strict):
    solver: str = "highs"
    time_limit_s: float = Field(default=60.0, gt=0)
    mip_gap: float = Field(default=0.01, ge=0, lt=1)
    leaves: int | None = Field(default=None, ge=1, le=500)


class Evaluation(_Strict):
    paths: int = Field(default=200, ge=1, le=100_000)
    perfect_foresight_paths: int = Field(default=12, ge=0, le=1000)
    seed: int = 1


class Provider(_Strict):
    """The provider whose pipeline is planned: projects, fleet, economics, risk and solver settings."""

    name: str = "provider"
    discount_rate: float = Field(default=0.08, ge=0, lt=1)
    gpu_life_years: float = Field(default=5.0, gt=0, le=15)
    facility_residual_fraction: float = Field(default=0.6, ge=0, le=1)
    economics: Economics
    fleet: list[FleetEntry] = Field(default_factory=list)
    projects: list[Project] = Field(default_factory=list)
    projects_csv: str | None = Field(default=None, description="CSV of more projects, one row each")
    cvar: CVaR = Field(default_factory=CVaR)
    planning: Planning = Field(default_factory=Planning)
    evaluation: Evaluation = Field(default_factory=Evaluation)


class Scenario(_Strict):
    """Every input of a pacer run."""

    name: str
    description: str = ""
    horizon: Horizon
    regions: list[str] = Field(min_length=1)
    roadmap: list[RoadmapEntry] = Field(min_length=1)
    facility: Facility = Field(default_factory=Facility)
    demand: DemandSpec
    provider: Provider | None = None
    base_dir: str = Field(default=".", exclude=True)

    @property
    def quarters(self) -> pd.PeriodIndex:
        return self.horizon.quarters

    def accelerator_at(self) -> list[str]:
        """The roadmap's accelerator for new capacity in each quarter of the horizon."""
        entries = sorted(self.roadmap, key=lambda e: quarter(e.available))
        out = []
        for q in self.quarters:
            live = [e.accelerator for e in entries if quarter(e.available) <= q]
            out.append(live[-1])
        return out

    def pue_of(self, region: str) -> float:
        return self.facility.pue_by_region.get(region, self.facility.pue)


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _lookup(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _cross_check(s: Scenario) -> None:
    catalog = load_catalog()
    regions = set(s.regions)
    if len(regions) != len(s.regions):
        raise InputError("regions", s.regions, "must not repeat a region")
    first = min(quarter(e.available) for e in s.roadmap)
    for i, e in enumerate(s.roadmap):
        get_accelerator(e.accelerator, f"roadmap[{i}].accelerator")
    if first > quarter(s.horizon.start):
        raise InputError("roadmap", s.horizon.start,
                         f"no accelerator is available at the horizon start (first: {first})")
    for region in s.facility.pue_by_region:
        if region not in regions:
            raise InputError("facility.pue_by_region", region, f"unknown region; {did_you_mean(region, regions)}")
    qs = s.quarters
    inside = lambda text: qs[0] <= quarter(text) <= qs[-1]  # noqa: E731
    workloads: list[tuple[str, int, TrainingCampaign | InferenceService]] = [
        *(("training", i, w) for i, w in enumerate(s.demand.training)),
        *(("inference", i, w) for i, w in enumerate(s.demand.inference)),
    ]
    for kind, i, w in workloads:
        where = f"demand.{kind}[{i}]"
        if w.model not in catalog.models:
            raise InputError(f"{where}.model", w.model, f"unknown model; {did_you_mean(w.model, catalog.models)}")
        if w.region not in regions:
            raise InputError(f"{where}.region", w.region, f"unknown region; {did_you_mean(w.region, regions)}")
        if w.start is not None and not inside(w.start):
            raise InputError(f"{where}.start", w.start, f"must be inside the horizon {qs[0]}..{qs[-1]}")
    for i, ev in enumerate(s.demand.events):
        if not inside(ev.quarter):
            raise InputError(f"demand.events[{i}].quarter", ev.quarter,
                             f"must be inside the horizon {qs[0]}..{qs[-1]}")
    u = s.demand.uncertainty
    for i, bq in enumerate(u.branch_quarters):
        if not qs[0] < quarter(bq) <= qs[-1]:
            raise InputError(f"demand.uncertainty.branch_quarters[{i}]", bq,
                             f"must be after the horizon start and inside it ({qs[0]}..{qs[-1]})")
    if u.leaves > u.paths:
        raise InputError("demand.uncertainty.leaves", u.leaves, f"must be at most paths ({u.paths})")
    if u.leaves > 1 and not u.branch_quarters and s.demand.table is None:
        raise InputError("demand.uncertainty.branch_quarters", [], "needs at least one quarter for more than one leaf")
    if not s.demand.training and not s.demand.inference and s.demand.table is None:
        raise InputError("demand", "no workloads", "needs training or inference workloads, or a demand table")
    roadmap_accelerators = set(s.accelerator_at())
    for i, w in enumerate(s.demand.inference):
        for acc in roadmap_accelerators:
            if get_accelerator(acc).peak_tflops(w.precision) <= 0:
                raise InputError(f"demand.inference[{i}].precision", w.precision,
                                 f"not supported by roadmap accelerator {acc}")


def _check_provider(s: Scenario) -> None:
    if s.provider is None:
        return
    regions = set(s.regions)
    seen: set[str] = set()
    for i, p in enumerate(s.provider.projects):
        where = f"provider.projects[{i}]"
        if p.id in seen:
            raise InputError(f"{where}.id", p.id, "duplicate project id")
        seen.add(p.id)
        if p.region not in regions:
            raise InputError(f"{where}.region", p.region, f"unknown region; {did_you_mean(p.region, regions)}")
    qs = s.quarters
    for i, f in enumerate(s.provider.fleet):
        get_accelerator(f.accelerator, f"provider.fleet[{i}].accelerator")
        if f.region not in regions:
            raise InputError(f"provider.fleet[{i}].region", f.region, "unknown region")
        if quarter(f.bought) > qs[0]:
            raise InputError(f"provider.fleet[{i}].bought", f.bought, f"must be at or before the horizon start {qs[0]}")


def _projects_from_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of a projects CSV as project mappings: id, region, power_mw, ownership, stage, and optional
    quarters_in_stage, rent_usd_per_kw_month, lease_term_years, hold_usd_per_mw_quarter."""
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError) as exc:
        raise InputError("provider.projects_csv", str(path), "cannot read CSV") from exc
    rows = []
    for record in frame.to_dict("records"):
        row = {str(k): v for k, v in record.items() if not (isinstance(v, float) and pd.isna(v))}
        rent = row.pop("rent_usd_per_kw_month", None)
        term = row.pop("lease_term_years", None)
        if rent is not None:
            row["lease"] = {"rent_usd_per_kw_month": rent} | ({"term_years": term} if term is not None else {})
        rows.append(row)
    return rows


def parse_scenario(data: Any, base_dir: str | Path = ".") -> Scenario:
    """Validate a scenario given as plain data (a dict, as read from YAML)."""
    if not isinstance(data, dict):
        raise InputError("scenario", type(data).__name__, "must be a mapping of fields")
    provider = data.get("provider")
    if isinstance(provider, dict) and provider.get("projects_csv"):
        csv_path = Path(provider["projects_csv"])
        csv_path = csv_path if csv_path.is_absolute() else Path(base_dir) / csv_path
        data = {**data, "provider": {**provider, "projects": [*(provider.get("projects") or []),
                                                               *_projects_from_csv(csv_path)]}}
    try:
        scenario = Scenario.model_validate({**data, "base_dir": str(base_dir)})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        value = _lookup(data, loc) if err["type"] != "missing" else "missing"
        message = err["msg"].removeprefix("Value error, ")
        raise PacerError(f"{_format_loc(loc)}: {message}, got {value!r}") from exc
    _cross_check(scenario)
    _check_provider(scenario)
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise InputError("scenario", str(path), f"cannot read file ({exc.strerror})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise InputError("scenario", str(path), f"is not valid YAML{where}") from exc
    return parse_scenario(data, p.parent)
