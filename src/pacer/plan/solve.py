"""Solving a plan model and reading its decisions back as arrays."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from pacer.errors import SolverError
from pacer.plan.model import MUSD, PlanModel, build_model
from pacer.plan.problem import PlanProblem

logging.getLogger("linopy").setLevel(logging.WARNING)


@dataclass
class Decisions:
    """Decisions on the problem's tree: retained share (project, node), completed share per stage
    (project, stage, node) and GPUs bought (generation, region, node)."""

    keep: np.ndarray
    completed: np.ndarray
    buy_kgpu: np.ndarray


@dataclass
class SolveOutcome:
    status: str  # optimal | time_limit | infeasible | ...
    objective_usd: float
    bound_usd: float
    mip_gap: float
    build_seconds: float
    solve_seconds: float
    decisions: Decisions
    model: PlanModel


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
    """A user-terms reason for infeasibility, from the checks that can fail."""
    frame = problem.pipeline.frame
    gens = problem.generations
    for r, region in enumerate(problem.regions):
        live = frame[(frame.region == region) & (frame.remaining_quarters <= 0)].power_mw.sum()
        need = float((problem.init_fleet_kgpu[:, r] * gens.it_mw_per_kgpu.to_numpy()).sum() * problem.pue[r])
        if need > live + 1e-6:
            return (f"provider.fleet: the GPUs in region {region} need {need:,.0f} MW at {problem.quarters[0]} "
                    f"but only {live:,.0f} MW is live there (constraint family power_fits_live_mw)")
    return "the model has no feasible plan (check provider.fleet against live projects)"


def solve_problem(
    problem: PlanProblem,
    *,
    solver: str = "highs",
    time_limit_s: float = 60.0,
    mip_gap: float = 0.01,
) -> SolveOutcome:
    """Build and solve; returns status, objective, bound, gap, timings and the decisions."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pm = build_model(problem)
    built = time.perf_counter() - start
    m = pm.model
    options: dict[str, Any] = {"time_limit": time_limit_s, "progress": False}
    if solver == "highs":
        options |= {"mip_rel_gap": mip_gap, "output_flag": False, "io_api": "direct"}
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(), quiet_stdout():
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
    if value is None or math.isnan(value):
        raise SolverError(f"planning: solver stopped ({condition}) before finding any plan; "
                          f"raise planning.time_limit_s (now {time_limit_s:g})")
    objective = float(value) * MUSD
    bound, gap = objective, 0.0
    if len(m.integers) or len(m.binaries):  # a MIP (a user's extension): read its bound
        info = getattr(m, "solver_model", None)
        info = info.getInfo() if info is not None and hasattr(info, "getInfo") else None
        if info is not None and math.isfinite(info.mip_dual_bound):
            bound = float(info.mip_dual_bound) * MUSD
            gap = abs(bound - objective) / max(abs(objective), 1e-9)
    status_text = "optimal" if condition == "optimal" else ("time_limit" if "time" in condition else condition)
    if status_text != "optimal" and bound == objective:
        bound, gap = math.nan, math.nan  # an interrupted LP proves no bound: the gap is unknown
    sol = lambda name: m.variables[name].solution.to_numpy()  # noqa: E731
    decisions = Decisions(keep=np.clip(sol("keep"), 0, 1), completed=np.clip(sol("completed"), 0, 1),
                          buy_kgpu=np.maximum(sol("buy_kgpu"), 0))
    return SolveOutcome(status=status_text, objective_usd=objective, bound_usd=bound, mip_gap=gap,
                        build_seconds=built, solve_seconds=solved, decisions=decisions, model=pm)
