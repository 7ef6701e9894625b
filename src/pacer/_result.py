"""Shared behaviour of pacer's result objects: a summary table, a rich repr and plain dicts."""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from pacer.formatting import number, quantity


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
    """A short human-readable rendering of a number of unknown unit (:func:`pacer.formatting.number`)."""
    return number(value)


def human(value: Any, unit: str = "") -> str:
    """A value for people in its unit (:func:`pacer.formatting.quantity`)."""
    return quantity(value, unit)


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
