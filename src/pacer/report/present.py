"""One presentation layer: a stored run as people read it, for the run page, the report and the API.

:func:`run_view` turns a stored run (``RunStore.get``) into a :class:`RunView`: a headline (status and the
key numbers in $B, GW, %), warnings (an unproven plan first, in red), then for a plan the decisions
("what to do now" per project), the policy comparison with a glossary, and the input assumptions; for a
market the providers' released and absorbed capacity and the tenants' spend; for every kind the reported
facts. Every cell goes through :mod:`pacer.formatting`, so the page, the report and the JSON view agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from pacer.formatting import cell, label, quantity

PROVEN = ("optimal", "ok")
ACTION_ORDER = {"cancel": 0, "pause": 1, "pace": 2, "advance": 3, "hold": 4, "operate": 5}
ACTION_MEANING = {
    "advance": "spend to finish the next stage on schedule",
    "pace": "keep building at a slower rate (part of a stage this quarter)",
    "pause": "stop work this quarter, pay the holding cost, keep the option",
    "cancel": "let the project (or part of a campus) go: pay the cancellation fee; the capacity is released",
    "hold": "nothing to decide this quarter",
    "operate": "live: run it",
}
POLICY_MEANING = {
    "stochastic": "pacer's plan: decisions by scenario node, hedged across the tree",
    "deterministic": "build to the mean forecast, ignoring uncertainty",
    "build_all": "finish every project as fast as possible",
    "never_build": "build nothing new; buy from third parties",
    "perfect_foresight": "knows each path's demand in advance: an upper bound no policy can reach",
    "rolling_stochastic": "re-plans every year on a fresh tree",
    "rolling_deterministic": "re-plans every year to the mean forecast",
}
EVALUATION_COLUMNS = ("mean_npv_usd", "cvar_npv_usd", "utilisation", "stranded_mw", "unserved_share",
                      "cancelled_mw")
COLUMN_MEANING = {
    "mean NPV": "expected net present value on fresh demand paths (not the ones planned on)",
    "CVaR NPV": "mean NPV of the worst 10% of those paths",
    "utilisation": "share of own live capacity that serves demand",
    "stranded": "live capacity with no demand to serve (mean, MW)",
    "unserved share": "share of demand neither own nor bought capacity served",
    "cancelled": "capacity let go (mean, MW)",
}


@dataclass
class Headline:
    label: str
    value: str
    note: str = ""


@dataclass
class TableView:
    """A table for people: formatted cells, the raw table's name in the store (for downloads)."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    name: str | None = None
    row_classes: list[str] = field(default_factory=list)
    glossary: dict[str, str] = field(default_factory=dict)
    note: str = ""

    @classmethod
    def of(cls, frame: pd.DataFrame, title: str, *, name: str | None = None, row_classes: list[str] | None = None,
           glossary: dict[str, str] | None = None, note: str = "") -> TableView:
        from pandas.api.types import is_numeric_dtype

        columns = [str(c) for c in frame.columns]
        rows = [[cell(c, v) for c, v in zip(columns, record, strict=True)] for record in frame.itertuples(index=False)]
        return cls(title=title, columns=[label(c) for c in columns], rows=rows,
                   numeric=[bool(is_numeric_dtype(frame[c])) and frame[c].dtype != bool for c in frame.columns],
                   name=name, row_classes=row_classes or [], glossary=glossary or {}, note=note)


@dataclass
class RunView:
    run_id: str
    kind: str
    title: str
    created_at: str
    status: str
    proven: bool
    warnings: list[str]
    headline: list[Headline]
    tables: list[TableView]
    meta: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_view(run: dict[str, Any], scenario_text: str | None = None) -> RunView:
    """The view of a stored run (as from ``RunStore.get``); ``scenario_text`` adds the input assumptions."""
    kind, result = run["kind"], run.get("result") or {}
    status = str(run.get("status") or "ok")
    proven = kind != "plan" or status in PROVEN
    warnings = []
    if not proven:
        gap = result.get("gap")
        gap_text = "unknown" if gap is None else quantity(gap, "share")
        warnings.append(f"Unproven plan: status {status}, gap {gap_text}. The solver did not prove this plan within "
                        "the planning tolerance; it was kept because a gap was accepted. Read its numbers as a "
                        "candidate, not a plan.")
    headline: list[Headline] = [Headline("status", "unproven" if not proven else _status_text(kind, status))]
    tables: list[TableView] = []
    builders = {"plan": (_plan_headline, _plan_tables), "simulate": (_market_headline, _market_tables),
                "demand": (_demand_headline, lambda _: [])}.get(kind)
    if builders is not None:
        try:
            headline += builders[0](result)
            tables += builders[1](result)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            # A result stored by another version (or by hand) lacks a field this view reads: say so, show the rest.
            warnings.append("Part of this run's summary cannot be shown: its stored result lacks fields this "
                            "version reads. Its metrics, tables and charts follow.")
    facts = result.get("facts") or []
    if facts:
        tables.append(_facts_table(facts))
        within = sum(bool(f.get("within")) for f in facts)
        headline.append(Headline("reported facts reproduced", f"{within} of {len(facts)}",
                                 "within their bands" if within == len(facts) else "some outside: see the table"))
    metrics = {k: v for k, v in (run.get("metrics") or {}).items() if not isinstance(v, dict | list)}
    if metrics:
        tables.append(TableView(title="all key metrics", columns=["metric", "value"],
                                rows=[[label(k), cell(k, v)] for k, v in metrics.items()], numeric=[False, True]))
    if scenario_text:
        assumptions = assumptions_table(scenario_text)
        if assumptions is not None:
            tables.append(assumptions)
    seconds = run.get("seconds")
    meta = (f"run {run['run_id']}, {str(run.get('created_at', ''))[:19]} UTC, "
            f"{quantity(seconds, 's') if seconds is not None else '-'}, pacer {run.get('pacer_version') or '-'}")
    title = f"{kind}: {run.get('scenario_name') or '-'}"
    return RunView(run_id=str(run["run_id"]), kind=kind, title=title, created_at=str(run.get("created_at", "")),
                   status=status, proven=proven, warnings=warnings, headline=headline, tables=tables, meta=meta)


def view_of_stored(store: Any, run_id: str) -> RunView:
    return run_view(store.get(run_id), store.scenario_text(run_id))


def _status_text(kind: str, status: str) -> str:
    if kind == "plan" and status == "optimal":
        return "proven optimal"
    return "done" if status == "ok" else status


# -- plans -----------------------------------------------------------------------------------------
def _plan_headline(result: dict[str, Any]) -> list[Headline]:
    out = [Headline("objective", quantity(result.get("objective_usd"), "USD"),
                    "expected NPV + CVaR weight x CVaR, over the planning tree"),
           Headline("certified gap", quantity(result.get("gap"), "share") if result.get("gap") is not None else "-")]
    projects = pd.DataFrame(result.get("projects_table") or [])
    if len(projects):
        counts = projects.action_now.value_counts()
        now = ", ".join(f"{action} {counts[action]}" for action in sorted(counts.index, key=lambda a: ACTION_ORDER.get(
            a, 9)))
        out.append(Headline("what to do now", now, f"{len(projects)} projects"))
        live = float((projects.power_mw * projects.expected_live_share_at_end).sum())
        cancelled = float((projects.power_mw * projects.expected_cancelled_share).sum())
        out.append(Headline("expected live at the end", quantity(live, "MW"),
                            f"of {quantity(float(projects.power_mw.sum()), 'MW')} in the pipeline"))
        out.append(Headline("expected cancelled", quantity(cancelled, "MW")))
    ev = result.get("evaluation") or {}
    stochastic, deterministic = ev.get("stochastic"), ev.get("deterministic")
    if isinstance(stochastic, dict) and "mean_npv_usd" in stochastic:
        out.append(Headline("out-of-sample mean NPV", quantity(stochastic["mean_npv_usd"], "USD"),
                            f"CVaR {quantity(stochastic.get('cvar_npv_usd'), 'USD')}"))
        if isinstance(deterministic, dict) and "mean_npv_usd" in deterministic:
            edge = stochastic["mean_npv_usd"] - deterministic["mean_npv_usd"]
            out.append(Headline("value of pacing under uncertainty", quantity(edge, "USD"),
                                "mean NPV over building to the mean forecast"))
    return out


def _plan_tables(result: dict[str, Any]) -> list[TableView]:
    out = []
    projects = pd.DataFrame(result.get("projects_table") or [])
    if len(projects):
        order = projects.action_now.map(lambda a: ACTION_ORDER.get(a, 9))
        projects = projects.assign(_order=order).sort_values(["_order", "project"]).drop(columns="_order")
        columns = [c for c in ("project", "region", "power_mw", "ownership", "stage_now", "action_now",
                               "expected_live_share_at_end", "expected_cancelled_share", "half_live_by")
                   if c in projects.columns]
        frame = projects[columns].rename(columns={"action_now": "action now",
                                                  "expected_live_share_at_end": "expected live share at end",
                                                  "expected_cancelled_share": "expected cancelled share"})
        out.append(TableView.of(frame, "what to do now, per project", name="projects",
                                row_classes=[f"action-{a}" for a in projects.action_now],
                                glossary={k: v for k, v in ACTION_MEANING.items() if k in set(projects.action_now)},
                                note="Actions at the first quarter (the decision to take now); shares are expected "
                                     "over the scenarios; 'half live by' is the first quarter the expected live share "
                                     "reaches one half."))
    ev = result.get("evaluation") or {}
    rows = [{"policy": k, **{c: v.get(c) for c in EVALUATION_COLUMNS}} for k, v in ev.items()
            if isinstance(v, dict) and "mean_npv_usd" in v]
    if rows:
        frame = pd.DataFrame(rows)
        glossary = {p: POLICY_MEANING.get(p, "") for p in frame.policy} | COLUMN_MEANING
        out.append(TableView.of(frame, "policies compared on fresh demand paths", glossary=glossary,
                                row_classes=[f"policy-{p}" for p in frame.policy]))
    return out


# -- markets and demand ----------------------------------------------------------------------------
def _market_headline(result: dict[str, Any]) -> list[Headline]:
    totals = result.get("totals") or {}
    out = []
    for key, text in (("released_mw", "released"), ("absorbed_mw", "absorbed")):
        values = {p: v for p, v in (totals.get(key) or {}).items() if v}
        if values:
            out.append(Headline(f"capacity {text}", quantity(sum(values.values()), "MW"),
                                ", ".join(f"{p} {quantity(v, 'MW')}" for p, v in values.items())))
    spend = result.get("tenant_spend_usd") or {}
    for tenant, years in list(spend.items())[:3]:
        known = [y for y, v in years.items() if v] if isinstance(years, dict) else []
        if known:
            year = max(known)
            out.append(Headline(f"{tenant}: compute spend {year}", quantity(years[year], "USD")))
    return out


def _market_tables(result: dict[str, Any]) -> list[TableView]:
    totals = result.get("totals") or {}
    released, absorbed = totals.get("released_mw") or {}, totals.get("absorbed_mw") or {}
    providers = sorted(set(released) | set(absorbed))
    if not providers:
        return []
    frame = pd.DataFrame({"provider": providers, "released_mw": [released.get(p, 0.0) for p in providers],
                          "absorbed_mw": [absorbed.get(p, 0.0) for p in providers]})
    out = [TableView.of(frame, "capacity released and absorbed, per provider (whole horizon)", name="providers")]
    spend = result.get("tenant_spend_usd") or {}
    if spend:
        years = sorted({y for v in spend.values() for y in v})
        frame = pd.DataFrame([{"tenant": t, **{f"spend_{y}_usd": v.get(y) for y in years}} for t, v in spend.items()])
        out.append(TableView.of(frame, "tenants' compute spend by year", name="tenants"))
    return out


def _demand_headline(result: dict[str, Any]) -> list[Headline]:
    out = []
    for key, unit, text in (("gpus_h100e", "H100e", "compute demand"), ("facility_mw", "MW", "facility power"),
                            ("inference_share", "share", "inference share")):
        values = result.get(key) or {}
        known = [y for y, v in values.items() if v is not None] if isinstance(values, dict) else []
        if known:
            year = max(known)
            out.append(Headline(f"{text} {year}", quantity(values[year], unit), "expected"))
    return out


def _facts_table(facts: list[dict[str, Any]]) -> TableView:
    from pacer.facts import facts_frame

    frame = facts_frame(facts)
    within = sum(bool(f.get("within")) for f in facts)
    return TableView(title=f"reported vs simulated: {within} of {len(facts)} facts within their band",
                     columns=[str(c) for c in frame.columns],
                     rows=[[str(v) for v in r] for r in frame.itertuples(index=False)],
                     numeric=[False] * len(frame.columns), name="facts",
                     row_classes=["fact" if f.get("within") else "fact outside" for f in facts])


def assumptions_table(scenario_text: str) -> TableView | None:
    """The assumptions a person changes most (the what-if knobs), as the scenario text sets them."""
    import yaml

    from pacer.whatif import stated_assumptions

    try:
        data = yaml.safe_load(scenario_text)
    except (yaml.YAMLError, RecursionError):
        return None
    rows = stated_assumptions(data) if isinstance(data, dict) else []
    if not rows:
        return None
    return TableView(title="input assumptions", columns=["assumption", "value", "path"],
                     rows=[[r["label"], quantity(r["value"], r["unit"] if r["unit"] in ("share", "USD") else "")
                            + ("" if r["unit"] in ("share", "USD", "") else f" {r['unit']}"), r["path"]]
                           for r in rows], numeric=[False, True, False], name=None,
                     note="As the run's scenario states them (a field left out takes its default).")
