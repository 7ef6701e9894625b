"""Shared behaviour of pacer's result objects: a summary table, a rich repr and plain dicts."""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table


def plain(value: Any) -> Any:
    """Convert numpy scalars and non-finite floats into JSON-ready Python values."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def fmt(value: Any) -> str:
    """A short human-readable rendering of a number."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        v = float(value)
        if not math.isfinite(v):
            return "-"
        if v == 0:
            return "0"
        if abs(v) >= 1e6 or abs(v) < 1e-3:
            return f"{v:.3g}"
        if abs(v) >= 100:
            return f"{v:,.0f}"
        return f"{v:.3g}"
    return str(value)


def human(value: Any, unit: str = "") -> str:
    """A value for people in its unit: money in $M/$B, power in MW/GW, shares in %, compute in H100e;
    values within 1e-9 of zero as 0; never scientific notation."""
    if value is None:
        return "-"
    if isinstance(value, str) or unit == "quarter":
        return str(value)
    v = float(value)
    if not math.isfinite(v):
        return "-"
    if abs(v) < 1e-9:
        v = 0.0
    sign = "-" if v < 0 else ""
    a = abs(v)
    if unit == "USD":
        if a >= 1e9:
            return f"{sign}${a / 1e9:,.1f}B"
        if a >= 1e6:
            return f"{sign}${a / 1e6:,.0f}M"
        return f"{sign}${a:,.0f}"
    if unit == "MW":
        return f"{sign}{a / 1e3:,.2f} GW" if a >= 1e3 else f"{sign}{a:,.0f} MW"
    if unit == "share":
        return f"{v * 100:,.0f}%"
    if unit == "kH100e":
        return f"{sign}{a / 1e3:,.2f}M H100e" if a >= 1e3 else f"{sign}{a:,.0f}k H100e"
    if unit == "GPUs":
        return f"{sign}{a:,.0f}"
    text = f"{v:,.0f}" if a >= 100 else f"{v:,.3g}"
    return f"{text} {unit}".strip()


class Result:
    """Base of result objects: subclasses provide ``title`` and ``summary_rows()``."""

    title = "result"

    def summary_rows(self) -> list[tuple[str, Any]]:
        raise NotImplementedError

    def summary_table(self) -> Table:
        table = Table(title=self.title, show_header=False, title_justify="left")
        table.add_column("quantity", style="bold")
        table.add_column("value", justify="right")
        for name, value in self.summary_rows():
            table.add_row(name, fmt(value))
        return table

    def summary(self) -> str:
        """A readable multi-line summary."""
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(self.summary_table())
        return console.export_text()

    def __rich__(self) -> Table:
        return self.summary_table()

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={fmt(v)}" for k, v in self.summary_rows()[:6])
        return f"<{type(self).__name__} {inner}>"
