"""The ``pacer`` command line: a thin layer over the Python API.

Every command prints a readable table, or one JSON object with ``--json``. A bad value prints one
line naming the field and the value and exits with status 2.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from pacer._result import fmt, plain
from pacer.errors import PacerError

app = typer.Typer(
    name="pacer",
    help="Plan AI compute capacity from workloads to GPUs to gigawatts, and pace it under uncertainty.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
size_app = typer.Typer(help="Size a workload onto accelerators.", no_args_is_help=True)
catalog_app = typer.Typer(help="List the facts pacer ships (accelerators, models).", no_args_is_help=True)
runs_app = typer.Typer(help="The store of runs: list, show, compare, delete.", no_args_is_help=True)
app.add_typer(size_app, name="size")
app.add_typer(catalog_app, name="catalog")
app.add_typer(runs_app, name="runs")



class _Console:
    """Rich console bound to the current stdout (tests swap it), wide enough for tables in pipes."""

    def print(self, *objects: Any) -> None:
        Console(width=None if sys.stdout.isatty() else 140).print(*objects)


console = _Console()


class Precision(StrEnum):
    bf16 = "bf16"
    fp16 = "fp16"
    fp8 = "fp8"
    int8 = "int8"
    fp4 = "fp4"
    w8a16 = "w8a16"
    w4a16 = "w4a16"


class Mode(StrEnum):
    aggregated = "aggregated"
    disaggregated = "disaggregated"


StackOption = Annotated[str | None, typer.Option(
    help="Software stack (pacer catalog stacks); default: the accelerator vendor's usual stack.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")]
SaveFlag = Annotated[bool, typer.Option("--save/--no-save", help="Keep the run in the run store.")]
StoreOption = Annotated[str | None, typer.Option(
    "--store", help="Run store file (default: $PACER_STORE, else runs.duckdb in the user data directory).")]


def _store(path: str | None) -> Any:
    from pacer.store import RunStore

    return RunStore(path)


def _save_run(result: Any, scenario: str, parameters: dict[str, Any], seconds: float, store: str | None) -> None:
    """Keep a run (its metrics, tables and charts) in the store; say where on stderr."""
    from pathlib import Path

    from pacer.report.runs import save_run

    err = Console(stderr=True)
    try:
        run_store = _store(store)
        run_id = save_run(run_store, result, scenario_path=str(Path(scenario).resolve()),
                          scenario_text=Path(scenario).read_text(), parameters=parameters, seconds=seconds)
    except PacerError as exc:  # the result is printed already: say why it was not kept, do not fail the run
        err.print(f"warning: run not saved: {exc}")
        return
    err.print(f"run saved: {run_id} (store {run_store.path})")


def _emit_json(payload: Any) -> None:
    typer.echo(json.dumps(plain(payload), indent=2, allow_nan=False))


@catalog_app.command("stacks")
def catalog_stacks(as_json: JsonFlag = False) -> None:
    """Serving and training stacks: their factor per vendor, fitted rows, and the defaults."""
    from pacer.catalog import load_efficiency

    stacks = load_efficiency().stacks
    if as_json:
        _emit_json(stacks.model_dump())
        return
    table = Table(title="software stacks (share of the tuned reference efficiency, per vendor)")
    for col in ("stack", "kind", "nvidia", "amd", "intel", "google", "name"):
        table.add_column(col, justify="left" if col in ("stack", "kind", "name") else "right")
    for sid, spec in stacks.stacks.items():
        cells = [f"{f.value:.2f}" + ("" if f.rows or not f.fitted else "*") if (f := spec.families.get(v)) else "-"
                 for v in ("nvidia", "amd", "intel", "google")]
        table.add_row(sid, spec.kind, *cells, spec.name)
    console.print(table)
    defaults = "; ".join(f"{kind}: " + ", ".join(f"{v} {s}" for v, s in d.items())
                         for kind, d in stacks.defaults.items())
    console.print(f"defaults: {defaults}. * = no public measurement yet (stack effect x vendor effect).")


@catalog_app.command("accelerators")
def catalog_accelerators(as_json: JsonFlag = False) -> None:
    """Accelerators: dense TFLOP/s per precision, memory, power, scale-up domain and prices."""
    from pacer.catalog import load_catalog

    accelerators = load_catalog().accelerators.values()
    if as_json:
        _emit_json([a.model_dump(exclude={"field_sources"}) for a in accelerators])
        return
    table = Table(title="accelerators (dense peak TFLOP/s)")
    for col in ("id", "bf16", "fp8", "fp4", "int8", "HBM GB", "HBM TB/s", "TDP W", "scale-up",
                "GB/s/dir", "server kW", "$/h", "price $"):
        table.add_column(col, justify="left" if col == "id" else "right", no_wrap=col == "id")
    for a in accelerators:
        table.add_row(
            a.id, *(fmt(a.peak_tflops(p)) if a.peak_tflops(p) else "-" for p in ("bf16", "fp8", "fp4", "int8")),
            fmt(a.hbm_gb), fmt(a.hbm_tbps), fmt(a.tdp_w), fmt(a.scaleup_domain), fmt(a.scaleup_gbps),
            fmt(a.server_power_kw), fmt(a.rental_usd_per_hour), fmt(a.price_usd),
        )
    console.print(table)


@catalog_app.command("models")
def catalog_models(as_json: JsonFlag = False) -> None:
    """Models: layers, widths, heads, parameters (total and active), attention kind, context."""
    from pacer.catalog import load_catalog

    models = load_catalog().models.values()
    if as_json:
        _emit_json([m.model_dump(exclude={"field_sources"}) for m in models])
        return
    table = Table(title="models")
    for col in ("id", "params B", "active B", "layers", "hidden", "heads", "kv heads", "attention",
                "experts", "context"):
        table.add_column(col, justify="left" if col == "id" else "right", no_wrap=col == "id")
    for m in models:
        experts = f"{m.experts_per_token}/{m.experts}" if m.is_moe else "-"
        table.add_row(m.id, fmt(m.total_params_b), fmt(m.active_params_b), fmt(m.layers),
                      fmt(m.hidden_size), fmt(m.attention_heads), fmt(m.kv_heads), m.attention,
                      experts, fmt(m.max_context))
    console.print(table)


@size_app.command("inference")
def size_inference_cmd(
    model: Annotated[str, typer.Option(help="Model id (pacer catalog models).")],
    accelerator: Annotated[str, typer.Option(help="Accelerator id (pacer catalog accelerators).")],
    count: Annotated[int | None, typer.Option(help="Accelerators available; default: the fewest that fit.")] = None,
    precision: Annotated[Precision, typer.Option(help="Weight and GEMM precision.")] = Precision.bf16,
    input_tokens: Annotated[int, typer.Option(help="Prompt tokens per request.")] = 1000,
    output_tokens: Annotated[int, typer.Option(help="Generated tokens per request.")] = 1000,
    ttft_ms: Annotated[float | None, typer.Option(help="Limit on time to first token (ms).")] = None,
    tpot_ms: Annotated[float | None, typer.Option(help="Limit on time per output token (ms).")] = None,
    rate: Annotated[float | None, typer.Option(help="Requests/s to serve: answers accelerators needed.")] = None,
    kv_precision: Annotated[Precision | None, typer.Option(help="KV-cache precision.")] = None,
    stack: StackOption = None,
    mode: Annotated[Mode, typer.Option(
        help="aggregated, or disaggregated prefill and decode pools.")] = Mode.aggregated,
    prefill_gpus: Annotated[int | None, typer.Option(help="Prefill pool (disaggregated); default: chosen.")] = None,
    decode_gpus: Annotated[int | None, typer.Option(help="Decode pool (disaggregated); default: chosen.")] = None,
    expert_parallel: Annotated[int | None, typer.Option(
        help="Wide expert parallelism of the decode pool (disaggregated MoE); default: chosen.")] = None,
    tensor_parallel: Annotated[int | None, typer.Option(
        help="Tensor-parallel degree of every replica (aggregated); default: the best.")] = None,
    max_batch: Annotated[int | None, typer.Option(
        help="Most requests running at once over the deployment of --count accelerators (a benchmark's "
             "concurrency; aggregated); default: what the memory holds.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Fit, batch, latency, throughput, power and cost of serving a model."""
    from pacer.sizing import size_inference

    result = size_inference(
        model, accelerator, count, precision.value, input_tokens, output_tokens,
        ttft_ms=ttft_ms, tpot_ms=tpot_ms, rate_rps=rate,
        kv_precision=kv_precision.value if kv_precision else None, stack=stack, mode=mode.value,
        prefill_gpus=prefill_gpus, decode_gpus=decode_gpus, expert_parallel=expert_parallel,
        tensor_parallel=tensor_parallel, max_batch=max_batch,
    )
    if as_json:
        _emit_json(result.to_dict())
    else:
        console.print(result)


@size_app.command("training")
def size_training_cmd(
    model: Annotated[str, typer.Option(help="Model id (pacer catalog models).")],
    tokens: Annotated[float, typer.Option(help="Training tokens, e.g. 15e12.")],
    accelerator: Annotated[str, typer.Option(help="Accelerator id.")] = "h100-sxm",
    gpus: Annotated[int | None, typer.Option(
        max=10_000_000, help="Accelerators in the run; default: sized for --days.")] = None,
    precision: Annotated[Precision, typer.Option(help="Training precision.")] = Precision.bf16,
    days: Annotated[float | None, typer.Option(help="Target run length when --gpus is not given.")] = None,
    sequence_tokens: Annotated[int | None, typer.Option(
        max=10_000_000, help="Sequence length for attention FLOPs.")] = None,
    stack: StackOption = None,
    global_batch: Annotated[int | None, typer.Option(
        help="Sequences per optimiser step over the run: a small batch on many GPUs pays each step's fixed "
             "overhead (MLPerf-style strong scaling); default: large enough to hide it.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """FLOPs, achieved TFLOP/s per GPU, GPU-hours, days, energy and cost of a training run."""
    from pacer.sizing import size_training

    result = size_training(model, tokens, accelerator, gpus, precision.value,
                           sequence_tokens=sequence_tokens, days=days, stack=stack, global_batch=global_batch)
    if as_json:
        _emit_json(result.to_dict())
    else:
        console.print(result)


@size_app.command("search")
def size_search_cmd(
    model: Annotated[str, typer.Option(help="Model id (pacer catalog models).")],
    input_tokens: Annotated[int, typer.Option(help="Prompt tokens per request.")] = 1000,
    output_tokens: Annotated[int, typer.Option(help="Generated tokens per request.")] = 1000,
    ttft_ms: Annotated[float | None, typer.Option(help="Limit on time to first token (ms).")] = None,
    tpot_ms: Annotated[float | None, typer.Option(help="Limit on time per output token (ms).")] = None,
    accelerator: Annotated[list[str] | None, typer.Option(help="Restrict to these accelerators (repeat).")] = None,
    precision: Annotated[list[Precision] | None, typer.Option(help="Restrict to these precisions (repeat).")] = None,
    plot: Annotated[str | None, typer.Option(help="Write the Pareto front as an HTML chart here.")] = None,
    stack: StackOption = None,
    mode: Annotated[list[Mode] | None, typer.Option(
        help="Serving modes to cover (repeat); default: aggregated.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Every accelerator x precision x parallelism x batch, and the cost-latency Pareto front."""
    from pacer.sizing import size_search

    result = size_search(model, input_tokens, output_tokens, accelerators=accelerator or None,
                         precisions=[p.value for p in precision] if precision else None,
                         ttft_ms=ttft_ms, tpot_ms=tpot_ms, stack=stack,
                         modes=[m.value for m in mode] if mode else ("aggregated",))
    if plot:
        _write_html(plot, "Pareto")
        from pacer.report.sizing import pareto_figure

        _save(pareto_figure(result), plot)
    if as_json:
        _emit_json(result.to_dict())
    else:
        console.print(result)
        if plot:
            console.print(f"Pareto chart written to {plot}")


@app.command("demand")
def demand_cmd(
    scenario: Annotated[str, typer.Argument(help="Scenario YAML file.")],
    paths: Annotated[int | None, typer.Option(help="Sampled paths (overrides the scenario).")] = None,
    leaves: Annotated[int | None, typer.Option(help="Leaf scenarios of the tree (overrides the scenario).")] = None,
    seed: Annotated[int | None, typer.Option(
        min=0, max=2**32 - 1, help="Random seed (overrides the scenario).")] = None,
    plot: Annotated[str | None, typer.Option(help="Write fan charts as a self-contained HTML file here.")] = None,
    as_json: JsonFlag = False,
    save: SaveFlag = True,
    store: StoreOption = None,
) -> None:
    """Compute and power demand per region and quarter, training vs inference, as a scenario tree."""
    import time

    from pacer.demand import forecast
    from pacer.scenario import load_scenario

    loaded = load_scenario(scenario)
    started = time.perf_counter()
    with _progress(not as_json) as progress:
        progress.add_task("sampling demand paths and reducing them to a tree", total=None)
        result = forecast(loaded, paths=paths, leaves=leaves, seed=seed)
    seconds = time.perf_counter() - started
    if plot:
        _write_html(plot, "demand")
        from pacer.report.demand import fan_figure

        _save(fan_figure(result), plot)
    if as_json:
        _emit_json(result.to_dict())
    else:
        console.print(result)
        if plot:
            console.print(f"fan charts written to {plot}")
    if save:  # after the output: a store problem never costs the user the result
        _save_run(result, scenario, {"paths": paths, "leaves": leaves, "seed": seed}, seconds, store)


@app.command("plan")
def plan_cmd(
    scenario: Annotated[str, typer.Argument(help="Scenario YAML file with a provider section.")],
    leaves: Annotated[int | None, typer.Option(help="Scenarios of the planning tree.")] = None,
    evaluate: Annotated[bool, typer.Option(help="Judge the plan out of sample against simple policies.")] = True,
    paths: Annotated[int | None, typer.Option(max=100_000, help="Fresh demand paths for the evaluation.")] = None,
    perfect_foresight_paths: Annotated[int | None, typer.Option(
        max=1000, help="Paths solved with perfect foresight.")] = None,
    solver: Annotated[str | None, typer.Option(help="linopy solver name (highs, gurobi, cplex, ...).")] = None,
    time_limit: Annotated[float | None, typer.Option(help="Solver time limit per solve (s).")] = None,
    cvar_weight: Annotated[float | None, typer.Option(help="Weight of CVaR in the objective.")] = None,
    engine: Annotated[str, typer.Option(
        help="extensive (one LP), decomposed (mpi-sppy under MPI) or auto (by size; said in the output).")] = "auto",
    workers: Annotated[int, typer.Option(
        max=1024, help="Processes for the evaluation's solves; MPI ranks per cylinder with --engine decomposed.")] = 1,
    rolling_paths: Annotated[int | None, typer.Option(max=10_000,
        help="Evaluation paths on which to re-plan every year (rolling_stochastic, rolling_deterministic).")] = None,
    accept_gap: Annotated[float | None, typer.Option(
        help="Take a plan whose certified gap is above planning.mip_gap but at most this (0.05 = 5%).")] = None,
    as_json: JsonFlag = False,
    save: SaveFlag = True,
    store: StoreOption = None,
) -> None:
    """Plan and pace the provider's datacenter pipeline under demand uncertainty.

    Exits 3 with one line when no plan is proven within planning.mip_gap (see --accept-gap)."""
    import math
    import time

    from pacer.plan import check_plan_options, plan
    from pacer.scenario import load_scenario

    for name, value in (("leaves", leaves), ("paths", paths), ("time_limit", time_limit)):
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise PacerError(f"{name}: must be a finite number > 0, got {value!r}")
    for name, value in (("cvar_weight", cvar_weight),):
        if value is not None and not (value >= 0 and math.isfinite(value)):
            raise PacerError(f"{name}: must be a finite number >= 0, got {value!r}")
    if rolling_paths is not None and rolling_paths < 0:
        raise PacerError(f"rolling_paths: must be >= 0, got {rolling_paths!r}")
    if perfect_foresight_paths is not None and perfect_foresight_paths < 0:
        raise PacerError(f"perfect_foresight_paths: must be >= 0, got {perfect_foresight_paths!r}")
    check_plan_options(engine, workers, accept_gap)
    loaded = load_scenario(scenario)
    if loaded.provider is None:
        raise PacerError("provider: the scenario needs a provider section to plan, got None")
    started = time.perf_counter()
    with _progress(True) as progress:
        task = progress.add_task("planning", total=None)
        result = plan(loaded, leaves=leaves, evaluate_out_of_sample=evaluate, evaluation_paths=paths,
                      perfect_foresight_paths=perfect_foresight_paths, solver=solver, time_limit_s=time_limit,
                      cvar_weight=cvar_weight, engine=engine, workers=workers, accept_gap=accept_gap,
                      rolling_paths=rolling_paths, on_step=lambda text: progress.update(task, description=text))
    seconds = time.perf_counter() - started
    _show_plan(result, as_json)
    if save:  # after the output: a store problem never costs the user the result
        parameters = {"leaves": leaves, "evaluate": evaluate, "paths": paths, "solver": solver,
                      "perfect_foresight_paths": perfect_foresight_paths, "time_limit": time_limit,
                      "cvar_weight": cvar_weight, "engine": engine, "workers": workers, "accept_gap": accept_gap,
                      "rolling_paths": rolling_paths}
        _save_run(result, scenario, parameters, seconds, store)


def _show_plan(result: Any, as_json: bool) -> None:
    if as_json:
        _emit_json(result.to_dict())
        return
    console.print(result)
    console.print(_frame_table(result.projects_table().reset_index(names="project"), "pacing plan: what to do now"))
    if result.evaluation:
        rows = [{"policy": k, **{c: v.get(c) for c in ("mean_npv_usd", "cvar_npv_usd", "utilisation",
                                                        "stranded_mw", "unserved_share", "cancelled_mw")}}
                for k, v in result.evaluation.items() if isinstance(v, dict) and "mean_npv_usd" in v]
        import pandas as pd

        console.print(_frame_table(pd.DataFrame(rows), "out-of-sample evaluation"))
    if result.outcome.status != "optimal":
        console.print(f"[bold red]warning:[/] {result.to_dict()['warning']}")
    _show_facts(result, "planned", "the provider's plan alone, expected over its scenarios: the market's episode "
                "is pacer simulate; sources: --json, docs/market.md")


def _show_facts(result: Any, what: str = "simulated", note: str = "sources: --json, docs/market.md") -> None:
    """The scenario's reported facts against the run, outside their band marked (never hidden)."""
    from pacer.facts import facts_frame

    checks = result.fact_checks
    if not checks:
        return
    within = sum(c.within for c in checks)
    console.print(_frame_table(facts_frame(checks).drop(columns="source"),
                               f"reported vs {what}: {within} of {len(checks)} facts within their band ({note})"))


@app.command("simulate")
def simulate_cmd(
    scenario: Annotated[str, typer.Argument(help="Scenario YAML file with a market section.")],
    executor: Annotated[str, typer.Option(help="Where providers re-plan: auto, local, processes or ray.")] = "auto",
    as_json: JsonFlag = False,
    save: SaveFlag = True,
    store: StoreOption = None,
) -> None:
    """Play the compute market quarter by quarter: providers re-plan, tenants buy, contracts route requests,
    released capacity is absorbed."""
    from pacer.market import simulate
    from pacer.runner import EXECUTORS
    from pacer.scenario import load_scenario

    if executor not in EXECUTORS:
        raise PacerError(f"executor: must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    loaded = load_scenario(scenario)
    if loaded.market is None:
        raise PacerError("market: the scenario needs a market section to simulate, got None")
    with _progress(True) as progress:
        task = progress.add_task("simulating the market", total=None)
        result = simulate(loaded, executor=executor, on_step=lambda text: progress.update(task, description=text))
    _show_market(result, as_json)
    if save:  # after the output: a store problem never costs the user the result
        _save_run(result, scenario, {"executor": executor}, result.timings["seconds"], store)


def _show_market(result: Any, as_json: bool) -> None:
    if as_json:
        _emit_json(result.to_dict())
        return
    console.print(result)
    import pandas as pd

    columns = ["released_mw", "absorbed_mw", "capex_usd"]
    if (result.providers.cloud_capex_usd > 0).any():  # a conventional cloud: the company's whole capex too
        columns.append("company_capex_usd")
    yearly = {name: result.by_year("providers", name) for name in columns}
    rows = [{"year": y, "provider": p, **{name: frame.loc[y, p] for name, frame in yearly.items()}}
            for y in yearly["released_mw"].index for p in result.provider_names
            if any(frame.loc[y, p] > 0 for frame in yearly.values())]
    console.print(_frame_table(pd.DataFrame(rows), "capacity released and absorbed, capex, by year"))
    spend, net = result.by_year("tenants", "spend_usd"), result.by_year("tenants", "net_income_usd")
    revenue = result.by_year("tenants", "revenue_usd").sum()
    rows = [{"year": y, "tenant": t, "compute_spend_usd": spend.loc[y, t],
             "net_income_usd": net.loc[y, t] if revenue[t] > 0 else None}  # no finances given: no income
            for y in spend.index for t in result.tenant_names if spend.loc[y, t] > 0]
    console.print(_frame_table(pd.DataFrame(rows), "tenants: compute spend and net income by year"))
    contract = [e for e in result.events if e["type"] in ("rofr_exercised", "rofr_declined", "exception_used")]
    rows = [{"quarter": e["quarter"], "event": e["type"], "parties": ", ".join(e["parties"]), "mw": e["mw"]}
            for e in contract[:20]]
    if rows:
        console.print(_frame_table(pd.DataFrame(rows), f"contract events (first {len(rows)} of {len(contract)})"))
    _show_facts(result)


@app.command("calibrate")
def calibrate_cmd(
    scenario: Annotated[str, typer.Argument(help="Scenario YAML file with a facts section.")],
    param: Annotated[list[str], typer.Option(
        "--param", help="PATH=LOW:HIGH, a scenario value to fit within bounds (repeatable), e.g. "
        "market.tenants[lab].other_costs_usd_per_year.2024=3e9:6e9.")],
    output: Annotated[str, typer.Option("-o", "--output", help="Calibrated scenario YAML to write.")],
    kind: Annotated[str, typer.Option(help="Fit the facts of a market run (simulate) or a plan (plan).")] = "simulate",
    budget: Annotated[int, typer.Option(max=100_000, help="About how many runs the search may make.")] = 40,
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="Seed of the search.")] = 0,
    executor: Annotated[str, typer.Option(help="Where candidates run: auto, local, processes or ray.")] = "auto",
    as_json: JsonFlag = False,
) -> None:
    """Fit named scenario parameters within bounds to the scenario's reported facts (differential evolution,
    candidates evaluated in parallel), report the fit, each fact's residual and each parameter's sensitivity,
    and write the calibrated scenario."""
    from pathlib import Path

    import pandas as pd

    from pacer.facts import calibrate, facts_frame, parse_param
    from pacer.runner import EXECUTORS
    from pacer.scenario import load_scenario, read_yaml

    if executor not in EXECUTORS:
        raise PacerError(f"executor: must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if not output.endswith((".yaml", ".yml")):
        raise PacerError(f"output: must be a .yaml file, got {output!r}")
    _writable(output, "output")
    params = [parse_param(text) for text in param]
    load_scenario(scenario)  # one-line errors for the scenario itself first
    data = read_yaml(Path(scenario).read_text(encoding="utf-8"), scenario)
    with _progress(True) as progress:
        task = progress.add_task("calibrating: first generation", total=None)
        result = calibrate(data, params, base_dir=Path(scenario).parent, kind=kind, budget=budget, seed=seed,
                           executor=executor, on_generation=lambda done, total, best: progress.update(
                               task, description=f"calibrating: generation {done}/{total}, best loss {best:.3g}"))
    result.write(output)
    if as_json:
        _emit_json(result.to_dict() | {"output": str(Path(output).resolve())})
        return
    rows = [{"parameter": p.path, "low": p.low, "value": v, "high": p.high}
            for p, v in zip(result.params, result.values, strict=True)]
    console.print(_frame_table(pd.DataFrame(rows), f"calibrated ({result.evaluations} runs, loss {result.loss:.3g}: "
                                                   "mean squared residual in band half-widths)"))
    table = facts_frame(result.facts).drop(columns="source")
    table["residual"] = ["-" if c.residual is None else f"{c.residual:+.2f}" for c in result.facts]
    console.print(_frame_table(table, f"reported vs simulated at the fit: {sum(c.within for c in result.facts)} of "
                                      f"{len(result.facts)} within their band"))
    sens = [{"parameter": s["path"], "loss at -10% of range": s["loss_down"], "loss at +10%": s["loss_up"]}
            for s in result.sensitivity]
    console.print(_frame_table(pd.DataFrame(sens), "sensitivity: the loss a tenth of the range either side"))
    console.print(f"calibrated scenario written to {Path(output).resolve()}")


@runs_app.command("list")
def runs_list(
    kind: Annotated[str | None, typer.Option(help="Only runs of this kind: demand, plan or simulate.")] = None,
    scenario: Annotated[str | None, typer.Option(help="Only runs of this scenario (name or file path).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="Most runs to show, newest first.")] = 50,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """List stored runs, newest first."""
    if kind is not None and kind not in ("demand", "plan", "simulate"):
        raise PacerError(f"kind: must be demand, plan or simulate, got {kind!r}")
    if limit <= 0:
        raise PacerError(f"limit: must be > 0, got {limit}")
    frame = _store(store).list_runs(kind=kind, scenario=scenario, limit=limit)
    if as_json:
        _emit_json(frame.assign(created_at=frame.created_at.astype(str)).to_dict("records"))
    else:
        console.print(_frame_table(frame.drop(columns=["scenario_path"]), f"runs ({len(frame)})"))


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="Run id (from pacer runs list).")],
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """One run: metadata, parameters and key metrics (the full result with --json)."""
    run = _store(store).get(run_id)
    if as_json:
        _emit_json(run)
        return
    meta = {k: run[k] for k in ("run_id", "created_at", "kind", "scenario_name", "scenario_path", "status",
                                "seconds", "pacer_version")}
    import pandas as pd

    console.print(_frame_table(pd.DataFrame({"field": list(meta), "value": [str(v) for v in meta.values()]}),
                               "run"))
    from pacer.formatting import cell, label

    metrics = {k: v for k, v in run["metrics"].items() if not isinstance(v, dict | list)}
    console.print(_frame_table(pd.DataFrame({"metric": [label(k) for k in metrics],
                                             "value": [cell(k, v) for k, v in metrics.items()]}), "key metrics"))


@runs_app.command("compare")
def runs_compare(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids.")],
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Key metrics of runs side by side."""
    frame = _store(store).compare(run_ids)
    if as_json:
        _emit_json(frame.where(frame.notna(), None).to_dict())
    else:
        from pacer.formatting import cell, label

        people = frame.astype(object).apply(lambda row: [cell(str(row.name), v) for v in row], axis=1,
                                            result_type="broadcast")
        people.index = [label(str(m)) for m in frame.index]
        console.print(_frame_table(people.reset_index(names="metric"), "comparison"))


@runs_app.command("delete")
def runs_delete(run_id: Annotated[str, typer.Argument(help="Run id.")], store: StoreOption = None) -> None:
    """Delete a run and everything stored with it."""
    _store(store).delete(run_id)
    console.print(f"deleted run {run_id}")


@app.command("report")
def report_cmd(
    run_ids: Annotated[list[str] | None, typer.Argument(help="Run ids to report (default: see --scenario).")] = None,
    output: Annotated[str, typer.Option("-o", "--output", help="HTML file to write.")] = "report.html",
    scenario: Annotated[str | None, typer.Option(
        help="Report the latest demand, plan and simulate runs of this scenario file.")] = None,
    store: StoreOption = None,
) -> None:
    """Write one self-contained HTML report (charts work offline) of stored runs."""
    import os
    from pathlib import Path

    from pacer.report.html import render_report
    from pacer.store import scenario_hash

    if not output.endswith(".html"):
        raise PacerError(f"output: must be an .html file, got {output!r}")
    _writable(output, "output")
    run_store = _store(store)
    ids = list(run_ids or [])
    if scenario is not None:
        try:
            digest = scenario_hash(Path(scenario).read_text())
        except OSError as exc:
            raise PacerError(f"scenario: cannot read file ({exc.strerror}), got {scenario!r}") from exc
        found = [run_store.latest(kind, digest) for kind in ("demand", "plan", "simulate")]
        ids += [r for r in found if r is not None]
        if not ids:
            raise PacerError(f"scenario: no stored run of this scenario file, got {scenario!r}")
    if not ids:
        raise PacerError("runs: give run ids or --scenario, got none")
    runs = [run_store.get(r) for r in ids]
    figures = {r: run_store.figures(r) for r in ids}
    title = f"pacer report: {', '.join(dict.fromkeys(str(r['scenario_name']) for r in runs))}"
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(output).with_suffix(".html.tmp")
    tmp.write_text(render_report(runs, figures, title, {r: run_store.scenario_text(r) for r in ids}))
    os.replace(tmp, output)
    console.print(f"report written to {Path(output).resolve()}")


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    token: Annotated[str | None, typer.Option(help="Bearer token required by every request that writes.")] = None,
    scenario: Annotated[list[str] | None, typer.Option(help="Scenario files the app may open (repeatable).")] = None,
    allowed_host: Annotated[list[str] | None, typer.Option(
        help="Host names the app answers besides the bound address and localhost (repeatable).")] = None,
    store: StoreOption = None,
) -> None:
    """Serve the web app: JSON API and pages (sizing calculator, scenario editor, runs, comparison)."""
    import uvicorn

    from pacer.web import create_app

    if not 0 < port < 65536:
        raise PacerError(f"port: must be between 1 and 65535, got {port}")
    loopback = host in ("127.0.0.1", "localhost", "::1")
    if not loopback and not token:
        raise PacerError(f"token: serving on {host} (not this machine only) needs --token, got none")
    hosts = sorted({host, "127.0.0.1", "localhost", "[::1]", *(allowed_host or [])} - {"0.0.0.0", "::"})
    application = create_app(store=_store(store), token=token, scenarios=scenario or [], allowed_hosts=hosts)
    uvicorn.run(application, host=host, port=port, log_level="warning")


def _frame_table(frame: Any, title: str) -> Table:
    """A table for people: columns labelled, each cell in its column's unit (:mod:`pacer.formatting`)."""
    from pandas.api.types import is_numeric_dtype

    from pacer.formatting import cell, label

    table = Table(title=title, title_justify="left")
    for c in frame.columns:
        table.add_column(label(str(c)), justify="right" if is_numeric_dtype(frame[c]) else "left", no_wrap=True)
    for row in frame.itertuples(index=False):
        table.add_row(*(cell(str(c), v) for c, v in zip(frame.columns, row, strict=True)))
    return table


def _progress(enabled: bool) -> Any:
    """A transient spinner on stderr for steps that can take a second or more (on a terminal only: piped,
    stderr keeps to its one-line errors and notes)."""
    from contextlib import nullcontext

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    if not enabled or not sys.stderr.isatty():
        return nullcontext(_NoProgress())
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=True)


class _NoProgress:
    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def update(self, *args: Any, **kwargs: Any) -> None:
        return None


def _write_html(path: str, what: str) -> None:

    if not path.endswith(".html"):
        raise PacerError(f"plot: must be an .html file for the {what} charts, got {path!r}")
    _writable(path, "plot")


def _writable(path: str, field: str) -> None:
    """A file path we can write: its folder is created; a folder or an unwritable place is one line."""
    from pathlib import Path

    target = Path(path)
    if target.is_dir():
        raise PacerError(f"{field}: is a folder, not a file, got {path!r}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PacerError(f"{field}: cannot create its folder ({exc.strerror}), got {path!r}") from exc


def _save(figure: Any, path: str) -> None:
    """Write atomically: a half-written chart never replaces a good one."""
    import os
    from pathlib import Path

    from pacer.formatting import for_people

    tmp = Path(path).with_suffix(".html.tmp")
    for_people(figure).write_html(str(tmp), include_plotlyjs=True)
    os.replace(tmp, path)


@app.command("version")
def version() -> None:
    """Print pacer's version."""
    from pacer import __version__

    typer.echo(__version__)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; a bad value or a misused command line prints one line on stderr, exit 2.

    A :class:`PacerError` and a usage error (an unknown option or command, a missing or extra argument,
    a value that is not of the option's type, range or choices) both print ``error: FIELD: problem, got
    VALUE``. Typer runs without its standalone mode so that its boxed usage panel never shows; help,
    ``typer.Exit`` codes and Ctrl-C keep their usual behaviour.
    """
    clicks = _click_exceptions()
    try:
        code = app(args=argv, standalone_mode=False)
    except PacerError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except clicks.ClickException as exc:
        no_args_is_help = getattr(clicks, "NoArgsIsHelpError", ())
        if isinstance(exc, no_args_is_help):  # a bare group: its help, as Typer shows it
            if exc.format_message().strip():
                exc.show()
        else:
            typer.echo("error: " + " ".join(_usage_line(exc, clicks).split()), err=True)
        sys.exit(exc.exit_code)
    except (getattr(clicks, "Abort", typer.Abort), typer.Abort):
        typer.echo("Aborted!", err=True)
        sys.exit(1)
    # without standalone mode Typer returns the code of a typer.Exit (or a command's return value: None)
    if isinstance(code, int) and not isinstance(code, bool) and code:
        sys.exit(code)


def _click_exceptions() -> Any:
    """The exceptions module of the click that Typer runs on (Typer 0.29 vendors its own copy)."""
    import importlib

    return importlib.import_module(typer.BadParameter.__module__)


def _param_name(param: Any) -> str:
    """How the command line spells a parameter: its long option (``--limit``), else its name (as help shows it)."""
    opts = [o for o in (*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ())) if o.startswith("--")]
    if getattr(param, "param_type_name", "") == "option":
        return opts[0] if opts else (param.opts[0] if param.opts else str(param.name))
    return str(param.name or "argument")


def _command_path(ctx: Any) -> str:
    """``pacer runs list``: the command as typed, whatever the program was started as (python -m, pytest)."""
    names = []
    while ctx is not None:
        names.append(ctx.info_name if ctx.parent is not None else "pacer")
        ctx = ctx.parent
    return " ".join(reversed(names)) or "pacer"


def _usage_line(exc: Any, clicks: Any) -> str:
    """One line, ``FIELD: problem, got VALUE``, for a click usage error (no usage text, no panel)."""
    import re

    message = " ".join(str(getattr(exc, "message", None) or exc.format_message()).split()).rstrip(".")
    ctx = getattr(exc, "ctx", None)
    where = _command_path(ctx)
    param = getattr(exc, "param", None)
    if isinstance(exc, clicks.MissingParameter) and param is not None:
        return f"{_param_name(param)}: required by {where}, got none"
    if isinstance(exc, clicks.BadParameter):
        return _bad_value_line(exc, param, message)
    if isinstance(exc, clicks.NoSuchOption):
        possible = sorted(exc.possibilities or [])
        hint = f" (did you mean {' or '.join(possible)}?)" if possible else ""
        return f"{exc.option_name}: no such option of {where}{hint}, got {exc.option_name}"
    if isinstance(exc, clicks.BadOptionUsage):
        if "requires an argument" in message:
            return f"{exc.option_name}: needs a value, got none"
        return f"{exc.option_name}: {re.sub(r'^Option .*? (?=[a-z])', '', message)}"
    if found := re.match(r"No such command '(.*)'", message):
        commands = ctx.command.list_commands(ctx) if ctx is not None and hasattr(ctx.command, "list_commands") else []
        wanted = f"must be one of {', '.join(commands)}" if commands else "no such command"
        return f"command: {wanted} (of {where}), got {found[1]!r}"
    if found := re.match(r"Got unexpected extra argument\S* \((.*)\)", message):
        return f"{where}: unexpected extra argument, got {found[1]!r}"
    return f"{where}: {message}"


def _bad_value_line(exc: Any, param: Any, message: str) -> str:
    """``--limit: must be an integer from 1 to 100000, got '1e20'`` for a value the option cannot take."""
    import re

    name = _param_name(param) if param is not None else str(exc.param_hint or "value")
    cause = exc.__cause__  # Typer 0.29 checks values with pydantic: the error's type and the raw input
    errors = cause.errors() if hasattr(cause, "errors") else []
    kind, raw = (str(errors[0].get("type", "")), errors[0].get("input")) if errors else ("", None)
    if found := re.match(r"(?:Value error, )?(.*?) is not one of (.*)", message):
        return f"{name}: must be one of {found[2].replace(chr(39), '')}, got {found[1]}"
    ranged = kind.startswith(("greater_than", "less_than")) or "not in the range" in message
    click_type = getattr(param, "type", None)  # older Typer: a click type (IntRange, FloatRange, ...)
    integer = getattr(getattr(param, "type_descriptor", None), "annotation", None) is int \
        or "integer" in str(getattr(click_type, "name", ""))
    if kind.startswith("int") or "valid integer" in message or (ranged and integer):
        wanted = "an integer"
    elif kind.startswith(("float", "finite")) or "valid float" in message or "valid number" in message or ranged:
        wanted = "a number"
    elif kind.startswith("bool") or "valid boolean" in message:
        wanted = "true or false"
    else:
        return f"{name}: {message}" + (f", got {raw!r}" if raw is not None else "")
    low, high = getattr(param, "min", None), getattr(param, "max", None)  # Typer 0.29 keeps them on the param
    if low is None and high is None:
        low, high = getattr(click_type, "min", None), getattr(click_type, "max", None)
    if low is not None and high is not None:
        wanted += f" from {low} to {high}"
    elif low is not None or high is not None:
        wanted += f" >= {low}" if low is not None else f" <= {high}"
    if raw is not None:
        got = str(raw) if ranged else repr(raw)
    else:
        got = found[1] if (found := re.match(r"(.*?) is not", message)) else "?"
    return f"{name}: must be {wanted}, got {got}"
