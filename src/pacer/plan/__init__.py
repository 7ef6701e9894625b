"""Plan and pace a datacenter pipeline: a stochastic optimisation over the demand tree."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pacer.demand.forecast import demand_paths, forecast
from pacer.errors import InputError
from pacer.plan.evaluate import evaluate
from pacer.plan.problem import PlanProblem, build_problem
from pacer.plan.result import PlanResult, decision_table, plan_dataset
from pacer.plan.rolling import RollingSettings
from pacer.plan.solve import SolveOutcome, check_proven, solve_problem
from pacer.runner import Executor
from pacer.scenario import Scenario, load_scenario

__all__ = ["ENGINES", "PlanProblem", "PlanResult", "SolveOutcome", "build_problem", "plan", "solve_problem"]

#: How a plan is solved: one LP over the whole tree, by scenario decomposition, or chosen by size.
ENGINES = ("auto", "extensive", "decomposed")
#: Rows of the extensive form beyond which ``auto`` decomposes (when mpi-sppy is installed): about where
#: one LP stops fitting a 24 GB machine and ten minutes (benchmarks/plan_scaling.py, docs/scale.md).
EXTENSIVE_MAX_ROWS = 2_000_000


def extensive_rows(problem: PlanProblem) -> int:
    """Rows of the extensive form after alike projects are grouped: one balance row per (group, level,
    node) and a pace row per (group, node), plus the fleet and demand rows."""
    groups = int(problem.pipeline.alike_groups().max()) + 1
    levels = problem.pipeline.stages.sizes["stage"] + 1
    per_node = groups * (levels + 1) + len(problem.generations) * len(problem.regions) * 2 + 3 * len(problem.regions)
    return per_node * len(problem.nodes)


def decomposition_available() -> bool:
    try:
        from pacer.plan.decompose import mpi_command

        mpi_command(1)
    except InputError:
        return False
    return True


def check_plan_options(engine: str, workers: int, accept_gap: float | None) -> None:
    """One-line errors for the planning options (the CLI's flags and the API's arguments)."""
    if engine not in ENGINES:
        raise InputError("engine", engine, f"must be one of {', '.join(ENGINES)}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError("workers", workers, "must be a whole number >= 1")
    if accept_gap is not None and not 0 <= accept_gap < 1:
        raise InputError("accept_gap", accept_gap, "must be in [0, 1)")
    if engine == "decomposed":
        from pacer.plan.decompose import mpi_command

        mpi_command(workers)  # one line saying how to install, when mpi-sppy or MPI is missing


def plan(
    scenario: Scenario | str | Path,
    *,
    leaves: int | None = None,
    evaluate_out_of_sample: bool = True,
    evaluation_paths: int | None = None,
    perfect_foresight_paths: int | None = None,
    solver: str | None = None,
    time_limit_s: float | None = None,
    cvar_weight: float | None = None,
    engine: str = "auto",
    workers: int = 1,
    accept_gap: float | None = None,
    executor: str | Executor | None = None,
    rolling_paths: int | None = None,
    on_step: Callable[[str], None] | None = None,
) -> PlanResult:
    """Plan the provider's pipeline against the scenario's demand tree, and judge it out of sample.

    Parameters
    ----------
    leaves
        Scenarios of the planning tree (default ``provider.planning.leaves``, else the demand's).
    evaluate_out_of_sample
        Score the plan and the simple policies on fresh demand paths (``provider.evaluation``).
    solver, time_limit_s, cvar_weight
        Override ``provider.planning`` / ``provider.cvar``.
    engine
        ``extensive`` (one LP over the whole tree), ``decomposed`` (scenario decomposition on mpi-sppy
        under MPI: progressive hedging with a Lagrangian bound; needs ``pacer[mpi]``) or ``auto``
        (decomposed beyond :data:`EXTENSIVE_MAX_ROWS` rows when mpi-sppy is installed).
    workers, executor
        Where the evaluation's independent solves run (:mod:`pacer.runner`): by default in this process
        for one worker, else a pool of ``workers`` processes; ``executor="ray"`` uses Ray. Results do not
        depend on it. With ``engine="decomposed"``, ``workers`` MPI ranks per cylinder as well.
    rolling_paths
        Evaluation paths on which the re-planning policies run (default ``provider.evaluation``).
    accept_gap
        Take a plan whose certified gap exceeds ``planning.mip_gap`` but not this (its status then
        reads ``accepted_gap``); without it such a plan raises :class:`UnprovenPlanError` (exit 3).

    Returns
    -------
    PlanResult
        Status, objective, bound, gap and timings; decisions per project and node; expected
        trajectories (``.dataset``); ``.evaluation`` per policy.
    """
    check_plan_options(engine, workers, accept_gap)
    s = load_scenario(scenario) if isinstance(scenario, str | Path) else scenario
    if s.provider is None:
        raise InputError("provider", None, "the scenario needs a provider section to plan")
    step = on_step or (lambda _: None)
    cfg = s.provider.planning
    n_leaves = leaves or cfg.leaves or s.demand.uncertainty.leaves
    step("forecasting demand")
    demand = forecast(s, leaves=n_leaves)
    problem = build_problem(s, demand)
    if cvar_weight is not None and cvar_weight < 0:
        raise InputError("cvar_weight", cvar_weight, "must be >= 0")
    if cvar_weight is not None:
        problem = problem.with_cvar_weight(cvar_weight)
    chosen = engine
    if engine == "auto":
        chosen = "decomposed" if extensive_rows(problem) > EXTENSIVE_MAX_ROWS and decomposition_available() \
            else "extensive"
    how = " (chosen by size)" if engine == "auto" else ""
    solver_name, limit = solver or cfg.solver, time_limit_s or cfg.time_limit_s
    if chosen == "decomposed":
        from pacer.plan.decompose import solve_decomposed

        # mpi-sppy's multistage trees are balanced: the same problem on a balanced tree.
        balanced = build_problem(s, forecast(s, leaves=n_leaves, balanced=True))
        problem = problem.with_demand(balanced.nodes, balanced.demand_kh100e)
        step(f"solving the stochastic plan: mpi-sppy on {len(problem.leaves)} scenarios x "
             f"{len(problem.pipeline.frame)} projects, {3 * workers} MPI ranks (engine decomposed{how})")
        outcome = solve_decomposed(problem, workers=workers, time_limit_s=limit, mip_gap=cfg.mip_gap)
    else:
        step(f"solving the stochastic plan: one LP over {len(problem.nodes)} nodes x "
             f"{len(problem.pipeline.frame)} projects (engine extensive{how})")
        outcome = solve_problem(problem, solver=solver_name, time_limit_s=limit, mip_gap=cfg.mip_gap,
                                on_progress=on_step)
    outcome.status = check_proven(outcome, cfg.mip_gap, accept_gap)
    outcome.engine, outcome.workers = chosen, workers
    evaluation = {}
    if evaluate_out_of_sample:
        ev = s.provider.evaluation
        n_paths = evaluation_paths or ev.paths
        step("sampling fresh demand paths")
        fresh = demand_paths(s, n_paths, seed=ev.seed + 10_007) / 1e3
        rolling_paths = ev.rolling_paths if rolling_paths is None else rolling_paths
        # The bank a re-planning policy draws its expectations from (never the evaluation paths).
        bank = demand_paths(s, max(s.demand.uncertainty.paths, 200), seed=ev.seed + 20_011) / 1e3 if rolling_paths \
            else None
        rolling = RollingSettings(epoch_quarters=ev.rolling_epoch_quarters, leaves=ev.rolling_leaves,
                                  solver=solver_name, time_limit_s=limit, mip_gap=cfg.mip_gap)
        evaluation = evaluate(problem, outcome.decisions, fresh,
                              perfect_foresight_paths=(ev.perfect_foresight_paths if perfect_foresight_paths is None
                                                       else perfect_foresight_paths),
                              solver=solver_name, time_limit_s=limit, mip_gap=cfg.mip_gap, on_step=step,
                              executor=executor or ("local" if workers == 1 else "processes"), workers=workers,
                              rolling_paths=rolling_paths, bank_kh100e=bank, rolling=rolling)
    table = decision_table(problem, outcome)
    return PlanResult(scenario=s, problem=problem, outcome=outcome, decisions=table,
                      dataset=plan_dataset(problem, outcome), evaluation=evaluation)
