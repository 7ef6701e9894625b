"""Pages and API for people: decisions first, unproven plans flagged, data out, what-if, compare with diffs."""

from __future__ import annotations

import io
import json
import warnings

import duckdb
import pandas as pd
import pytest
import yaml

from pacer.report.html import render_report
from pacer.report.present import run_view
from pacer.store import RunStore
from pacer.web import create_app
from tests.plan.conftest import mini

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PROJECTS = [
    {"project": "land-1", "region": "us", "power_mw": 200.0, "ownership": "leased", "stage_now": "land",
     "action_now": "cancel", "expected_live_share_at_end": 0.0, "expected_cancelled_share": 1.0, "half_live_by": "-"},
    {"project": "shell-1", "region": "us", "power_mw": 100.0, "ownership": "owned", "stage_now": "shell",
     "action_now": "advance", "expected_live_share_at_end": 0.9, "expected_cancelled_share": -1.1e-13,
     "half_live_by": "2026Q2"},
]
EVALUATION = {p: {"mean_npv_usd": v, "cvar_npv_usd": v / 2, "utilisation": 0.8, "stranded_mw": 3.0,
                  "unserved_share": 0.05, "cancelled_mw": 100.0}
              for p, v in (("stochastic", 6.2e8), ("deterministic", 5.9e8))}


def save_plan(store: RunStore, status: str = "optimal", text: str | None = None, objective: float = 7.67e8) -> str:
    """A plan run as the store keeps it, without solving (the views read only what is stored)."""
    result = {"status": status, "objective_usd": objective, "gap": 0.0 if status == "optimal" else 0.07,
              "projects_table": PROJECTS, "evaluation": EVALUATION, "decisions": [], "facts": []}
    metrics = {"status": status, "objective_usd": objective, "gap": result["gap"], "projects": 2,
               "stochastic_mean_npv_usd": 6.2e8}
    curve = {"data": [{"type": "scatter", "x": ["2025Q1", "2025Q2"], "y": [1.0, objective / 1e9], "name": "a"}],
             "layout": {"title": {"text": "t"}}}
    return store.save("plan", scenario_name="mini", scenario_path=None, scenario_text=text, parameters={},
                      metrics=metrics, result=result, status=status, seconds=12.5,
                      tables={"projects": pd.DataFrame(PROJECTS)},
                      figures=[("capacity_vs_demand", "capacity vs demand", json.dumps(curve))])


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs.duckdb")


@pytest.fixture
def client(store, tmp_path):
    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(mini()))
    return TestClient(create_app(store, token="t0k", scenarios=[str(path)], run_executor="local"))


AUTH = {"Authorization": "Bearer t0k"}


def test_a_plan_view_leads_with_the_decision_in_numbers_for_people(store):
    run_id = save_plan(store, text=yaml.safe_dump(mini()))
    view = run_view(store.get(run_id), store.scenario_text(run_id))
    assert view.proven and not view.warnings
    head = {h.label: h.value for h in view.headline}
    assert head["status"] == "proven optimal" and head["objective"] == "$767M"
    assert head["what to do now"] == "cancel 1, advance 1"
    assert head["expected live at the end"] == "90 MW" and head["value of pacing under uncertainty"] == "$30M"
    decisions = view.tables[0]
    assert decisions.title.startswith("what to do now") and decisions.name == "projects"
    assert decisions.rows[0][:6] == ["land-1", "us", "200 MW", "leased", "land", "cancel"]  # cancellations first
    assert decisions.rows[1][7] == "0%"  # a -1.1e-13 residue reads 0
    assert "cancel" in decisions.glossary and "advance" in decisions.glossary
    policies = view.tables[1]
    assert policies.rows[0][:3] == ["stochastic", "$620M", "$310M"] and "perfect_foresight" not in policies.glossary
    assert "CVaR NPV" in policies.glossary
    assumptions = next(t for t in view.tables if t.title == "input assumptions")
    assert ["CVaR weight (risk aversion)", "0", "provider.cvar.weight"] not in assumptions.rows  # mini leaves it out
    assert any(r[2] == "provider.economics.revenue_usd_per_h100e_hour.inference" for r in assumptions.rows)
    text = json.dumps(view.to_dict())
    assert "e+" not in text and "e-1" not in text


def test_an_unproven_plan_is_red_on_its_page_the_list_and_the_report(store, client):
    run_id = save_plan(store, status="time_limit")
    view = run_view(store.get(run_id))
    assert not view.proven and view.warnings[0].startswith("Unproven plan: status time_limit, gap 7%")
    page = client.get(f"/runs/{run_id}").text
    assert "Unproven plan" in page and 'class="warning unproven"' in page
    assert page.index("Unproven plan") < page.index("what to do now")  # at the top
    listing = client.get("/runs").text
    assert "(unproven)" in listing
    report = render_report([store.get(run_id)], {}, "r")
    assert "Unproven plan" in report and report.index("Unproven plan") < report.index("what to do now")


def test_tables_download_as_csv_parquet_and_json_and_the_scenario_as_run(store, client):
    run_id = save_plan(store, text="name: mini\n")
    assert client.get(f"/api/runs/{run_id}/tables").json() == ["projects"]
    csv = client.get(f"/api/runs/{run_id}/tables/projects?format=csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    assert pd.read_csv(io.StringIO(csv.text)).project.tolist() == ["land-1", "shell-1"]
    parquet = client.get(f"/api/runs/{run_id}/tables/projects?format=parquet")
    path = store.path.parent / "t.parquet"
    path.write_bytes(parquet.content)
    assert duckdb.sql(f"SELECT count(*) FROM '{path}'").fetchone() == (2,)
    assert client.get(f"/api/runs/{run_id}/tables/projects?format=json").json()[0]["project"] == "land-1"
    assert client.get(f"/api/runs/{run_id}/tables/projects?format=xls").status_code == 422
    assert client.get(f"/api/runs/{run_id}/tables/nope").status_code == 404
    assert client.get("/api/runs/nope/tables").status_code == 404
    assert client.get(f"/api/runs/{run_id}/scenario").text == "name: mini\n"
    assert client.get(f"/api/runs/{save_plan(store)}/scenario").status_code == 404  # saved without text
    page = client.get(f"/runs/{run_id}").text
    assert f"/api/runs/{run_id}/tables/projects?format=csv" in page  # a download button on the page


def test_compare_shows_the_input_diff_metric_deltas_and_overlays(store, client):
    base = yaml.safe_dump(mini())
    edited = yaml.safe_dump({**mini(), "facility": {"pue": 1.4}})
    a, b = save_plan(store, text=base), save_plan(store, text="# a comment\n" + edited, objective=9.87e8)
    view = client.get("/api/compare", params={"ids": [a, b]}).json()
    lines = view["diffs"][0]["lines"]
    assert "+  pue: 1.4" in lines and not any("comment" in line for line in lines)  # data, not formatting
    objective = next(m for m in view["metrics"] if m["metric"] == "objective_usd")
    assert objective["values"] == ["$767M", "$987M"] and objective["deltas"] == ["", "+$220M"]
    assert not next(m for m in view["metrics"] if m["metric"] == "projects")["changed"]
    gap = next(m for m in view["metrics"] if m["metric"] == "gap")
    assert gap["deltas"] == ["", ""]
    assert [o["name"] for o in view["overlays"]] == ["capacity_vs_demand"]
    assert len(view["overlays"][0]["figure"]["data"]) == 2
    page = client.get(f"/compare?ids={a}&ids={b}").text
    assert "+  pue: 1.4" in page and "+$220M" in page
    missing = client.get(f"/compare?ids={a}&ids=nope")
    assert missing.status_code == 404 and "no such run" in missing.text


def test_run_list_filters_sorts_shows_key_numbers_and_deletes_with_the_token(store, client):
    plan_id = save_plan(store)
    other = store.save("demand", scenario_name="other", scenario_path=None, scenario_text=None, parameters={},
                       metrics={"gpus_h100e_2027": 1.68e6, "facility_mw_2027": 2100.0}, result={}, seconds=1.0)
    page = client.get("/runs?kind=plan").text
    assert plan_id in page and other not in page and "$767M" in page
    page = client.get("/runs?scenario=other").text
    assert other in page and plan_id not in page and "1,680,000 H100e" in page.replace("1.68M H100e", "1,680,000 H100e")
    assert client.get("/runs?sort=seconds").status_code == 200
    assert client.get("/runs?sort=sideways").status_code == 422
    assert client.delete(f"/api/runs/{other}").status_code == 401
    assert client.delete(f"/api/runs/{other}", headers=AUTH).status_code == 200
    assert other not in client.get("/runs").text


def test_what_if_knobs_overrides_and_errors_at_the_field(client, store):
    knobs = client.post("/api/scenarios/knobs", json={"file": "mini.yaml"}, headers=AUTH).json()
    paths = {k["path"]: k for k in knobs}
    for path in ("demand.drivers.tokens_served.annual_growth", "facility.pue", "provider.cvar.weight",
                 "provider.planning.leaves", "provider.planning.time_limit_s",
                 "provider.economics.third_party_usd_per_h100e_hour.inference"):
        assert path in paths
    assert paths["provider.planning.leaves"]["integer"] and paths["facility.pue"]["low"] == 1.0
    bad = client.post("/api/scenarios/validate", json={"file": "mini.yaml", "overrides": {"facility.pue": 0.5}},
                      headers=AUTH)
    assert bad.status_code == 422 and bad.json()["field"] == "facility.pue"
    unknown = client.post("/api/scenarios/validate", json={"file": "mini.yaml", "overrides": {"name": 1}},
                          headers=AUTH)
    assert unknown.status_code == 422 and unknown.json()["field"] == "name"
    half = client.post("/api/scenarios/validate",
                       json={"file": "mini.yaml", "overrides": {"provider.planning.leaves": 2.5}}, headers=AUTH)
    assert half.status_code == 422 and "whole number" in half.json()["detail"]
    r = client.post("/api/runs", json={"kind": "demand", "file": "mini.yaml",
                                       "overrides": {"demand.drivers.tokens_served.annual_growth": 4.0}}, headers=AUTH)
    assert r.status_code == 202
    job_id = r.json()["job_id"]
    import time

    for _ in range(600):
        jobs = client.get("/api/jobs").json()
        if jobs[0]["status"] in ("done", "error"):
            break
        time.sleep(0.1)
    assert jobs[0]["job_id"] == job_id and jobs[0]["status"] == "done", jobs[0]
    assert all("elapsed_s" in s for s in jobs[0]["steps"])
    run_id = jobs[0]["run_id"]
    text = client.get(f"/api/runs/{run_id}/scenario").text
    assert yaml.safe_load(text)["demand"]["drivers"]["tokens_served"]["annual_growth"] == 4.0  # kept as it ran
    assert store.get(run_id)["parameters"]["overrides"] == {"demand.drivers.tokens_served.annual_growth": 4.0}
    assert "(what-if: 1 change)" in client.get("/runs").text  # not read as the file's own run


def test_pages_load_plotly_only_with_charts_and_serve_it_compressed(client, store):
    run_id = save_plan(store)
    assert "plotly.min.js" not in client.get("/runs").text
    assert "plotly.min.js" in client.get(f"/runs/{run_id}").text
    js = client.get("/static/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    assert js.status_code == 200 and js.headers["content-encoding"] == "gzip"
    assert int(js.headers["content-length"]) < 2_000_000
    assert client.get("/favicon.ico").headers["content-type"].startswith("image/svg")
    assert "favicon.svg" in client.get("/runs").text


def test_a_store_from_before_scenario_texts_opens_and_keeps_its_runs(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE runs (run_id VARCHAR PRIMARY KEY, created_at TIMESTAMP NOT NULL, kind VARCHAR NOT NULL, "
                "scenario_name VARCHAR, scenario_path VARCHAR, scenario_hash VARCHAR, parameters JSON, "
                "pacer_version VARCHAR, status VARCHAR, seconds DOUBLE, metrics JSON, result JSON)")
    con.execute("INSERT INTO runs VALUES ('old1', now()::TIMESTAMP, 'demand', 's', NULL, NULL, '{}', '0', 'ok', 1, "
                "'{}', '{}')")
    con.close()
    store = RunStore(path)
    assert store.get("old1")["kind"] == "demand" and store.scenario_text("old1") is None
    new = store.save("demand", scenario_name="s", scenario_path=None, scenario_text="name: s\n", parameters={},
                     metrics={}, result={})
    assert store.scenario_text(new) == "name: s\n"


def test_a_run_stored_by_another_version_still_opens(store, client):
    """A stored result that lacks fields the view reads: the page says so and shows the rest (never a 500)."""
    odd = store.save("plan", scenario_name="old", scenario_path=None, scenario_text=None, parameters={},
                     metrics={"objective_usd": 1e9}, result={"projects_table": [{"project": "a"}],
                                                             "evaluation": {"stochastic": {"mean_npv_usd": None}}},
                     status="optimal")
    page = client.get(f"/runs/{odd}")
    assert page.status_code == 200 and "cannot be shown" in page.text and "$1.0B" in page.text
    assert client.get(f"/api/runs/{odd}/view").status_code == 200


def test_deeply_bracketed_yaml_is_refused_before_parsing(client):
    """YAML's parser slows steeply with bracket depth: such text is refused at once, not after a timeout."""
    import time

    start = time.perf_counter()
    r = client.post("/api/scenarios/validate", json={"yaml": "[" * 200_000}, headers=AUTH)
    assert r.status_code == 422 and "nests too deeply" in r.json()["detail"]
    assert time.perf_counter() - start < 5


def test_a_change_of_a_share_reads_in_percentage_points(store):
    from pacer.report.compare import comparison

    a = store.save("demand", scenario_name="a", scenario_path=None, scenario_text="a: 1", parameters={},
                   metrics={"inference_share_2027": 0.2, "gpus_h100e_2027": 1000.0}, result={})
    b = store.save("demand", scenario_name="a", scenario_path=None, scenario_text="a: 2", parameters={},
                   metrics={"inference_share_2027": 0.25, "gpus_h100e_2027": 1000.2}, result={})
    deltas = {m["metric"]: m["deltas"] for m in comparison(store, [a, b]).metrics}
    assert deltas == {"inference_share_2027": ["", "+5 pp"], "gpus_h100e_2027": ["", ""]}  # 0.2 H100e reads 0
