"""Solving a plan model and reading its decisions back as arrays."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import highspy
import numpy as np

from pacer.errors import SolverError, UnprovenPlanError
from pacer.pipeline import first_live_quarter
from pacer.plan.model import MUSD, PlanModel, build_model
from pacer.plan.problem import PlanProblem, fleet_and_book

logging.getLogger("linopy").setLevel(logging.WARNING)


@dataclass
class Decisions:
    """Decisions on the problem's tree: retained share (project, node), completed share per stage
    (project, stage, node), GPUs bought (generation, region, node) and the share dropped from each
    level (project, level, node; levels are the stages then live), ``None`` where the least advanced
    shares go first."""

    keep: np.ndarray
    completed: np.ndarray
    buy_kgpu: np.ndarray
    dropped: np.ndarray | None = None

    @classmethod
    def from_levels(cls, share: np.ndarray, buy_kgpu: np.ndarray, dropped: np.ndarray | None) -> Decisions:
        """From the share at each level (project, level, node)."""
        share = np.clip(share, 0, None)
        above = np.cumsum(share[:, ::-1], axis=1)[:, ::-1]  # share at this level or beyond
        return cls(keep=_snap(above[:, 0]), completed=_snap(above[:, 1:]), buy_kgpu=np.maximum(buy_kgpu, 0),
                   dropped=None if dropped is None else _snap(dropped))


#: Shares within this of 0 or 1 are solver residues (interior point leaves about 1e-9): 1e-6 of a 1 GW
#: campus is 1 kW.
SHARE_RESIDUE = 1e-6


def _snap(share: np.ndarray) -> np.ndarray:
    """Shares clipped to [0, 1] with residues within :data:`SHARE_RESIDUE` of 0 or 1 made exact."""
    out = np.clip(share, 0, 1)
    return np.where(out < SHARE_RESIDUE, 0.0, np.where(out > 1 - SHARE_RESIDUE, 1.0, out))


@dataclass
class SolveOutcome:
    status: str  # optimal | time_limit | infeasible | ...
    objective_usd: float
    bound_usd: float
    mip_gap: float
    build_seconds: float
    solve_seconds: float
    decisions: Decisions
    model: PlanModel | None  # None when the plan comes from the decomposed engine
    engine: str = "extensive"
    workers: int = 1


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence what native solvers print on file descriptor 1 (their banners), so JSON stays clean."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):  # captured streams in tests: nothing to do
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def _explain_infeasible(problem: PlanProblem) -> str:
    """A user-terms reason for infeasibility, from the checks that can fail: the GPUs owned and ordered
    need more facility power in some region and quarter than its projects can have live by then."""
    p = problem
    frame = p.pipeline.frame
    n_q = len(p.quarters)
    least_fleet, _ = fleet_and_book(p, p.orders_kgpu[..., :n_q])  # generation, region, quarter
    need_mw = (least_fleet * p.generations.it_mw_per_kgpu.to_numpy()[:, None, None]).sum(0) * p.pue[:, None]
    can_be_live = first_live_quarter(frame.remaining_quarters.to_numpy())[:, None] <= np.arange(n_q)[None, :]
    region_of = frame.region.to_numpy()[:, None] == np.array(p.regions)[None, :]
    most_live_mw = np.einsum("jq,j,jr->rq", can_be_live, frame.power_mw.to_numpy(), region_of)
    short = need_mw - most_live_mw > 1e-6
    if short.any():
        r, k = np.argwhere(short)[0]
        return (f"provider.fleet: the GPUs owned and ordered in region {p.regions[r]} need {need_mw[r, k]:,.0f} MW "
                f"at {p.quarters[k]} but at most {most_live_mw[r, k]:,.0f} MW can be live there by then "
                "(constraint family power_fits_live_mw)")
    return "the model has no feasible plan (check provider.fleet against live projects)"


#: Above this many constraints an LP is solved by interior point without crossover (HiGHS IPX): on the
#: planner's tree LPs it is several times faster than dual simplex (docs/formulation.md, "Solving").
IPM_FROM_ROWS = 20_000


class SolverProgress:
    """Reads HiGHS's log while it solves (the log goes to a file, never to stdout) and reports, every
    ``period_s``, how far it is: iterations so far and, for interior point, the relative gap between its
    primal and dual objectives. Used for the plan's progress on the web and in the CLI."""

    ITERATION = re.compile(r"^\s*(\d+)\s+([-+0-9.eE]+)(?:\s+([-+0-9.eE]+))?(?:\s+([-+0-9.eE]+))?"
                           r"(?:\s+([-+0-9.eE]+))?")

    def __init__(self, report: Callable[[str], None], period_s: float = 2.0) -> None:
        self.report = report
        self.period_s = period_s
        self.path = Path(tempfile.mkstemp(prefix="pacer-highs-", suffix=".log")[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = time.perf_counter()

    def __enter__(self) -> SolverProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.path.unlink(missing_ok=True)

    def _run(self) -> None:
        last = ""
        while not self._stop.wait(self.period_s):
            text = self.summary()
            if text and text != last:
                self.report(text)
                last = text

    def summary(self) -> str:
        """Where the solve stands, from the log so far ("" before the first iteration line)."""
        try:
            lines = self.path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        elapsed = time.perf_counter() - self._started
        for line in reversed(lines):
            match = self.ITERATION.match(line)
            if not match:
                continue
            iterations = int(match.group(1))
            numbers = [float(g) for g in match.groups()[1:] if g is not None and _is_float(g)]
            text = f"solver: {iterations:,} iterations, {elapsed:,.0f} s"
            if len(numbers) >= 4 and "ipx" in " ".join(lines[:40]).lower():  # iter, p.res, d.res, p.obj, d.obj
                primal, dual = numbers[2], numbers[3]
                gap = abs(primal - dual) / max(abs(primal), abs(dual), 1e-9)
                text += f", primal-dual gap {gap:.1%}"
            return text
        return ""


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def solve_problem(
    problem: PlanProblem,
    *,
    solver: str = "highs",
    time_limit_s: float = 60.0,
    mip_gap: float = 0.01,
    method: str = "auto",
    on_progress: Callable[[str], None] | None = None,
) -> SolveOutcome:
    """Build and solve; returns status, objective, bound, gap, timings and the decisions.

    ``method`` (HiGHS only): ``simplex``, ``ipm`` (interior point, no crossover) or ``auto`` (interior
    point from :data:`IPM_FROM_ROWS` constraints). The bound is the solver's dual objective, so the gap
    is certified; a solve stopped before any feasible plan raises :class:`SolverError`.
    """
    start = time.perf_counter()
    groups = problem.pipeline.alike_groups()
    alike = int(groups.max()) + 1 < len(groups)
    solved_problem = replace(problem, pipeline=problem.pipeline.aggregate(groups)) if alike else problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pm = build_model(solved_problem)
    built = time.perf_counter() - start
    m = pm.model
    options: dict[str, Any] = {"time_limit": max(time_limit_s, 1e-3), "progress": False}
    is_mip = bool(len(m.integers) or len(m.binaries))
    if solver == "highs":
        options |= {"mip_rel_gap": mip_gap, "output_flag": False, "io_api": "direct"}
        if not is_mip and (method == "ipm" or (method == "auto" and m.constraints.ncons >= IPM_FROM_ROWS)):
            options |= {"solver": "ipx", "run_crossover": "off"}
    progress = SolverProgress(on_progress) if on_progress is not None and solver == "highs" else None
    if progress is not None:
        options |= {"output_flag": True, "log_to_console": False, "log_file": str(progress.path)}
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(), quiet_stdout(), progress or contextlib.nullcontext():
            warnings.simplefilter("ignore")
            _, condition = m.solve(solver_name=solver, **options)
    except Exception as exc:  # solver not installed, licence, ...
        raise SolverError(f"planning.solver: {solver!r} failed: {exc}".splitlines()[0]) from exc
    solved = time.perf_counter() - start
    condition = str(condition)
    if condition in ("infeasible", "infeasible_or_unbounded"):
        raise SolverError(f"plan infeasible: {_explain_infeasible(problem)}")
    if condition == "unbounded":
        raise SolverError("plan unbounded: check that prices are finite and demand is bounded")
    value = m.objective.value
    if value is None or math.isnan(value) or (condition != "optimal" and not is_mip):
        # An LP stopped early has no feasible plan to offer (dual simplex and interior point are
        # primal infeasible until they finish).
        raise UnprovenPlanError(f"plan not proven: status {_status_name(condition)}, no feasible plan, gap unknown, "
                                f"{solved:.0f} s used; raise --time-limit (now {time_limit_s:g} s) or plan fewer "
                                "leaves (--leaves)")
    objective = float(value) * MUSD
    bound, gap = _certified_bound(m, objective, is_mip)
    status_text = _status_name(condition)
    sol = lambda name: m.variables[name].solution.to_numpy()  # noqa: E731
    decisions = Decisions.from_levels(sol("share"), sol("buy_kgpu"), sol("dropped"))
    if alike:  # every member of a group of alike projects takes its group's shares
        decisions = replace(decisions, keep=decisions.keep[groups], completed=decisions.completed[groups],
                            dropped=None if decisions.dropped is None else decisions.dropped[groups])
    return SolveOutcome(status=status_text, objective_usd=objective, bound_usd=bound, mip_gap=gap,
                        build_seconds=built, solve_seconds=solved, decisions=decisions, model=pm)


def _status_name(condition: str) -> str:
    return "optimal" if condition == "optimal" else ("time_limit" if "time" in condition else condition)


def check_proven(outcome: SolveOutcome, mip_gap: float, accept_gap: float | None = None) -> str:
    """The plan's status if its certified gap is within ``mip_gap`` ("optimal") or within the gap a user
    accepted knowingly ("accepted_gap"); otherwise :class:`UnprovenPlanError` (one line, exit 3)."""
    gap = outcome.mip_gap
    if outcome.status == "optimal" and gap <= mip_gap + 1e-12:
        return "optimal"
    if accept_gap is not None and gap == gap and gap <= accept_gap:
        return "accepted_gap"
    shown = "unknown" if gap != gap else f"{gap:.2%}"
    raise UnprovenPlanError(
        f"plan not proven: status {outcome.status}, best gap {shown} (asked {mip_gap:.2%}), "
        f"{outcome.solve_seconds:.0f} s used; raise --time-limit, or take this gap knowingly with --accept-gap")


def relative_gap(objective: float, bound: float) -> float:
    """|bound - objective| relative to the objective (NaN when either is unknown)."""
    if not (math.isfinite(objective) and math.isfinite(bound)):
        return math.nan
    return abs(bound - objective) / max(abs(objective), 1.0)


def _lp_dual_objective(h: Any) -> float:
    """The dual objective of HiGHS's LP at its dual solution: each row and column dual times the bound
    it prices (lower where the dual is positive in the minimising sense, else upper). Duals on infinite
    bounds must vanish (within tolerance) for the value to bound the optimum; otherwise NaN."""
    lp, sol = h.getLp(), h.getSolution()
    if not sol.dual_valid:
        return math.nan
    sense = -1.0 if h.getObjectiveSense()[1] == highspy.ObjSense.kMaximize else 1.0
    total = lp.offset_
    for dual, lower, upper in ((sol.row_dual, lp.row_lower_, lp.row_upper_),
                               (sol.col_dual, lp.col_lower_, lp.col_upper_)):
        y = sense * np.asarray(dual)
        bound = np.where(y > 0, np.asarray(lower), np.asarray(upper))
        finite = np.isfinite(bound)
        if np.abs(y[~finite]).max(initial=0.0) > 1e-6:
            return math.nan
        total += sense * float(np.dot(y[finite], bound[finite]))
    return total


def _certified_bound(m: Any, objective_usd: float, is_mip: bool) -> tuple[float, float]:
    """The solver's proven bound on the maximum (USD) and the relative gap to ``objective_usd``: the MIP
    dual bound, or an LP's dual objective value; the objective itself where the solver tells nothing."""
    h = getattr(m, "solver_model", None)
    if h is None or not hasattr(h, "getInfo"):
        return objective_usd, 0.0
    dual = h.getInfo().mip_dual_bound if is_mip else _lp_dual_objective(h)
    if not math.isfinite(dual):
        return math.nan, math.nan
    bound = float(dual) * MUSD
    # The model maximises; a bound below the objective is the solver's tolerance, not a better plan.
    bound = max(bound, objective_usd)
    return bound, relative_gap(objective_usd, bound)
