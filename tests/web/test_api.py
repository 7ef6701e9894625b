"""The JSON API with FastAPI's test client: contracts, bad input (422/413/404), the write token, SSE."""

from __future__ import annotations

import json
import warnings

import pytest
import yaml

from pacer.store import RunStore
from pacer.web import MAX_BODY_BYTES, create_app
from tests.plan.conftest import mini

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def scenario_file(tmp_path):
    path = tmp_path / "mini.yaml"
    raw = mini()
    raw["provider"]["evaluation"] = {"paths": 20, "perfect_foresight_paths": 1}
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture
def client(tmp_path, scenario_file):
    app = create_app(RunStore(tmp_path / "runs.duckdb"), scenarios=[str(scenario_file)], run_executor="local")
    return TestClient(app)


def _finish(client, job: dict) -> dict:
    events = []
    with client.stream("GET", job["events"]) as stream:
        kind = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((kind, json.loads(line.removeprefix("data: "))))
    return {"events": events, "last": events[-1]}


def test_health_and_catalog(client):
    assert client.get("/api/health").json()["status"] == "ok"
    assert any(a["id"] == "h100-sxm" for a in client.get("/api/catalog/accelerators").json())
    assert any(m["id"] == "llama-3.1-70b" for m in client.get("/api/catalog/models").json())


def test_sizing(client):
    r = client.post("/api/size/inference", json={"model": "llama-3.1-70b", "accelerator": "h100-sxm", "count": 2})
    assert r.status_code == 200 and r.json()["fits"] is True and r.json()["raw"]["max_output_tokens_per_s"] > 0
    bad = client.post("/api/size/inference", json={"model": "llama-9", "accelerator": "h100-sxm"})
    assert bad.status_code == 422 and bad.json()["field"] == "model"
    assert client.post("/api/size/inference", json={"model": "x", "accelerator": "y", "count": 0}).status_code == 422


def test_invalid_scenario_gets_422_with_the_field_path(client):
    raw = mini()
    raw["provider"]["projects"][1]["power_mw"] = -3
    r = client.post("/api/scenarios/validate", json={"yaml": yaml.safe_dump(raw)})
    assert r.status_code == 422 and r.json()["field"] == "provider.projects[1].power_mw"
    r = client.post("/api/runs", json={"kind": "plan", "yaml": yaml.safe_dump(raw)})
    assert r.status_code == 422
    assert client.post("/api/scenarios/validate", json={"yaml": "a: [1"}).status_code == 422
    assert client.post("/api/scenarios/validate", json={"yaml": "x: 1", "file": "mini.yaml"}).status_code == 422


def test_server_reads_no_files_but_its_own(client, tmp_path):
    raw = mini()
    raw["provider"]["projects_csv"] = "/etc/passwd"
    r = client.post("/api/scenarios/validate", json={"yaml": yaml.safe_dump(raw)})
    assert r.status_code == 422 and r.json()["field"] == "provider.projects_csv"
    raw = mini()
    raw["demand"]["table"] = str(tmp_path / "secret.csv")
    assert client.post("/api/scenarios/validate", json={"yaml": yaml.safe_dump(raw)}).status_code == 422
    r = client.post("/api/scenarios/validate", json={"file": "../../etc/passwd"})
    assert r.status_code == 422 and r.json()["field"] == "file"
    assert client.get("/api/scenarios/passwd").status_code == 404
    assert client.get("/static/..%2Fapp.py").status_code == 404
    assert client.get("/static/app.css").status_code == 200
    assert client.post("/api/scenarios/validate", json={"file": "mini.yaml"}).json()["valid"] is True


def test_body_over_the_limit_gets_413(client):
    r = client.post("/api/scenarios/validate", content=b"{" + b" " * (MAX_BODY_BYTES + 10) + b"}",
                    headers={"content-type": "application/json"})
    assert r.status_code == 413

    def chunks():
        for _ in range(3):
            yield b" " * (MAX_BODY_BYTES // 2)

    streamed = client.post("/api/size/inference", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 411  # a body without a length is refused before it is read
    plain_text = client.post("/api/size/inference", content=b'{"model": "x"}', headers={"content-type": "text/plain"})
    assert plain_text.status_code == 415


def test_hostile_yaml_is_refused_cheaply(client):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nname: *b\n"
    r = client.post("/api/scenarios/validate", json={"yaml": bomb})
    assert r.status_code == 422 and "alias" in r.json()["detail"]
    r = client.post("/api/scenarios/validate", json={"yaml": "provider: [1]"})
    assert r.status_code == 422
    raw = mini()
    raw["name"] = ["x" * 5000] * 50  # a huge wrong value: the message stays short
    r = client.post("/api/scenarios/validate", json={"yaml": yaml.safe_dump(raw)})
    assert r.status_code == 422 and r.json()["field"] == "name" and len(r.json()["detail"]) < 400


def test_too_many_queued_runs_get_429(client, monkeypatch):
    import pacer.web.jobs as web_jobs

    monkeypatch.setattr(web_jobs, "MAX_PENDING_JOBS", 0)
    r = client.post("/api/runs", json={"kind": "demand", "file": "mini.yaml"})
    assert r.status_code == 429


def test_unknown_run_ids_get_404(client):
    for path in ("/api/runs/nope", "/api/runs/nope/figures"):
        assert client.get(path).status_code == 404
    assert client.delete("/api/runs/nope").status_code == 404
    assert client.get("/runs/nope").status_code == 404
    assert client.get("/api/jobs/nope").status_code == 404


def test_start_a_run_follow_it_and_read_it_back(client):
    r = client.post("/api/runs", json={"kind": "plan", "file": "mini.yaml"})
    assert r.status_code == 202
    done = _finish(client, r.json())
    kinds = [k for k, _ in done["events"]]
    assert kinds[0] == "progress" and kinds[-1] == "done" and "solving the stochastic plan" in str(done["events"])
    run_id = done["last"][1]["run_id"]
    listed = client.get("/api/runs").json()
    assert [x["run_id"] for x in listed] == [run_id]
    run = client.get(f"/api/runs/{run_id}").json()
    assert run["kind"] == "plan" and run["metrics"]["status"] == "optimal" and run["result"]["decisions"]
    names = [f["name"] for f in client.get(f"/api/runs/{run_id}/figures").json()]
    assert names == ["capacity_vs_demand", "pacing_gantt", "gpu_fleet", "cash_and_npv"]
    compared = client.get("/api/compare", params={"ids": [run_id, run_id]}).json()
    assert [r["run_id"] for r in compared["runs"]] == [run_id]  # a run named twice is shown once
    assert "objective_usd" in [m["metric"] for m in compared["metrics"]]
    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200 and "plan: mini" in page.text


def test_a_failing_run_reports_its_error(client):
    raw = mini()
    raw["provider"]["planning"] = {"solver": "no-such-solver"}
    r = client.post("/api/runs", json={"kind": "plan", "yaml": yaml.safe_dump(raw)})
    assert r.status_code == 202
    kind, data = _finish(client, r.json())["last"]
    assert kind == "error" and data["error"] and data["run_id"] is None
    assert client.get("/api/runs").json() == []  # nothing stored


def test_token_guards_writes_only(tmp_path, scenario_file):
    app = create_app(RunStore(tmp_path / "t.duckdb"), token="s3cret", scenarios=[str(scenario_file)],
                     run_executor="local")
    c = TestClient(app)
    assert c.get("/api/runs").status_code == 200  # reads are open
    # Validating burns CPU on what a client sends: it needs the token too (with it: 200).
    assert c.post("/api/scenarios/validate", json={"file": "mini.yaml"}).status_code == 401
    assert c.post("/api/scenarios/validate", json={"file": "mini.yaml"},
                  headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert c.post("/api/runs", json={"kind": "demand", "file": "mini.yaml"}).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert c.post("/api/runs", json={"kind": "demand", "file": "mini.yaml"}, headers=wrong).status_code == 401
    good = {"Authorization": "Bearer s3cret"}
    r = c.post("/api/runs", json={"kind": "demand", "file": "mini.yaml"}, headers=good)
    assert r.status_code == 202
    run_id = _finish(c, r.json())["last"][1]["run_id"]
    assert c.delete(f"/api/runs/{run_id}").status_code == 401
    assert c.delete(f"/api/runs/{run_id}", headers=good).status_code == 200


def test_kind_needs_its_section(client):
    raw = mini()
    del raw["provider"]
    r = client.post("/api/runs", json={"kind": "plan", "yaml": yaml.safe_dump(raw)})
    assert r.status_code == 422 and r.json()["field"] == "provider"
    r = client.post("/api/runs", json={"kind": "simulate", "file": "mini.yaml"})
    assert r.status_code == 422 and r.json()["field"] == "market"


def test_an_unproven_plan_is_shown_as_such_never_as_a_plan(tmp_path):
    """A plan taken with --accept-gap is stored with its status; the run list, its page and the report
    carry a red warning."""
    from fastapi.testclient import TestClient

    from pacer.plan import plan
    from pacer.report.html import render_report
    from pacer.report.runs import save_run
    from pacer.scenario import parse_scenario
    from tests.plan.conftest import mini

    result = plan(parse_scenario(mini()), evaluate_out_of_sample=False)
    result.outcome.status, result.outcome.mip_gap = "accepted_gap", 0.03
    store = RunStore(tmp_path / "u.duckdb")
    run_id = save_run(store, result, scenario_path=None, scenario_text=None, parameters={}, seconds=1.0)
    assert store.get(run_id)["status"] == "accepted_gap"
    client = TestClient(create_app(store, run_executor="local"))
    assert "Unproven plan: status accepted_gap" in client.get(f"/runs/{run_id}").text
    assert "(unproven)" in client.get("/runs").text
    assert "Unproven plan: status accepted_gap" in render_report([store.get(run_id)], {}, "t")
    assert "plan not proven optimal (accepted_gap): gap 3.00%" in result.to_dict()["warning"]


def test_a_foreign_host_header_is_refused(tmp_path):
    """Probe failure (issue 13): a DELETE with Host: attacker.example deleted a run (DNS rebinding)."""
    from fastapi.testclient import TestClient

    app = create_app(RunStore(tmp_path / "runs.duckdb"), run_executor="local", allowed_hosts=["127.0.0.1"])
    client = TestClient(app, base_url="http://127.0.0.1")
    assert client.get("/api/runs").status_code == 200
    assert client.delete("/api/runs/abc", headers={"host": "attacker.example"}).status_code == 400
    assert client.get("/api/runs", headers={"host": "attacker.example"}).status_code == 400


def test_a_public_bind_needs_a_token(pacer_cli):
    run = pacer_cli("serve", "--host", "0.0.0.0")
    assert run.code == 2 and "needs --token" in run.err


def test_nan_in_posted_json_is_a_422(tmp_path):
    """Probe failure (issue 13): a NaN literal in posted JSON gave 500."""
    from fastapi.testclient import TestClient

    client = TestClient(create_app(RunStore(tmp_path / "runs.duckdb"), run_executor="local"))
    body = '{"model": "llama-3.1-8b", "accelerator": "h100-sxm", "rate_rps": NaN}'
    r = client.post("/api/size/inference", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422
