"""What a run keeps in the store: key metrics, result tables and charts, and saving it."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pacer.demand.forecast import DemandForecast
from pacer.market.simulate import MarketResult
from pacer.plan.result import POLICIES, PlanResult
from pacer.report.figures import figures_of
from pacer.store import RunStore


def kind_of(result: Any) -> str:
    if isinstance(result, DemandForecast):
        return "demand"
    if isinstance(result, PlanResult):
        return "plan"
    if isinstance(result, MarketResult):
        return "simulate"
    raise TypeError(f"cannot store a {type(result).__name__}")


def metrics_of(result: Any) -> dict[str, Any]:
    """Flat key metrics, the rows of ``pacer runs compare``."""
    if isinstance(result, DemandForecast):
        d = result.to_dict()
        out: dict[str, Any] = {"leaves": d["leaves"], "nodes": d["nodes"]}
        out |= {f"gpus_h100e_{y}": v for y, v in d["gpus_h100e"].items()}
        out |= {f"facility_mw_{y}": v for y, v in d["facility_mw"].items()}
        out |= {f"inference_share_{y}": v for y, v in d["inference_share"].items()}
        return out
    if isinstance(result, PlanResult):
        o = result.outcome
        out = {"status": o.status, "objective_usd": o.objective_usd, "gap": o.mip_gap,
               "in_sample_npv_usd": result.in_sample["expected_npv_usd"], "build_seconds": o.build_seconds,
               "solve_seconds": o.solve_seconds, "projects": len(result.problem.pipeline.frame),
               "nodes": len(result.problem.nodes)}
        out |= _facts_metrics(result.to_dict())
        for policy in POLICIES:
            e = result.evaluation.get(policy)
            if isinstance(e, dict) and "mean_npv_usd" in e:
                out[f"{policy}_mean_npv_usd"] = e["mean_npv_usd"]
                out[f"{policy}_cvar_npv_usd"] = e["cvar_npv_usd"]
        return out
    if isinstance(result, MarketResult):
        d = result.to_dict()
        out = {f"{p}_released_mw": v for p, v in d["totals"]["released_mw"].items()}
        out |= {f"{p}_absorbed_mw": v for p, v in d["totals"]["absorbed_mw"].items()}
        out |= {f"events_{k}": v for k, v in d["totals"]["events"].items()}
        for t, years in d["tenant_spend_usd"].items():
            out |= {f"{t}_spend_{y}_usd": v for y, v in years.items()}
        out["seconds"] = d["timings"]["seconds"]
        return out | _facts_metrics(d)
    raise TypeError(f"no metrics for {type(result).__name__}")


def _facts_metrics(d: dict[str, Any]) -> dict[str, Any]:
    facts = d.get("facts") or []
    return {"facts_within": sum(f["within"] for f in facts), "facts_total": len(facts)} if facts else {}


def tables_of(result: Any) -> dict[str, pd.DataFrame]:
    out = _tables_of(result)
    if isinstance(result, PlanResult | MarketResult):
        checks = result.fact_checks
        if checks:
            out["facts"] = pd.DataFrame([{k: (str(v) if k in ("reported", "low", "high", "simulated")
                                              and v is not None else v) for k, v in c.to_dict().items()}
                                         for c in checks])
    return out


def _tables_of(result: Any) -> dict[str, pd.DataFrame]:
    if isinstance(result, DemandForecast):
        return {"demand": result.to_frame().reset_index()}
    if isinstance(result, PlanResult):
        return {"decisions": result.decisions, "projects": result.projects_table().reset_index(names="project")}
    if isinstance(result, MarketResult):
        return {"providers": result.providers, "tenants": result.tenants, "allocations": result.allocations,
                "contracts": result.contracts,
                "events": pd.DataFrame([{k: v for k, v in e.items() if not isinstance(v, dict | list)}
                                        for e in result.events])}
    raise TypeError(f"no tables for {type(result).__name__}")


def save_run(store: RunStore, result: Any, *, scenario_path: str | None, scenario_text: str | None,
             parameters: dict[str, Any], seconds: float) -> str:
    """Store a result with its metrics, tables and charts; returns the run id."""
    from pacer import __version__

    figures = [(name, title, fig.to_json()) for name, title, fig in figures_of(result)]
    return store.save(kind_of(result), scenario_name=result.scenario.name, scenario_path=scenario_path,
                      scenario_text=scenario_text, parameters=parameters, metrics=metrics_of(result),
                      result=result.to_dict(), tables=tables_of(result), figures=figures,
                      status=getattr(getattr(result, "outcome", None), "status", "ok"), seconds=seconds,
                      version=__version__)
