"""Compute contracts between tenants (AI labs) and providers, as validated data.

* ``exclusivity``: the tenant buys all its compute from one provider, except named exceptions capped in
  thousands of H100-equivalents (kH100e) with other providers.
* ``rofr``: right of first refusal: each new capacity request of the tenant is offered to the holder first,
  who may match it within ``window_quarters``; if it declines, others may serve it.
* ``take_or_pay``: the tenant commits to a volume at a price per H100e-hour and pays for it used or not.

Terms change at a quarter by ending one contract and starting another (exclusivity becoming ROFR).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pacer.errors import InputError


def _quarter_text(value: object) -> str:
    import re

    text = str(value).strip().upper()
    if not re.match(r"^\d{4}Q[1-4]$", text):
        raise ValueError("must be a quarter like 2025Q1")
    return text


class _Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str
    start: str
    end: str | None = None

    _q = field_validator("start", "end", mode="before")(lambda v: None if v is None else _quarter_text(v))

    def active(self, quarter: str) -> bool:
        """Whether the contract binds in ``quarter`` (``2025Q1`` strings compare in time order)."""
        return self.start <= quarter and (self.end is None or quarter <= self.end)


class ExclusivityException(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str
    cap_kh100e: float = Field(ge=0)


class Exclusivity(_Contract):
    type: Literal["exclusivity"]
    provider: str
    exceptions: list[ExclusivityException] = Field(default_factory=list)


class Rofr(_Contract):
    type: Literal["rofr"]
    holder: str
    window_quarters: int = Field(ge=1, description="quarters the holder has to match a request")


class TakeOrPay(_Contract):
    type: Literal["take_or_pay"]
    provider: str
    volume_kh100e: float = Field(gt=0)
    price_usd_per_h100e_hour: float = Field(ge=0)


Contract = Annotated[Exclusivity | Rofr | TakeOrPay, Field(discriminator="type")]


class ContractBook(BaseModel):
    """All contracts of a market, checked against its parties."""

    model_config = ConfigDict(extra="forbid")

    providers: list[str]
    tenants: list[str]
    contracts: list[Contract] = Field(default_factory=list)

    @model_validator(mode="after")
    def _parties(self) -> ContractBook:
        providers, tenants = set(self.providers), set(self.tenants)
        for i, c in enumerate(self.contracts):
            if c.tenant not in tenants:
                raise InputError(f"contracts[{i}].tenant", c.tenant, "unknown tenant")
            for field in ("provider", "holder"):
                name = getattr(c, field, None)
                if name is not None and name not in providers:
                    raise InputError(f"contracts[{i}].{field}", name, "unknown provider")
            for j, e in enumerate(getattr(c, "exceptions", [])):
                if e.provider not in providers:
                    raise InputError(f"contracts[{i}].exceptions[{j}].provider", e.provider, "unknown provider")
            if c.end is not None and c.end < c.start:
                raise InputError(f"contracts[{i}].end", c.end, f"is before start {c.start}")
        exclusive = [(i, c) for i, c in enumerate(self.contracts) if isinstance(c, Exclusivity)]
        for a, (i, c) in enumerate(exclusive):
            for j, d in exclusive[a + 1:]:
                overlap = c.tenant == d.tenant and c.start <= (d.end or "9999Q4") and d.start <= (c.end or "9999Q4")
                if overlap:
                    raise InputError(f"contracts[{j}]", d.tenant,
                                     f"overlaps the exclusivity of contracts[{i}] for the same tenant")
        return self

    def active(self, quarter: str) -> list[Exclusivity | Rofr | TakeOrPay]:
        return [c for c in self.contracts if c.active(quarter)]
