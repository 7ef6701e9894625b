"""Numbers for people: the one formatting layer of CLI tables, pages, reports and chart hovers.

Money reads in $M/$B, power in MW/GW, shares in %, latency in ms, compute in H100e; never scientific
notation; values within :data:`ZERO` of zero read 0 (a solver's -1.1e-13 MW is 0 MW). The unit of a
column or metric comes from its name, as pacer names things (``capex_usd``, ``power_mw``,
``inference_share``, ``tpot_s``, ``ttft_ms``): :func:`unit_of`. Colours are fixed per provider, scenario
and policy so that one party reads in one colour on every chart: :func:`colour`.

Kept outside ``pacer.report`` on purpose: result objects of every layer print summaries through it, and
no layer may import ``report``.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

#: Below this magnitude a value reads 0.
ZERO = 1e-9

_NEGATIVE_ZERO = re.compile(r"-\$?0(?:\.0*)?(?![\d.,])")
_PERCENTILE = re.compile(r"_p\d{1,2}$")
_YEAR = re.compile(r"_(19|20)\d\d(q[1-4])?$")
_SECONDS = ("_s", "_seconds", "seconds")
_NAMED_UNITS: tuple[tuple[str, str], ...] = (
    # (suffix or word in the name, unit), first match wins; names are pacer's snake_case with the unit last.
    ("usd_per_million", "USD/Mtok"),
    ("usd_per_h100e_hour", "USD/h"),
    ("_usd_per_hour", "USD/h"),
    ("_usd_per_mwh", "USD/MWh"),
    ("_mwh", "MWh"),
    ("_usd", "USD"),
    ("usd", "USD"),
    ("_gw", "GW"),
    ("_mw", "MW"),
    ("_kw", "kW"),
    ("_ms", "ms"),
    ("share", "share"),
    ("utilisation", "share"),
    ("utilization", "share"),
    ("probability", "share"),
    ("gap", "share"),
    ("_fraction", "share"),
    ("_rate", "share"),
    ("kh100e", "kH100e"),
    ("h100e", "H100e"),
    ("kgpu", "kGPU"),
    ("_gb", "GB"),
    ("_tbps", "TB/s"),
    ("_gbps", "GB/s"),
    ("tokens_per_s", "tok/s"),
    ("_w", "W"),
)


def unit_of(name: str) -> str:
    """The unit a pacer name carries (``mean_npv_usd`` -> ``USD``, ``ttft_s`` -> ``s``); ``""`` if none."""
    key = _PERCENTILE.sub("", _YEAR.sub("", name.lower().strip()))
    if "_per_" in key and not key.startswith("usd_per") and "_usd_per_" not in key and not key.endswith(
            "tokens_per_s"):
        return ""  # a ratio (h100e_per_mw, tokens_per_usd): not the unit of its last word
    if key.endswith(_SECONDS) and not key.endswith("tokens_per_s"):
        return "s"
    for token, unit in _NAMED_UNITS:
        if ("_" + key).endswith(token) or (not token.startswith("_") and token in key):
            return unit
    return ""


def is_zero(value: float) -> bool:
    return abs(value) < ZERO


def plain_number(value: float, digits: int = 3) -> str:
    """A number without a unit, never in scientific notation: thousands separated, about ``digits``
    significant digits below 100, whole above (``1,680,000``, ``0.294``, ``0.00012``)."""
    v = float(value)
    if not math.isfinite(v):
        return "-"
    if is_zero(v):
        return "0"
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    decimals = max(0, digits - 1 - math.floor(math.log10(a)))
    text = f"{v:,.{min(decimals, 12)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def quantity(value: Any, unit: str = "") -> str:
    """``value`` in ``unit`` for people (:func:`_quantity`), never "-0": a negative that rounds to zero
    reads without its sign."""
    text = _quantity(value, unit)
    return text[1:] if _NEGATIVE_ZERO.match(text) else text


def _quantity(value: Any, unit: str = "") -> str:
    """``value`` in ``unit`` for people: ``$2.3B``, ``1.68 GW``, ``29%``, ``59 ms``, ``1.2M H100e``.

    ``unit`` is one of pacer's: USD, MW, GW, kW, share, s (shown in ms below a minute), ms, kH100e, H100e,
    GPUs, kGPU, quarter, or any text appended as is. ``None``, NaN and infinity read ``-``."""
    if value is None:
        return "-"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, str) or unit == "quarter":
        return str(value)
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, int | float):
        return str(value)
    v = float(value)
    if not math.isfinite(v):
        return "-"
    if is_zero(v):
        v = 0.0
    sign = "-" if v < 0 else ""
    a = abs(v)
    if unit == "USD":
        if a >= 999.5e6:  # what would read "$1,000M" reads "$1.0B"
            return f"{sign}${a / 1e9:,.1f}B"
        if a >= 999_500:
            return f"{sign}${a / 1e6:,.0f}M"
        if a >= 9.995 or a < 0.005:
            return f"{sign}${a:,.0f}" if a >= 0.5 else "$0"
        return f"{sign}${a:,.2f}"
    if unit in ("MW", "GW", "kW"):
        mw = a * {"MW": 1.0, "GW": 1e3, "kW": 1e-3}[unit]
        if mw >= 999.5:
            return f"{sign}{mw / 1e3:,.2f} GW"
        if mw >= 0.9995 or mw == 0:
            return f"{sign}{mw:,.0f} MW"
        return f"{sign}{plain_number(mw * 1e3)} kW"
    if unit == "share":
        pct = v * 100
        return f"{pct:,.0f}%" if abs(pct) >= 10 or pct == 0 else f"{plain_number(pct, 2)}%"
    if unit in ("s", "ms"):
        ms = a * (1e3 if unit == "s" else 1.0)
        if ms >= 3_599_500:
            return f"{sign}{ms / 3.6e6:,.1f} h"
        if ms >= 59_950:
            return f"{sign}{ms / 1e3:,.0f} s"
        if ms >= 999.5:
            return f"{sign}{ms / 1e3:,.1f} s"
        return f"{sign}{plain_number(ms)} ms"
    if unit == "kH100e":
        return f"{sign}{a / 1e3:,.2f}M H100e" if a >= 999.5 else f"{sign}{plain_number(a)}k H100e"
    if unit == "H100e":
        return f"{sign}{a / 1e6:,.2f}M H100e" if a >= 999_500 else f"{sign}{a:,.0f} H100e"
    if unit == "kGPU":
        return f"{sign}{a / 1e3:,.2f}M GPUs" if a >= 999.5 else f"{sign}{plain_number(a)}k GPUs"
    if unit == "GPUs":
        return f"{sign}{a:,.0f}"
    if unit == "USD/Mtok":
        return f"{sign}${plain_number(a)}/Mtok"
    if unit == "USD/h":
        return f"{sign}${plain_number(a)}/h"
    text = plain_number(v)
    return f"{text} {unit}".strip()


_SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def power_of_ten(value: float, digits: int = 3) -> str:
    """A very large or small count for people: ``5.46 × 10²²`` (below a million: :func:`plain_number`)."""
    v = float(value)
    if not math.isfinite(v) or is_zero(v) or 1e-3 <= abs(v) < 1e6:
        return plain_number(v, digits)
    exponent = math.floor(math.log10(abs(v)))
    mantissa = round(v / 10.0 ** exponent, digits - 1)
    if abs(mantissa) >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:.{digits - 1}f} \u00d7 10{str(exponent).translate(_SUPERSCRIPT)}"


def number(value: Any) -> str:
    """A value of unknown unit: integers with separators, floats as :func:`plain_number`."""
    if isinstance(value, bool) or value is None:
        return "-" if value is None else ("yes" if value else "no")
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        return plain_number(float(value))
    return str(value)


#: Columns that hold labels written as numbers (a year reads 2025, not 2,025).
_IDENTIFIERS = ("year", "quarter", "node", "seed", "leaf", "id", "index", "position", "rank")


def cell(name: str, value: Any) -> str:
    """``value`` of the column or metric ``name``, in the unit its name carries."""
    if isinstance(value, bool | str) or value is None:
        return quantity(value)
    if str(name).lower().split("_")[-1] in _IDENTIFIERS and isinstance(value, int | float | np.number) and (
            float(value).is_integer()):
        return str(int(value))
    unit = unit_of(name)
    if not unit and isinstance(value, int | np.integer):
        return number(value)
    return quantity(value, unit) if unit else number(value)


_WORDS = {"usd": "", "mw": "", "gw": "", "ms": "", "s": "", "npv": "NPV", "cvar": "CVaR", "kh100e": "kH100e",
          "h100e": "H100e", "gpus": "GPUs", "gpu": "GPU", "tpot": "TPOT", "ttft": "TTFT", "mip": "MIP",
          "pue": "PUE", "kv": "KV", "tp": "TP", "pp": "PP", "ep": "EP", "id": "id", "hbm": "HBM", "gb": "",
          "mtok": "Mtok", "ai": "AI", "eu": "EU", "us": "US", "mwh": "", "kgpu": "kGPU"}


_UNIT_WORDS = {"usd": "USD", "mw": "MW", "gw": "GW", "gb": "GB", "mwh": "MWh", "s": "s", "ms": "ms"}


def label(name: str) -> str:
    """A column or metric name for people: ``mean_npv_usd`` -> ``mean NPV``, ``facility_mw_2027`` ->
    ``facility 2027`` (the unit goes: it is in the cell)."""
    text = str(name)
    year = _YEAR.search(text.lower())
    base = text[: year.start()] if year else text
    parts = [p for p in re.split(r"[_\s]+", base) if p]
    if len(parts) > 1 and _WORDS.get(parts[-1].lower()) == "" and parts[-2].lower() != "per":
        parts = parts[:-1]
    words = [_WORDS.get(p.lower()) or _UNIT_WORDS.get(p.lower(), p) for p in parts]
    if year:
        words.append(text[year.start() + 1:])
    return " ".join(words)


# -- colours ---------------------------------------------------------------------------------------
#: A qualitative palette (colour-blind safe first eight: Okabe-Ito, then Tableau).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
           "#4E79A7", "#F28E2B", "#59A14F", "#E15759", "#B07AA1", "#76B7B2", "#EDC948", "#9C755F")
#: Policies always read in these colours (pacer's stochastic plan blue, perfect foresight grey).
POLICY_COLOURS = {"stochastic": "#0072B2", "deterministic": "#E69F00", "build_all": "#D55E00",
                  "never_build": "#7f7f7f", "perfect_foresight": "#009E73", "rolling_stochastic": "#56B4E9",
                  "rolling_deterministic": "#CC79A7"}
#: Workloads and pipeline stages.
WORKLOAD_COLOURS = {"training": "#0072B2", "inference": "#D55E00", "total": "#3c3c3c"}
STAGE_COLOURS = {"land": "#d9d9d9", "permits": "#bdbdbd", "shell": "#9ecae1", "power": "#6baed6",
                 "fit-out": "#3182bd", "live": "#2ca02c"}
ACTION_COLOURS = {"advance": "#2ca02c", "pace": "#E69F00", "pause": "#7f7f7f", "cancel": "#D55E00"}


def colour(name: str, names: list[str] | tuple[str, ...] | None = None) -> str:
    """The colour of ``name`` among ``names`` (a scenario's providers, a tree's scenarios): its position in
    ``names`` picks the palette entry, so one party has one colour on every chart of a run. Without
    ``names`` (or when absent from it), a stable hash of the name picks it."""
    if name in POLICY_COLOURS:
        return POLICY_COLOURS[name]
    if names is not None and name in names:
        return PALETTE[list(names).index(name) % len(PALETTE)]
    digest = sum((i + 1) * ord(ch) for i, ch in enumerate(name))
    return PALETTE[digest % len(PALETTE)]


# -- charts ----------------------------------------------------------------------------------------
#: d3 formats: hovers to four significant digits with separators, never SI (no "50.29445k").
HOVER_FORMAT = ",.4~r"
_ARRAY_KEYS = ("x", "y", "z", "base")


def for_people(fig: Any) -> Any:
    """Tidy a plotly figure for people: residues within :data:`ZERO` set to 0 in every trace's data, hover
    numbers without SI suffixes, quarter axes readable (horizontal labels, at most ~12 ticks). Returns the
    figure (changed in place)."""
    for trace in fig.data:
        for key in _ARRAY_KEYS:
            values = getattr(trace, key, None)  # not every trace type has every key
            if values is None or isinstance(values, str):
                continue
            try:
                numeric = np.asarray(values, dtype=float)  # labels (quarters, names) are not numbers: skipped
            except (TypeError, ValueError):
                continue
            residue = (np.abs(numeric) < ZERO) & (numeric != 0)
            if residue.any():
                trace[key] = np.where(residue, 0.0, numeric)
    fig.update_xaxes(hoverformat=HOVER_FORMAT, tickangle=0, automargin=True)
    fig.update_yaxes(hoverformat=HOVER_FORMAT, automargin=True, separatethousands=True)
    for axis in fig.select_xaxes():
        if axis.type in (None, "-", "category") and _quarter_like(fig):
            axis.nticks = 12
    return fig


def _quarter_like(fig: Any) -> bool:
    for trace in fig.data:
        xs = getattr(trace, "x", None) if "x" in trace else None
        if xs is not None and len(xs) and isinstance(xs[0], str) and re.fullmatch(r"\d{4}Q[1-4]", xs[0]):
            return True
    return False
