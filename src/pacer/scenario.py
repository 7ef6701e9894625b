"""The scenario file: one pydantic schema for every input a pacer run needs.

``load_scenario(path)`` reads YAML, validates it and checks cross-references (regions, models,
accelerators, quarters inside the horizon). Any problem raises a :class:`~pacer.errors.PacerError`
whose one-line message names the field path and the value, e.g.
``demand.training[2].model: unknown model 'llama-9'; did you mean llama-2-7b?, got 'llama-9'``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pacer.catalog import get_accelerator, load_catalog, load_efficiency
from pacer.errors import InputError, PacerError, did_you_mean, short_repr

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
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # NaN or infinity is never an input


#: Longest horizon a scenario may span (quarters): capacity plans look a few years out; a 2999Q4 horizon is a
#: typo that would cost minutes of work per run.
MAX_HORIZON_QUARTERS = 100


class Horizon(_Strict):
    start: str
    end: str

    _q = field_validator("start", "end", mode="before")(_check_quarter)

    @model_validator(mode="after")
    def _ordered(self) -> Horizon:
        if quarter(self.end) < quarter(self.start):
            raise ValueError(f"end {self.end} is before start {self.start}")
        span = quarter(self.end).ordinal - quarter(self.start).ordinal + 1
        if span > MAX_HORIZON_QUARTERS:
            raise ValueError(f"spans {span} quarters, more than the {MAX_HORIZON_QUARTERS} (25 years) pacer plans")
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
        if value is not None and not isinstance(value, dict):
            raise ValueError("must be a mapping {quarter: growth from then on}")
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
    stack: str | None = Field(default=None, description="training stack (megatron, fsdp, jax); default per vendor")

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
    precision: Literal["bf16", "fp16", "fp8", "int8", "fp4", "w8a16", "w4a16"] = "fp8"
    stack: str | None = Field(default=None, description="serving stack (trtllm, vllm, sglang, ...); default per vendor")
    peak_to_average: float = Field(default=1.5, ge=1.0, le=10.0)
    start: str | None = None
    region: str
    tenant: str = "self"

    _q = field_validator("start", mode="before")(lambda v: None if v is None else _check_quarter(v))


class Uncertainty(_Strict):
    paths: int = Field(default=2000, ge=1, le=1_000_000)
    leaves: int = Field(default=20, ge=1, le=5000)
    branch_quarters: list[str] = Field(default_factory=list)
    seed: int = Field(default=0, ge=0, le=2**32 - 1)

    @field_validator("branch_quarters", mode="before")
    @classmethod
    def _quarters(cls, value: Any) -> list[str]:
        if not isinstance(value, list | tuple):
            raise ValueError("must be a list of quarters like [2025Q1, 2026Q1]")
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
    """A lease's rent and term; ``commences`` makes it a signed lease with a date: the landlord hands the
    project over live in that quarter on every branch (the provider can neither release nor delay it)."""

    rent_usd_per_kw_month: float = Field(gt=0)
    term_years: float = Field(default=15.0, gt=0)
    commences: str | None = None

    _q = field_validator("commences", mode="before")(lambda v: None if v is None else _check_quarter(v))


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
    joins: str | None = Field(
        default=None, description="market simulation only: the quarter the provider secures the site and the "
        "project enters its pipeline (at its stage)")

    _joins = field_validator("joins", mode="before")(lambda v: None if v is None else _check_quarter(v))

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
        if self.ownership == "owned" and self.lease is not None and self.lease.commences is not None:
            raise ValueError(f"lease.commences ({self.lease.commences}) needs ownership: leased")
        return self


class Economics(_Strict):
    revenue_usd_per_h100e_hour: dict[Workload, float]
    third_party_usd_per_h100e_hour: dict[Workload, float]
    unserved_penalty_usd_per_h100e_hour: dict[Workload, float] = Field(default_factory=dict)
    power_usd_per_mwh: float = Field(default=70.0, ge=0)
    gpu_utilisation: float = Field(default=0.8, gt=0, le=1)
    server_capex_fraction: float = Field(
        default=0.0, ge=0, le=3, description="capex of the server, network and storage around each accelerator, "
        "as a fraction of the accelerator's price (0: the catalog price is all that is paid)")

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
    """GPUs a provider owns or has ordered: ``bought`` at or before the horizon start puts them in the
    starting fleet (ageing from then); a quarter inside the horizon is a committed order, delivered, paid for
    and put in service that quarter (the planner must buy at least that many then)."""

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
    seed: int = Field(default=1, ge=0, le=2**32 - 1)
    #: Paths on which the re-planning policies run (each re-solves at every epoch: costly, so opt-in).
    rolling_paths: int = Field(default=0, ge=0, le=10_000)
    rolling_epoch_quarters: int = Field(default=4, ge=1, le=40)
    rolling_leaves: int = Field(default=4, ge=2, le=64)


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


# -- the market: providers, tenants and contracts -----------------------------------------------------


class _Contract(_Strict):
    tenant: str
    start: str
    end: str | None = None
    ends_on: str | None = Field(default=None, description="a market trigger that ends the contract when it fires")
    starts_on: str | None = Field(default=None, description="a market trigger the contract waits for")

    _q = field_validator("start", "end", mode="before")(lambda v: None if v is None else _check_quarter(v))

    def active(self, quarter_text: str, fired: dict[str, str] | None = None) -> bool:
        """Whether the contract binds in ``quarter_text`` (``2025Q1`` strings compare in time order), given
        the quarter each trigger has fired in (``fired``): a contract that ``starts_on`` a trigger binds from
        the quarter it fires, one that ``ends_on`` a trigger stops binding then."""
        fired = fired or {}
        if self.starts_on is not None and not (self.starts_on in fired and fired[self.starts_on] <= quarter_text):
            return False
        if self.ends_on is not None and self.ends_on in fired and fired[self.ends_on] <= quarter_text:
            return False
        return self.start <= quarter_text and (self.end is None or quarter_text <= self.end)


class ExclusivityException(_Strict):
    provider: str
    cap_kh100e: float = Field(ge=0, description="most the tenant may buy from this provider, thousand H100e")
    source: str = ""


class Exclusivity(_Contract):
    """The tenant buys all its compute from ``provider``, except the named exceptions."""

    type: Literal["exclusivity"]
    provider: str
    exceptions: list[ExclusivityException] = Field(default_factory=list)
    source: str = ""


class Rofr(_Contract):
    """Right of first refusal: ``holder`` sees each new request of the tenant first and may match it
    from the capacity it has or plans to have within ``window_quarters``; what it declines opens to others."""

    type: Literal["rofr"]
    holder: str
    window_quarters: int = Field(ge=1, le=20, description="quarters the holder has to bring capacity")
    source: str = ""


class TakeOrPay(_Contract):
    """The tenant commits to ``volume_kh100e`` from ``provider`` at a price, and pays for it used or not."""

    type: Literal["take_or_pay"]
    provider: str
    volume_kh100e: float = Field(gt=0)
    price_usd_per_h100e_hour: float = Field(ge=0)
    source: str = ""


class EquityForCompute(_Contract):
    """The provider invests ``amount_usd`` in the tenant in quarter ``start``; ``compute_share`` of it comes
    as credits the tenant can spend only on the provider's compute (payments to the provider draw on them
    first), the rest as cash. The provider books the whole amount as an investment, and the credits return
    to it as revenue when the tenant spends them."""

    type: Literal["equity_for_compute"]
    provider: str
    amount_usd: float = Field(gt=0)
    compute_share: float = Field(default=1.0, ge=0, le=1)
    source: str = ""


Contract = Annotated[Exclusivity | Rofr | TakeOrPay | EquityForCompute, Field(discriminator="type")]


def check_contracts(providers: list[str], tenants: list[str], contracts: list[Any], where: str = "contracts",
                    triggers: list[str] | None = None) -> None:
    """Check contracts against the market's parties and triggers: unknown names, reversed terms, overlapping
    exclusivity (exclusivities that wait for or end on a trigger may overlap: the trigger separates them)."""
    provider_set, tenant_set = set(providers), set(tenants)
    for i, c in enumerate(contracts):
        if c.tenant not in tenant_set:
            raise InputError(f"{where}[{i}].tenant", c.tenant, f"unknown tenant; {did_you_mean(c.tenant, tenants)}")
        for field in ("provider", "holder"):
            name = getattr(c, field, None)
            if name is not None and name not in provider_set:
                raise InputError(f"{where}[{i}].{field}", name, f"unknown provider; {did_you_mean(name, providers)}")
        for j, e in enumerate(getattr(c, "exceptions", [])):
            if e.provider not in provider_set:
                raise InputError(f"{where}[{i}].exceptions[{j}].provider", e.provider, "unknown provider")
        if c.end is not None and c.end < c.start:
            raise InputError(f"{where}[{i}].end", c.end, f"is before start {c.start}")
        for field in ("ends_on", "starts_on"):
            name = getattr(c, field)
            if name is not None and name not in set(triggers or []):
                raise InputError(f"{where}[{i}].{field}", name,
                                 f"unknown trigger; {did_you_mean(name, list(triggers or []))}")
    exclusive = [(i, c) for i, c in enumerate(contracts)
                 if isinstance(c, Exclusivity) and c.starts_on is None and c.ends_on is None]
    for a, (i, c) in enumerate(exclusive):
        for j, d in exclusive[a + 1:]:
            if c.tenant == d.tenant and c.start <= (d.end or "9999Q4") and d.start <= (c.end or "9999Q4"):
                raise InputError(f"{where}[{j}]", d.tenant,
                                 f"overlaps the exclusivity of {where}[{i}] for the same tenant")


def _check_price_schedule(value: float | dict[int, float]) -> float | dict[int, float]:
    prices = value.values() if isinstance(value, dict) else [value]
    if isinstance(value, dict) and not value:
        raise ValueError("needs at least one year")
    for price in prices:
        if not price >= 0:
            raise ValueError(f"must be >= 0, got {price}")
    return value


def price_in_year(schedule: float | dict[int, float], year: int) -> float:
    """A price schedule's value in ``year``: the latest year given at or before it (the first before any)."""
    if not isinstance(schedule, dict):
        return float(schedule)
    years = sorted(schedule)
    at = [y for y in years if y <= year]
    return float(schedule[at[-1] if at else years[0]])


class ConventionalCloud(_Strict):
    """A provider's cloud business beyond the AI demand the scenario models: the CPU servers, storage and
    network of its general cloud and software services, at a stated size. Its IT load grows by
    ``annual_growth`` (changed from the quarters in ``growth_from``); its capex is servers for the load it
    adds and for those that reach the end of their life, and buildings for the load it adds. It counts in
    the provider's company capex (``cloud_capex_usd``, ``company_capex_usd``). It is built by a programme of
    its own: it takes no MW from the pipeline the planner paces and earns nothing in the market."""

    it_mw: dict[str, float] = Field(min_length=1, description="IT load in service at the horizon start, MW per region")
    annual_growth: float = Field(gt=-1, le=5)
    growth_from: dict[str, float] = Field(
        default_factory=dict, description="scheduled changes of annual growth: {quarter: growth from then on}")
    server_usd_per_it_mw: float = Field(gt=0, description="servers, storage and network per MW of IT load")
    server_life_years: float = Field(default=6.0, gt=0, le=30)
    building_usd_per_mw: float | None = Field(
        default=None, ge=0, description="building per MW of facility power (IT load times PUE); default: the "
        "catalog's stage spend per MW, summed")
    source: str = ""

    _schedule = field_validator("growth_from", mode="before")(DriverSpec._schedule.__func__)  # type: ignore[attr-defined]

    @field_validator("it_mw")
    @classmethod
    def _loads(cls, value: dict[str, float]) -> dict[str, float]:
        for region, mw in value.items():
            if mw < 0:
                raise ValueError(f"MW must not be negative, got {mw} for {region}")
        return value


class MarketProvider(Provider):
    """A provider in the market: its own pipeline, fleet and economics, an asking price, and whether it
    takes over capacity that others release. ``same_as_provider: true`` copies the scenario's
    ``provider`` section (its projects, fleet and economics) under this name; fields given here override
    the copied ones."""

    kind: Literal["hyperscaler", "cloud", "neocloud", "landlord"] = "cloud"
    same_as_provider: bool = False
    economics: Economics | None = None  # type: ignore[assignment]
    ask_usd_per_h100e_hour: float | dict[int, float] = Field(
        description="price asked of tenants without a contract price: one value, or one per year (held after)")
    absorbs: bool = True
    max_tenant_share: float = Field(
        default=1.0, gt=0, le=1, description="most of its capacity it lets one tenant hold when it decides to "
        "match a request under a right of first refusal (concentration appetite)")
    planning_quantile: float | dict[int, float] | None = Field(
        default=None, description="plan to this quantile of expected demand instead of the mean: one value, "
        "or one per year (a stance that changes, e.g. from building ahead to discipline)")
    conventional_cloud: ConventionalCloud | None = None

    _price = field_validator("ask_usd_per_h100e_hour")(lambda v: _check_price_schedule(v))

    @field_validator("planning_quantile")
    @classmethod
    def _quantiles(cls, value: float | dict[int, float] | None) -> float | dict[int, float] | None:
        for q in (value.values() if isinstance(value, dict) else [] if value is None else [value]):
            if not 0 < q < 1:
                raise ValueError(f"must be between 0 and 1, got {q}")
        return value
    source: str = ""


class TenantDemand(_Strict):
    """A tenant's demand without workloads: a level that grows by a fixed rate, with noise."""

    start_kh100e: float = Field(gt=0, description="demand at the first quarter, thousand H100e")
    annual_growth: float = Field(gt=-1.0)
    annual_volatility: float = Field(default=0.2, ge=0, le=3)
    growth_from: dict[str, float] = Field(
        default_factory=dict, description="scheduled changes of annual growth: {quarter: growth from then on}")
    region: str
    inference_share: float = Field(default=0.5, ge=0, le=1)
    source: str = ""

    _schedule = field_validator("growth_from", mode="before")(DriverSpec._schedule.__func__)  # type: ignore[attr-defined]


class FundingRound(_Strict):
    quarter: str
    amount_usd: float = Field(gt=0)
    source: str = ""

    _q = field_validator("quarter", mode="before")(_check_quarter)


class MarketTenant(_Strict):
    """A buyer of compute (an AI lab): demand, revenue, other costs, cash and funding rounds.

    Demand comes from the demand layer (``demand_tenant`` names a ``tenant`` of the workloads) or from
    ``demand``. Revenue and other costs are per calendar year (USD), interpolated by quarter and grown by
    the last year-on-year rate after the last year given. A tenant whose cash would fall below
    ``min_cash_usd`` cuts its requests to what it can pay.
    """

    name: str = Field(min_length=1)
    demand_tenant: str | None = None
    demand: TenantDemand | None = None
    bid_usd_per_h100e_hour: float | dict[int, float] = Field(
        description="most it pays per H100e-hour: one value, or one per year (held after)")
    revenue_usd_per_year: dict[int, float] = Field(default_factory=dict)
    other_costs_usd_per_year: dict[int, float] = Field(default_factory=dict)
    cash_usd: float = Field(default=0.0, ge=0, description="cash at the market start")
    min_cash_usd: float = Field(default=0.0, ge=0)
    funding: list[FundingRound] = Field(default_factory=list)
    source: str = ""

    _price = field_validator("bid_usd_per_h100e_hour")(lambda v: _check_price_schedule(v))

    @model_validator(mode="after")
    def _one_demand(self) -> MarketTenant:
        if (self.demand_tenant is None) == (self.demand is None):
            raise ValueError("give exactly one of demand_tenant (a workload tenant) and demand")
        for name in ("revenue_usd_per_year", "other_costs_usd_per_year"):
            for year, usd in getattr(self, name).items():
                if usd < 0:
                    raise ValueError(f"{name}.{year} must be >= 0, got {usd}")
        return self


class Trigger(_Strict):
    """An event that changes contracts (an "AGI clause"): it fires in ``quarter``, or from the quarter after
    ``tenant``'s ``metric`` first reaches ``threshold`` (summed from the market start when ``cumulative``),
    whichever comes first. Contracts name it in ``ends_on`` / ``starts_on``."""

    name: str = Field(min_length=1)
    quarter: str | None = None
    tenant: str | None = None
    metric: Literal["revenue_usd", "net_income_usd", "cash_usd", "spend_usd", "served_kh100e",
                    "demand_kh100e"] | None = None
    threshold: float | None = None
    cumulative: bool = False
    source: str = ""

    _q = field_validator("quarter", mode="before")(lambda v: None if v is None else _check_quarter(v))

    @model_validator(mode="after")
    def _condition(self) -> Trigger:
        watch = (self.tenant, self.metric, self.threshold)
        if any(v is not None for v in watch) and any(v is None for v in watch):
            raise ValueError("a metric trigger needs tenant, metric and threshold together")
        if self.quarter is None and self.metric is None:
            raise ValueError("needs a quarter, or a tenant metric and threshold")
        return self


class Realised(_Strict):
    """Which sampled demand path the market lives through: the path at ``quantile`` of total demand in
    the last quarter (of the tenants that take their demand from the workloads, where there are any),
    among ``paths`` sampled with ``seed``. Providers only learn it quarter by quarter."""

    quantile: float = Field(default=0.5, ge=0, le=1)
    paths: int = Field(default=400, ge=2, le=100_000)
    seed: int = Field(default=11, ge=0, le=2**32 - 1)


class Market(_Strict):
    """Providers, tenants and the contracts between them, played quarter by quarter."""

    start: str | None = None
    replan_every_quarters: int = Field(default=4, ge=1, le=40)
    #: Scenarios of the small tree each provider re-plans on (1: one expected path).
    replan_leaves: int = Field(default=3, ge=1, le=16)
    switching_cost_usd_per_h100e_hour: float = Field(
        default=0.3, ge=0, description="price edge a tenant needs to move compute it already has")
    realised: Realised = Field(default_factory=Realised)
    providers: list[MarketProvider] = Field(min_length=1)
    tenants: list[MarketTenant] = Field(min_length=1)
    contracts: list[Contract] = Field(default_factory=list)
    triggers: list[Trigger] = Field(default_factory=list)

    _q = field_validator("start", mode="before")(lambda v: None if v is None else _check_quarter(v))


class FactMetric(_Strict):
    """Which result series a fact is about: the series, filters on its parties, region and workload (left
    out: summed over all), a period (``2024Q4..2025Q1``, a year ``2029``, or one quarter) and how the
    quarters combine. ``ratio_to`` divides by the same selection with some fields changed (``all`` drops a
    filter), e.g. ``{region: all}`` gives a region's share."""

    series: str
    provider: str | None = None
    tenant: str | None = None
    region: str | None = None
    workload: Literal["training", "inference"] | None = None
    period: str
    aggregate: Literal["sum", "mean", "last", "max", "first_quarter"] = "sum"
    ratio_to: dict[str, str] | None = None

    @field_validator("period", mode="before")
    @classmethod
    def _period(cls, value: Any) -> str:
        text = str(value).strip().upper().replace(" ", "")
        parts = text.split("..")
        if len(parts) == 1 and re.fullmatch(r"\d{4}", text):
            return f"{text}Q1..{text}Q4"
        if len(parts) > 2 or not all(_QUARTER.match(p) for p in parts):
            raise ValueError("must be a quarter (2025Q1), a year (2029) or a range (2024Q4..2025Q1)")
        if len(parts) == 1:
            return f"{text}..{text}"
        if quarter(parts[1]) < quarter(parts[0]):
            raise ValueError(f"ends before it starts ({parts[0]}..{parts[1]})")
        return text

    @field_validator("ratio_to")
    @classmethod
    def _ratio(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        allowed = {"series", "provider", "tenant", "region", "workload"}
        for key in value or {}:
            if key not in allowed:
                raise ValueError(f"unknown field {key!r}; allowed: {', '.join(sorted(allowed))}")
        if value is not None and not value:
            raise ValueError("needs at least one field to change")
        return value

    @property
    def quarters(self) -> tuple[str, str]:
        first, last = self.period.split("..")
        return first, last


class Fact(_Strict):
    """A reported figure a run should reproduce: the metric, the reported value and a band around it
    (quarters like ``2024Q3`` for ``aggregate: first_quarter``), with its source and date."""

    name: str = Field(min_length=1)
    metric: FactMetric
    reported: float | str
    low: float | str
    high: float | str
    source: str = Field(min_length=1)
    date: str = Field(min_length=1, description="when it was reported, e.g. 2025-03")
    note: str = ""

    @model_validator(mode="after")
    def _band(self) -> Fact:
        if self.metric.aggregate == "first_quarter":
            for name in ("reported", "low", "high"):
                setattr(self, name, _check_quarter(getattr(self, name)))
        else:
            for name in ("reported", "low", "high"):
                value = getattr(self, name)
                try:
                    setattr(self, name, float(value))
                except (TypeError, ValueError):
                    raise ValueError(f"{name} must be a number, got {value!r}") from None
        low, high, reported = self.low, self.high, self.reported
        if low > high:  # type: ignore[operator]
            raise ValueError(f"low {low} is above high {high}")
        if not low <= reported <= high:  # type: ignore[operator]
            raise ValueError(f"reported {reported} is outside its band {low}..{high}")
        return self


class CalibratedParameter(_Strict):
    """A value ``pacer calibrate`` set, and the bounds it searched."""

    path: str
    value: float
    low: float
    high: float
    note: str = ""


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
    market: Market | None = None
    facts: list[Fact] = Field(default_factory=list)
    calibrated: list[CalibratedParameter] = Field(
        default_factory=list, description="values set by pacer calibrate (written by it; kept as a record)")
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


#: Names pydantic puts in an error's location for the members of a union (``float``, ``dict[int,float]``).
_UNION_TAG = re.compile(r"^(float|int|str|bool|none|[a-z]+\[.*\]|function-\w+.*)$")


def _most_specific(data: Any, errors: list[Any]) -> Any:
    """The error to report: the first, unless it sits on a union member (a value that may be a number or a
    schedule): then the one deepest in what the user wrote (``ask_usd_per_h100e_hour.2023``, not the
    union's ``float`` member)."""
    first = errors[0]
    if not any(isinstance(p, str) and _UNION_TAG.match(p) and not _has_key(data, first["loc"], p)
               for p in first["loc"]):
        return first

    def depth(err: Any) -> int:
        loc = _clean_loc(data, tuple(err["loc"]))
        return len(loc) if _lookup(data, loc) is not None else -1

    return max(errors, key=depth)


def _has_key(data: Any, loc: tuple[Any, ...], key: str) -> bool:
    for part in loc:
        if part == key:
            return isinstance(data, dict) and key in data
        data = data.get(part) if isinstance(data, dict) else (
            data[part] if isinstance(data, list) and isinstance(part, int) and part < len(data) else None)
    return False


def _clean_loc(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The error location without the tags pydantic adds for tagged unions (``contracts[2].take_or_pay``)
    and union members (``float``, ``dict[int,float]``)."""
    out = []
    for part in loc:
        if isinstance(data, dict) and part not in data and data.get("type") == part:
            continue
        if isinstance(part, str) and _UNION_TAG.match(part) and not (isinstance(data, dict) and part in data):
            continue
        out.append(part)
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            data = None
    return tuple(out)


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
    stacks = load_efficiency().stacks
    for i, w in enumerate(s.demand.inference):
        window = catalog.models[w.model].max_context
        if w.input_tokens + w.output_tokens > window:
            raise InputError(f"demand.inference[{i}].input_tokens", w.input_tokens,
                             f"with output_tokens {w.output_tokens}, exceeds {w.model}'s context of {window:,} tokens")
    for i, w in enumerate(s.demand.inference):
        for acc in sorted(roadmap_accelerators):
            if get_accelerator(acc).peak_tflops(w.precision) <= 0:
                raise InputError(f"demand.inference[{i}].precision", w.precision,
                                 f"not supported by roadmap accelerator {acc}")
    stack_checks: list[tuple[str, Literal["serving", "training"], int, str | None]] = [
        *(("training", "training", i, w.stack) for i, w in enumerate(s.demand.training)),
        *(("inference", "serving", i, w.stack) for i, w in enumerate(s.demand.inference))]
    for name, kind, i, stack in stack_checks:
        if stack is None:
            continue
        for acc in sorted(roadmap_accelerators):
            stacks.resolve(kind, stack, get_accelerator(acc), field=f"demand.{name}[{i}].stack")


def _require_unique(names: list[str], where: str, field: str, what: str) -> None:
    """``where[i].field`` must not repeat an earlier one."""
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise InputError(f"{where}[{i}].{field}", name, f"duplicate {what}")
        seen.add(name)


def _check_provider(s: Scenario, provider: Provider | None = None, where: str = "provider") -> None:
    provider = s.provider if provider is None else provider
    if provider is None:
        return
    regions = set(s.regions)
    _require_unique([p.id for p in provider.projects], f"{where}.projects", "id", "project id")
    for i, p in enumerate(provider.projects):
        at = f"{where}.projects[{i}]"
        if p.region not in regions:
            raise InputError(f"{at}.region", p.region, f"unknown region; {did_you_mean(p.region, regions)}")
        if p.joins is not None and not s.quarters[0] <= quarter(p.joins) <= s.quarters[-1]:
            raise InputError(f"{at}.joins", p.joins, "must be inside the horizon")
    qs = s.quarters
    for i, f in enumerate(provider.fleet):
        get_accelerator(f.accelerator, f"{where}.fleet[{i}].accelerator")
        if f.region not in regions:
            raise InputError(f"{where}.fleet[{i}].region", f.region, "unknown region")
        if quarter(f.bought) > qs[-1]:
            raise InputError(f"{where}.fleet[{i}].bought", f.bought, f"must be at or before the horizon end {qs[-1]}")
        if quarter(f.bought) > qs[0]:  # a committed order: its generation must be on sale by then
            on_sale = [quarter(e.available) for e in s.roadmap if e.accelerator == f.accelerator]
            if not on_sale:
                raise InputError(f"{where}.fleet[{i}].accelerator", f.accelerator,
                                 "an order inside the horizon must be of a roadmap accelerator")
            if quarter(f.bought) < min(on_sale):
                raise InputError(f"{where}.fleet[{i}].bought", f.bought,
                                 f"{f.accelerator} is on the roadmap only from {min(on_sale)}")


def _check_market(s: Scenario) -> None:
    m = s.market
    if m is None:
        return
    qs = s.quarters
    inside = lambda text: qs[0] <= quarter(text) <= qs[-1]  # noqa: E731
    if m.start is not None and not inside(m.start):
        raise InputError("market.start", m.start, f"must be inside the horizon {qs[0]}..{qs[-1]}")
    _require_unique([p.name for p in m.providers], "market.providers", "name", "provider name")
    _require_unique([t.name for t in m.tenants], "market.tenants", "name", "tenant name")
    for i, p in enumerate(m.providers):
        where = f"market.providers[{i}]"
        if p.same_as_provider and s.provider is None:
            raise InputError(f"{where}.same_as_provider", True, "the scenario has no provider section to copy")
        if not p.same_as_provider and p.economics is None:
            raise InputError(f"{where}.economics", None, "is required unless same_as_provider is true")
        _check_provider(s, p, where)
        cloud = p.conventional_cloud
        for region in cloud.it_mw if cloud is not None else []:
            if region not in s.regions:
                raise InputError(f"{where}.conventional_cloud.it_mw", region,
                                 f"unknown region; {did_you_mean(region, s.regions)}")
        for q in cloud.growth_from if cloud is not None else []:
            if not inside(q):
                raise InputError(f"{where}.conventional_cloud.growth_from", q, "must be inside the horizon")
    workload_tenants = sorted({w.tenant for w in s.demand.training} | {w.tenant for w in s.demand.inference})
    for i, t in enumerate(m.tenants):
        where = f"market.tenants[{i}]"
        if t.demand_tenant is not None and t.demand_tenant not in workload_tenants:
            raise InputError(f"{where}.demand_tenant", t.demand_tenant,
                             f"no workload has this tenant; {did_you_mean(t.demand_tenant, workload_tenants)}")
        if t.demand is not None and t.demand.region not in s.regions:
            raise InputError(f"{where}.demand.region", t.demand.region, "unknown region")
        for j, f in enumerate(t.funding):
            if not inside(f.quarter):
                raise InputError(f"{where}.funding[{j}].quarter", f.quarter, "must be inside the horizon")
    tenant_names = [t.name for t in m.tenants]
    _require_unique([t.name for t in m.triggers], "market.triggers", "name", "trigger name")
    for i, trig in enumerate(m.triggers):
        if trig.quarter is not None and not inside(trig.quarter):
            raise InputError(f"market.triggers[{i}].quarter", trig.quarter, "must be inside the horizon")
        if trig.tenant is not None and trig.tenant not in tenant_names:
            raise InputError(f"market.triggers[{i}].tenant", trig.tenant,
                             f"unknown tenant; {did_you_mean(trig.tenant, tenant_names)}")
    check_contracts([p.name for p in m.providers], tenant_names, m.contracts, "market.contracts",
                    [t.name for t in m.triggers])


def _projects_from_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of a projects CSV as project mappings: id, region, power_mw, ownership, stage, and optional
    quarters_in_stage, rent_usd_per_kw_month, lease_term_years, hold_usd_per_mw_quarter."""
    try:
        frame = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
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
        err = _most_specific(data, exc.errors())
        loc = _clean_loc(data, tuple(err["loc"]))
        value = _lookup(data, loc) if err["type"] != "missing" else "missing"
        message = err["msg"].removeprefix("Value error, ")
        raise PacerError(f"{_format_loc(loc)}: {message}, got {short_repr(value)}") from exc
    _cross_check(scenario)
    _check_provider(scenario)
    _check_market(scenario)
    if scenario.facts:
        from pacer.facts import check_fact_specs

        check_fact_specs(scenario)
    if scenario.calibrated:
        from pacer.facts import check_calibrated

        check_calibrated(data, scenario)
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError("scenario", str(path), f"cannot read file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise InputError("scenario", str(path), f"is not UTF-8 text (byte {exc.start})") from exc
    return parse_scenario(read_yaml(text, str(path)), p.parent)


#: Deepest nesting of flow collections (``[`` and ``{``) a scenario may have: a scenario needs a handful;
#: YAML's parser slows down steeply with depth (5,000 levels take seconds).
MAX_FLOW_DEPTH = 64


def flow_depth(text: str) -> int:
    """How deep ``[`` and ``{`` nest in ``text`` (counted over the whole text, quotes included: a bound, not
    a parse)."""
    import numpy as np

    codes = np.frombuffer(text.encode("utf-8", "replace"), dtype=np.uint8)
    steps = np.isin(codes, (ord("["), ord("{"))).astype(np.int64) - np.isin(codes, (ord("]"), ord("}")))
    return int(np.cumsum(steps).max(initial=0))


def read_yaml(text: str, name: str = "scenario") -> Any:
    """YAML text as data; malformed or absurdly nested text is one line naming where."""
    if flow_depth(text) > MAX_FLOW_DEPTH:
        raise InputError("scenario", name, f"nests too deeply (brackets more than {MAX_FLOW_DEPTH} deep)")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise InputError("scenario", name, f"is not valid YAML{where}") from exc
    except RecursionError as exc:
        raise InputError("scenario", name, "nests too deeply to be a scenario") from exc
