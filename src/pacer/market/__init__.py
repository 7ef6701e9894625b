"""Compute contracts and the capacity market: providers that plan on a rolling horizon, tenants that buy
within their means, contracts that route requests, and capacity released by one provider and absorbed
by others."""

from pacer.market.clearing import Clearing, clear_quarter
from pacer.market.contracts import ContractBook, Exclusivity, Rofr, TakeOrPay
from pacer.market.simulate import MarketResult, absorb_lots, simulate

__all__ = ["Clearing", "ContractBook", "Exclusivity", "MarketResult", "Rofr", "TakeOrPay", "absorb_lots",
           "clear_quarter", "simulate"]
