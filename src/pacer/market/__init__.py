"""Compute contracts and the capacity market (first slice: contracts and one-quarter clearing)."""

from pacer.market.clearing import Clearing, clear_quarter
from pacer.market.contracts import ContractBook, Exclusivity, Rofr, TakeOrPay

__all__ = ["Clearing", "ContractBook", "Exclusivity", "Rofr", "TakeOrPay", "clear_quarter"]
