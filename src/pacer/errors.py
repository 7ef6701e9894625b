"""Errors that reach users.

Every error pacer raises on purpose is a :class:`PacerError` whose message is one line naming the
field and the offending value, e.g. ``projects[3].power_mw: must be > 0, got -5``. The CLI prints the
message and exits with status 2; the web API answers 422.
"""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Iterable

__all__ = ["CatalogError", "InputError", "PacerError", "SolverError", "UnprovenPlanError", "did_you_mean",
           "short_repr"]

_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlevel = 60, 60, 3
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 4


def short_repr(value: object) -> str:
    """``repr`` cut to a line: a message never carries a whole (possibly huge) input."""
    return _SHORT.repr(value)


class PacerError(Exception):
    """Base class of every user-facing pacer error (one-line message)."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class InputError(PacerError):
    """A user-supplied value is invalid; the message names the field and the value."""

    def __init__(self, field: str, value: object, problem: str) -> None:
        self.field = field
        self.value = value
        super().__init__(f"{field}: {problem}, got {short_repr(value)}")


class CatalogError(PacerError):
    """A catalog file (facts as data) is malformed."""


class SolverError(PacerError):
    """An optimisation could not produce a usable answer."""


class UnprovenPlanError(SolverError):
    """No plan was proven within the gap asked for (the solver stopped first). The CLI exits 3: the
    input was fine, the answer is not there yet."""

    exit_code = 3


def did_you_mean(value: str, choices: Iterable[str], n: int = 3) -> str:
    """Return a short hint listing the closest ``choices`` to ``value``.

    Falls back to listing every choice when none is close.
    """
    options = sorted(choices)
    close = difflib.get_close_matches(value, options, n=n, cutoff=0.5)
    if close:
        return "did you mean " + ", ".join(close) + "?"
    return "known: " + ", ".join(options)
