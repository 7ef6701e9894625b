"""Fuzzing the HTTP API (hypothesis): whatever a client sends, the answer is a success or a one-line error,
never a traceback or a 500. Jobs are not run here (their start is recorded instead): only input handling."""

from __future__ import annotations

import json
import string
import warnings

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pacer.store import RunStore
from pacer.web import create_app
from pacer.web.jobs import Job
from tests.plan.conftest import mini

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

FIELDS = ["yaml", "file", "kind", "overrides", "accept_gap", "model", "accelerator", "count", "precision",
          "input_tokens", "output_tokens", "ttft_ms", "tpot_ms", "rate_rps", "stack", "mode"]
KNOB_PATHS = ["facility.pue", "provider.cvar.weight", "provider.planning.leaves", "demand.drivers.correlation",
              "demand.uncertainty.leaves", "name", "provider.discount_rate", ""]
scalars = (st.none() | st.booleans() | st.integers(min_value=-10**20, max_value=10**20)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
           | st.sampled_from(["demand", "plan", "simulate", "mini.yaml", "llama-3.1-8b", "h100-sxm", "fp8", "fp4"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.sampled_from(KNOB_PATHS) | st.text(max_size=8), inner, max_size=4),
                      max_leaves=10)
bodies = st.dictionaries(st.sampled_from(FIELDS), values, max_size=6)
POSTS = ["/api/scenarios/validate", "/api/scenarios/knobs", "/api/runs", "/api/size/inference"]
segment = st.text(alphabet=string.ascii_letters + string.digits + "-_.%~", min_size=1, max_size=20)
OK = {200, 202}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "mini.yaml").write_text(yaml.safe_dump(mini()))
    app = create_app(RunStore(folder / "runs.duckdb"), scenarios=[str(folder / "mini.yaml")], run_executor="local")
    started = []

    def record(kind, scenario, text, path, options):  # input handling only: no solve in a fuzz test
        started.append(kind)
        return Job(kind=kind, scenario_name=scenario.name)

    app.state.jobs.start = record
    return TestClient(app)


def _one_line_error(response) -> None:
    assert response.status_code < 500, response.text[:300]
    if response.status_code not in OK and response.headers.get("content-type", "").startswith("application/json"):
        detail = response.json()["detail"]
        assert isinstance(detail, str) and detail and "\n" not in detail and "Traceback" not in detail, detail


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(POSTS), body=bodies)
def test_posted_json_is_answered_in_one_line(client, path, body):
    response = client.post(path, json=body)
    _one_line_error(response)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(POSTS), raw=st.binary(max_size=200) | st.sampled_from(
    [b'{"kind": NaN}', b'{"count": Infinity}', b"[1, 2", b'{"yaml": "a: *b"}', b'"just a string"', b"null"]))
def test_raw_bodies_are_answered_in_one_line(client, path, raw):
    response = client.post(path, content=raw, headers={"Content-Type": "application/json"})
    _one_line_error(response)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300) | st.sampled_from(["name: x", "horizon: {start: 2023Q1, end: 2999Q4}",
                                                     "[" * 200, "a: &x [1]\nb: *x", "demand: 3"]),
       overrides=st.dictionaries(st.sampled_from(KNOB_PATHS), scalars, max_size=3))
def test_posted_scenarios_are_answered_in_one_line(client, text, overrides):
    body = {"yaml": text, "overrides": {k: v for k, v in overrides.items()}}
    for path in ("/api/scenarios/validate", "/api/scenarios/knobs"):
        _one_line_error(client.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"}))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(template=st.sampled_from(["/api/runs/{a}", "/api/runs/{a}/tables/{b}?format={c}", "/api/runs/{a}/view",
                                 "/api/runs/{a}/scenario", "/api/runs/{a}/figures", "/api/compare?ids={a}&ids={b}",
                                 "/api/runs?limit={c}&kind={b}", "/runs?sort={c}&kind={a}", "/compare?ids={a}",
                                 "/api/jobs/{a}", "/runs/{a}", "/api/scenarios/{a}", "/static/{a}",
                                 "/api/runs?limit=1e20", "/runs?status={b}"]),
       a=segment, b=segment, c=segment | st.sampled_from(["csv", "json", "parquet", "0", "-1", "99999999999"]))
def test_any_address_is_answered_without_a_500(client, template, a, b, c):
    response = client.get(template.format(a=a, b=b, c=c))
    assert response.status_code < 500, (template, response.text[:200])
