"""Compute contracts between tenants (AI labs) and providers, as validated data.

* ``exclusivity``: the tenant buys all its compute from one provider, except named exceptions capped in
  thousands of H100-equivalents (kH100e) with other providers.
* ``rofr``: right of first refusal: each new capacity request of the tenant is offered to the holder first,
  who may match it from capacity it has or plans within ``window_quarters``; what it declines opens to others.
* ``take_or_pay``: the tenant commits to a volume at a price per H100e-hour and pays for it used or not.

Terms change at a quarter by ending one contract and starting another (exclusivity becoming ROFR). The
schemas live in :mod:`pacer.scenario` with every other input; this module checks a book of them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pacer.scenario import Contract, Exclusivity, ExclusivityException, Rofr, TakeOrPay, check_contracts

__all__ = ["ContractBook", "Exclusivity", "ExclusivityException", "Rofr", "TakeOrPay"]


class ContractBook(BaseModel):
    """All contracts of a market, checked against its parties."""

    model_config = ConfigDict(extra="forbid")

    providers: list[str]
    tenants: list[str]
    contracts: list[Contract] = Field(default_factory=list)

    @model_validator(mode="after")
    def _parties(self) -> ContractBook:
        check_contracts(self.providers, self.tenants, self.contracts)
        return self

    def active(self, quarter: str) -> list[Exclusivity | Rofr | TakeOrPay]:
        return [c for c in self.contracts if c.active(quarter)]
