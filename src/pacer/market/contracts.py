"""Compute contracts between tenants (AI labs) and providers, as validated data.

* ``exclusivity``: the tenant buys all its compute from one provider, except named exceptions capped in
  thousands of H100-equivalents (kH100e) with other providers.
* ``rofr``: right of first refusal: each new capacity request of the tenant is offered to the holder first,
  who may match it from capacity it has or plans within ``window_quarters``; what it declines opens to others.
* ``take_or_pay``: the tenant commits to a volume at a price per H100e-hour and pays for it used or not.
* ``equity_for_compute``: the provider invests in the tenant; part of the investment comes as credits that
  only buy the provider's compute, so it returns to the provider as revenue.

A contract may end or start when a market *trigger* fires (``ends_on`` / ``starts_on``): at a quarter, or
when a tenant metric crosses a threshold (an "AGI clause").

Terms change at a quarter by ending one contract and starting another (exclusivity becoming ROFR). The
schemas live in :mod:`pacer.scenario` with every other input; this module checks a book of them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from pacer.scenario import (
    Contract,
    EquityForCompute,
    Exclusivity,
    ExclusivityException,
    Rofr,
    TakeOrPay,
    Trigger,
    check_contracts,
)

__all__ = ["ContractBook", "EquityForCompute", "Exclusivity", "ExclusivityException", "Rofr", "TakeOrPay",
           "Trigger"]


class ContractBook(BaseModel):
    """All contracts of a market, checked against its parties."""

    model_config = ConfigDict(extra="forbid")

    providers: list[str]
    tenants: list[str]
    contracts: list[Contract] = Field(default_factory=list)
    triggers: list[Trigger] = Field(default_factory=list)
    _fired: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _parties(self) -> ContractBook:
        check_contracts(self.providers, self.tenants, self.contracts, triggers=[t.name for t in self.triggers])
        return self

    def fire(self, name: str, quarter: str) -> None:
        """Record that trigger ``name`` fires in ``quarter`` (the first time only)."""
        self._fired.setdefault(name, quarter)

    def due_triggers(self, quarter: str, last: dict[str, dict[str, float]],
                     cumulative: dict[str, dict[str, float]]) -> list[Trigger]:
        """Triggers that fire in ``quarter``: their quarter has come, or their tenant's metric has reached the
        threshold, as of the quarter before (``last[tenant][metric]``, or ``cumulative[tenant][metric]``,
        summed from the market start, for a cumulative trigger)."""
        due = []
        for t in self.triggers:
            if t.name in self._fired:
                continue
            seen = cumulative if t.cumulative else last
            by_quarter = t.quarter is not None and t.quarter <= quarter
            by_metric = (t.tenant is not None and t.metric is not None and t.threshold is not None
                         and seen.get(t.tenant, {}).get(t.metric, float("-inf")) >= t.threshold)
            if by_quarter or by_metric:
                due.append(t)
        return due

    def active(self, quarter: str) -> list[Exclusivity | Rofr | TakeOrPay | EquityForCompute]:
        return [c for c in self.contracts if c.active(quarter, self._fired)]
