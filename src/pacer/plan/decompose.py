"""Scenario decomposition on mpi-sppy: the plan's tree written at a file boundary, solved under MPI.

The extensive form (one LP over the whole tree, :mod:`pacer.plan.solve`) is exact and, on one machine,
the fastest way to a proven plan up to the sizes measured in ``benchmarks/plan_scaling.py``. Beyond,
the tree is split by scenario and handed to mpi-sppy's progressive hedging hub with a Lagrangian bound
spoke (a certified outer bound) and an ``xhatshuffle`` incumbent spoke (a feasible, non-anticipative
plan), through its loose "agnostic" interface:

* one MPS file per leaf scenario: the planning problem on that leaf's path (a chain), written by linopy
  (through HiGHS) from the same model as the extensive form, so the two cannot drift apart;
* one JSON per scenario naming, for each tree node before the last branching, the variables that must
  agree across the scenarios through that node (every project's shares, progress and drops, and the
  GPUs bought, in the node's quarters) and the node's conditional probability.

``mpiexec -n 3W python -m mpi4py -m mpisppy.generic_cylinders --mps-files-directory DIR ...`` runs W
ranks per cylinder, on one machine or on several (an MPI hostfile; see docs/scale.md). pacer reads back
the bounds and the incumbent's decisions per scenario, and maps them onto the tree's nodes.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pacer.demand.scenarios import leaf_paths
from pacer.errors import InputError, SolverError, UnprovenPlanError
from pacer.plan.model import MUSD, build_model
from pacer.plan.problem import PlanProblem, chain_nodes
from pacer.plan.solve import Decisions, SolveOutcome, quiet_stdout, relative_gap

#: Variables that carry the plan's decisions (the rest follows from them within a quarter).
NONANT_VARIABLES = ("share", "progress", "dropped", "buy_kgpu")
INSTALL_HINT = "pip install 'pacer[mpi]' (mpi-sppy, Pyomo, mpi4py and an MPI runtime)"


@dataclass(frozen=True)
class TreeStages:
    """The tree as mpi-sppy sees it: the quarters at which scenarios branch, and for each leaf scenario
    the tree node (mpi-sppy name) of each non-leaf stage."""

    branch_quarters: list[int]
    leaves: np.ndarray  # pacer leaf node of each scenario
    paths: np.ndarray  # scenario x quarter: pacer node
    stage_names: list[list[str]]  # scenario x non-leaf stage: "ROOT", "ROOT_0", ...
    cond_prob: list[list[float]]
    branching_factors: list[int]  # children per node at each branch quarter (a balanced tree)


def tree_stages(nodes: pd.DataFrame) -> TreeStages:
    """Stages of a tree (see :class:`TreeStages`): a stage starts at every quarter where nodes multiply."""
    paths = leaf_paths(nodes)
    quarter = nodes.quarter.to_numpy()
    counts = np.bincount(quarter)
    branch = [int(q) for q in range(1, len(counts)) if counts[q] > counts[q - 1]]
    starts = [0, *branch[:-1]]  # non-leaf stages start here; the last stage is the leaves'
    prob = nodes.probability.to_numpy()
    names: list[list[str]] = [[] for _ in range(len(paths))]
    cond: list[list[float]] = [[] for _ in range(len(paths))]
    position: list[list[int]] = [[] for _ in range(len(paths))]
    for s, start in enumerate(starts):
        at = paths[:, start]
        if s == 0:
            for i in range(len(paths)):
                names[i].append("ROOT")
                cond[i].append(1.0)
            continue
        parent_at = paths[:, starts[s - 1]]
        for parent in np.unique(parent_at):
            children = list(dict.fromkeys(at[parent_at == parent].tolist()))  # in node order
            for i in np.flatnonzero(parent_at == parent).tolist():
                k = children.index(int(at[i]))
                names[i].append(f"{names[i][-1]}_{k}")
                cond[i].append(float(prob[at[i]] / prob[parent]))
                position[i].append(k)
    # Children of every node at each branch quarter (mpi-sppy's multistage trees are balanced).
    factors = []
    for q in branch:
        prev = paths[:, q - 1]
        per_parent = {int(a): len(set(paths[prev == a, q].tolist())) for a in np.unique(prev)}
        if len(set(per_parent.values())) != 1:
            raise InputError("engine", "decomposed", f"needs a balanced tree; quarter {q} has nodes with "
                             f"{sorted(set(per_parent.values()))} children")
        factors.append(next(iter(per_parent.values())))
    # Scenarios in the order of their tree paths (mpi-sppy numbers them so).
    order = sorted(range(len(paths)), key=lambda i: (position[i], int(paths[i, -1])))
    return TreeStages(branch_quarters=branch, leaves=paths[order, -1], paths=paths[order],
                      stage_names=[names[i] for i in order], cond_prob=[cond[i] for i in order],
                      branching_factors=factors)


def write_scenario_files(problem: PlanProblem, directory: Path) -> TreeStages:
    """One MPS file and one nonant JSON per leaf scenario of ``problem`` in ``directory`` (mpi-sppy's
    loose agnostic format); returns the tree's stages."""
    if problem.cvar_weight > 0:
        raise InputError("cvar_weight", problem.cvar_weight,
                         "must be 0 with --engine decomposed (scenario decomposition of the expected NPV)")
    stages = tree_stages(problem.nodes)
    n_q = len(problem.quarters)
    starts = [0, *stages.branch_quarters]
    leaf_prob = problem.nodes.probability.to_numpy()[stages.leaves]
    directory.mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(stages.paths):
        chain = problem.with_demand(chain_nodes(n_q), problem.demand_kh100e[path])
        with warnings.catch_warnings(), quiet_stdout():
            warnings.simplefilter("ignore")
            model = build_model(chain).model
            model.to_file(directory / f"scen{i}.mps")
        tree_nodes = {}
        for s, name in enumerate(stages.stage_names[i]):
            quarters = list(range(starts[s], starts[s + 1]))
            labels = np.concatenate([model.variables[v].labels.sel(node=quarters).to_numpy().ravel()
                                     for v in NONANT_VARIABLES])
            tree_nodes[name] = {"serialNumber": s, "condProb": stages.cond_prob[i][s],
                                "nonAnts": [f"x{label}" for label in labels if label >= 0]}
        (directory / f"scen{i}_nonants.json").write_text(json.dumps({
            "scenarioData": {"name": f"scen{i}", "scenProb": float(leaf_prob[i])},
            "treeData": {"globalNodeCount": len(tree_nodes), "nodes": tree_nodes}}))
    return stages


def mpi_command(workers: int) -> list[str]:
    """``mpiexec`` with ``3 * workers`` ranks (a hub and two spokes, ``workers`` ranks each)."""
    try:
        import mpi4py  # noqa: F401
        import mpisppy  # noqa: F401
    except ImportError as exc:
        raise InputError("engine", "decomposed", f"needs mpi-sppy and MPI installed: {INSTALL_HINT}") from exc
    mpiexec = shutil.which("mpiexec", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                            os.environ.get("PATH", "")]))
    if mpiexec is None:
        raise InputError("engine", "decomposed", f"needs an MPI runtime (mpiexec not found): {INSTALL_HINT}")
    hostfile = os.environ.get("PACER_MPI_HOSTFILE")
    extra = ["--hostfile", hostfile] if hostfile else ["--oversubscribe"]
    return [mpiexec, "-n", str(3 * workers), *extra]


#: The last progress row mpi-sppy prints: iteration, best bound, best incumbent, relative and absolute gap.
_ROW = re.compile(r"^\[\s*[\d.]+\]\s+\d+\s+(?:[A-Z*]\s*)*([-+]?[\d.]+(?:e[-+]?\d+)?|-?inf)\s+"
                  r"([-+]?[\d.]+(?:e[-+]?\d+)?|-?inf)\s", re.MULTILINE)


def read_bounds(log: str) -> tuple[float, float]:
    """Best bound and best incumbent (the model's units) from mpi-sppy's output: its last progress row."""
    rows = _ROW.findall(log)
    if not rows:
        return math.nan, math.nan
    bound, incumbent = rows[-1]
    return float(bound), float(incumbent)


def solve_decomposed(problem: PlanProblem, *, workers: int = 1, time_limit_s: float = 600.0, mip_gap: float = 0.01,
                     default_rho: float | None = None, keep_files: Path | None = None) -> SolveOutcome:
    """Solve ``problem`` by scenario decomposition on mpi-sppy (see the module docstring). Returns the
    outcome with the incumbent's decisions on the tree, its expected NPV as objective and the Lagrangian
    outer bound as bound; raises :class:`UnprovenPlanError` when no incumbent is found."""
    command = mpi_command(workers)
    start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="pacer-mpisppy-")) if keep_files is None else keep_files
    try:
        stages = write_scenario_files(problem, work / "scenarios")
        written = time.perf_counter() - start
        rho = default_rho if default_rho is not None else _default_rho(problem)
        env = os.environ | {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
                            "OMPI_MCA_rmaps_base_oversubscribe": "1", "PYTHONWARNINGS": "ignore"}
        args = [*command, sys.executable, "-m", "mpi4py", "-m", "mpisppy.generic_cylinders",
                "--mps-files-directory", str(work / "scenarios"), "--solver-name", "appsi_highs",
                "--default-rho", f"{rho:g}", "--max-iterations", "100000", "--time-limit", str(int(time_limit_s)),
                "--rel-gap", f"{mip_gap:g}", "--lagrangian", "--xhatshuffle", "--linearize-proximal-terms",
                "--solution-base-name", str(work / "solution")]
        if len(stages.branching_factors) > 1:  # multistage: mpi-sppy names the tree's nodes from these
            args += ["--branching-factors", " ".join(map(str, stages.branching_factors)),
                     "--stage2-ef-solver-name", "appsi_highs"]
        t0 = time.perf_counter()
        run = subprocess.run(args, capture_output=True, text=True, env=env, cwd=work,
                             timeout=time_limit_s + 600, check=False)
        solved = time.perf_counter() - t0
        (work / "mpisppy.log").write_text(run.stdout + run.stderr)
        if run.returncode != 0:
            lines = [line.strip() for line in (run.stderr + run.stdout).splitlines()
                     if line.strip() and "UCX" not in line and "Errorcode" not in line]
            raise SolverError(f"engine decomposed: mpi-sppy failed (exit {run.returncode}): "
                              f"{(lines[-1] if lines else 'no output')[:200]}")
        outer, inner = read_bounds(run.stdout)
        decisions = _read_tree_solution(problem, stages, work / "solution_soldir")
        if decisions is None or not math.isfinite(inner):
            raise UnprovenPlanError(f"plan not proven: engine decomposed found no incumbent in {solved:.0f} s; "
                                    "raise --time-limit or add --workers")
        objective, bound = inner * MUSD, outer * MUSD
        gap = relative_gap(objective, bound)
        status = "optimal" if gap == gap and gap <= mip_gap + 1e-12 else "time_limit"
        return SolveOutcome(status=status, objective_usd=objective, bound_usd=bound, mip_gap=gap,
                            build_seconds=written, solve_seconds=solved, decisions=decisions, model=None,
                            engine="decomposed", workers=workers)
    finally:
        if keep_files is None:
            shutil.rmtree(work, ignore_errors=True)


def _default_rho(problem: PlanProblem) -> float:
    """PH's penalty (MUSD per unit of share): about a tenth of the mean cost of a campus stage."""
    spend = problem.pipeline.stages.spend_usd.to_numpy()
    return float(max(np.mean(spend[spend > 0]) / MUSD / 10, 1.0)) if (spend > 0).any() else 1.0


def _read_tree_solution(problem: PlanProblem, stages: TreeStages, soldir: Path) -> Decisions | None:
    """Decisions on the tree's nodes from mpi-sppy's per-scenario solution files (``name,value`` rows)."""
    if not soldir.exists():
        return None
    n_q = len(problem.quarters)
    chain = problem.with_demand(chain_nodes(n_q), problem.demand_kh100e[stages.paths[0]])
    with warnings.catch_warnings(), quiet_stdout():
        warnings.simplefilter("ignore")
        model = build_model(chain).model
    labels = {v: model.variables[v].labels.to_numpy() for v in NONANT_VARIABLES}
    n_nodes = len(problem.nodes)
    out = {v: np.zeros((*labels[v].shape[:-1], n_nodes)) for v in NONANT_VARIABLES}
    for i, path in enumerate(stages.paths):
        files = list(soldir.glob(f"scen{i}.*"))
        if not files:
            return None
        values = pd.read_csv(files[0], header=None, names=["name", "value"], skipinitialspace=True)
        # Values by variable label (linopy names columns x<label>); labels absent from the file are 0.
        label = values.name.str.strip().str.rsplit(".", n=1).str[-1].str.lstrip("x").astype(int).to_numpy()
        dense = np.zeros(max(int(label.max()) + 1, max(int(lab.max()) for lab in labels.values()) + 1))
        dense[label] = values.value.to_numpy(dtype=float)
        for v, lab in labels.items():
            out[v][..., path] = np.where(lab >= 0, dense[np.maximum(lab, 0)], 0.0)
    return Decisions.from_levels(out["share"], out["buy_kgpu"], out["dropped"])
