"""The sizing calculator's API (pacer.web.sizing): an answer for people, reasons, limits honoured,
precisions per accelerator, the cost-latency front, one-line 422s; a fuzz test over the request body."""

from __future__ import annotations

import itertools
import json
import math
import re
import time
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pacer.store import RunStore
from pacer.web import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SCIENTIFIC = re.compile(r"\d[eE][+-]?\d")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app = create_app(RunStore(tmp_path_factory.mktemp("sizing") / "runs.duckdb"), run_executor="local")
    return TestClient(app)


def size(client, **body):
    return client.post("/api/size/inference", json=body)


def texts(answer: dict) -> list[str]:
    return [o["text"] for o in answer["outputs"]] + [answer["summary"], answer["reason"] or "", answer["shown"] or ""]


def outputs(answer: dict) -> dict[str, dict]:
    return {o["name"]: o for o in answer["outputs"]}


def test_a_model_that_fits_reads_as_labelled_numbers(client):
    r = size(client, model="llama-3.1-70b", accelerator="h100-sxm", count=2)
    assert r.status_code == 200
    a = r.json()
    assert a["fits"] is True and a["meets_limits"] is True and a["reason"] is None and a["shown"] is None
    assert a["inputs"] == {"model": "llama-3.1-70b", "accelerator": "h100-sxm", "count": 2, "precision": "fp8",
                           "input_tokens": 1000, "output_tokens": 1000, "ttft_ms": None, "tpot_ms": None,
                           "rate_rps": None, "stack": None, "mode": "aggregated", "tensor_parallel": None,
                           "max_batch": None}
    out = outputs(a)
    assert {"accelerators", "layout", "batch", "ttft_ms", "tpot_ms", "output_tokens_per_s",
            "usd_per_million_output_tokens", "power_kw", "memory_gb_per_gpu"} <= set(out)
    assert all(o["label"] and o["text"] and o["flag"] is None for o in a["outputs"])
    assert out["accelerators"]["text"] == "2 x h100-sxm"
    assert out["layout"]["text"] == "TP2 x PP1, 1 replica"
    assert re.fullmatch(r"[\d.]+ ms", out["tpot_ms"]["text"])
    assert out["tpot_ms"]["value"] == pytest.approx(a["raw"]["tpot_s"] * 1e3)
    assert re.fullmatch(r"\$[\d.]+/Mtok", out["usd_per_million_output_tokens"]["text"])
    assert re.match(r"[\d,]+ tok/s", out["output_tokens_per_s"]["text"])
    assert out["memory_gb_per_gpu"]["text"].endswith("of 80 GB HBM (weights 35.3 GB)")
    assert 35.3 < out["memory_gb_per_gpu"]["value"] <= 80
    assert out["power_kw"]["text"].startswith("2.55 kW")
    assert a["summary"].startswith("llama-3.1-70b on 2 x h100-sxm at fp8 (TP2 x PP1, 1 replica): ")
    assert a["raw"]["max_output_tokens_per_s"] > 0 and a["raw"]["fits"] is True  # the CLI's --json contract
    assert not any(SCIENTIFIC.search(t) for t in texts(a))


def test_a_model_that_does_not_fit_says_weights_against_hbm(client):
    a = size(client, model="llama-3.1-70b", accelerator="h100-sxm", count=1, precision="bf16").json()
    assert a["fits"] is False and a["meets_limits"] is False
    assert a["reason"] == ("weights 141 GB + KV cache for one request 0.655 GB exceed "
                           "the 69.6 GB usable of 1 x 80 GB HBM (h100-sxm); it fits 4 x h100-sxm")
    assert outputs(a)["memory_needed_gb"]["flag"] == "does not fit"
    assert "layout" not in outputs(a) and "tpot_ms" not in outputs(a)
    # Three accelerators: a replica spans a power-of-two layout, two of them.
    a = size(client, model="llama-3.1-70b", accelerator="h100-sxm", count=3, precision="bf16").json()
    assert a["fits"] is False and "2 x 80 GB HBM (one replica spans at most 2 of the 3 h100-sxm)" in a["reason"]


def test_memory_breakdown_explains_every_no_fit():
    from pacer.sizing import size_inference
    from pacer.sizing.inference import memory_breakdown

    for model in ("llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "mixtral-8x7b"):
        for count in (1, 2, 4, 8):
            r = size_inference(model, "h100-sxm", count, "bf16", 4000, 1000)
            m = memory_breakdown(model, "h100-sxm", count, "bf16", 4000, 1000)
            assert m.accelerators == count and m.hbm_gb == 80 * count
            assert r.fits == (m.needed_gb <= m.usable_gb), (model, count)


def test_a_tpot_limit_no_layout_meets_is_not_answered_with_a_layout(client):
    a = size(client, model="llama-3.1-70b", accelerator="h100-sxm", count=8, tpot_ms=1).json()
    assert a["fits"] is True and a["meets_limits"] is False
    match = re.fullmatch(r"no layout meets TPOT <= 1 ms: the fastest on 8 x h100-sxm is ([\d.]+) ms", a["reason"])
    assert match and float(match.group(1)) > 1
    out = outputs(a)
    assert out["tpot_ms"]["flag"] == "over the 1 ms limit"
    assert out["tpot_ms"]["value"] == pytest.approx(float(match.group(1)), rel=0.01)  # the fastest is shown...
    assert out["layout"]["flag"] and out["usd_per_million_output_tokens"]["flag"]  # ...flagged, not as the answer
    assert "not an answer" in a["shown"] and "misses TPOT <= 1 ms" in a["summary"]
    assert a["raw"]["meets_latency"] is False
    # Without a count the answer is the same kind: no layout, a reason.
    a = size(client, model="llama-3.1-70b", accelerator="h100-sxm", tpot_ms=1).json()
    assert a["meets_limits"] is False and a["reason"].startswith("no layout meets TPOT <= 1 ms")
    # Both limits out of reach; then each reachable but not together.
    a = size(client, model="llama-3.1-70b", accelerator="h100-sxm", count=8, tpot_ms=1, ttft_ms=1).json()
    assert a["reason"].startswith("no layout meets TTFT <= 1 ms or TPOT <= 1 ms: the fastest on 8 x h100-sxm reach")
    ok = size(client, model="llama-3.1-70b", accelerator="h100-sxm", count=8, tpot_ms=20, ttft_ms=60).json()
    assert ok["meets_limits"] is True and outputs(ok)["tpot_ms"]["value"] <= 20
    assert outputs(ok)["tpot_ms"]["text"].endswith("(limit 20 ms)")


def test_a_large_disaggregated_deployment_is_sized_quickly(client):
    """The pool search is bounded in the sizing layer, so the calculator takes any count it allows."""
    a = size(client, model="deepseek-v3", accelerator="h100-sxm", mode="disaggregated", count=100_000).json()
    assert a["fits"] and a["raw"]["count"] == 100_000


def test_a_rate_beyond_the_count_is_flagged_and_disaggregated_pools_read(client):
    a = size(client, model="llama-3.1-70b", accelerator="h100-sxm", count=2, rate_rps=10).json()
    needed = outputs(a)["accelerators_needed"]
    assert needed["value"] > 2 and needed["flag"] == "more than the 2 given"
    a = size(client, model="deepseek-v3", accelerator="h100-sxm", mode="disaggregated").json()
    assert a["meets_limits"] and outputs(a)["layout"]["text"].startswith("prefill ")
    a = size(client, model="deepseek-v3", accelerator="h100-sxm", mode="disaggregated", tpot_ms=1).json()
    assert a["meets_limits"] is False
    assert a["reason"] == "no disaggregated deployment of up to 288 h100-sxm meets TPOT <= 1 ms"
    a = size(client, model="deepseek-v3", accelerator="h100-sxm", mode="disaggregated", rate_rps=100_000).json()
    assert a["reason"] == "no disaggregated deployment of up to 288 h100-sxm meets 100,000 requests/s"


def test_precisions_are_those_the_accelerator_has(client):
    b200 = client.get("/api/size/options", params={"accelerator": "b200"}).json()
    h100 = client.get("/api/size/options", params={"accelerator": "h100-sxm"}).json()
    assert "fp4" in b200["precisions"] and "fp4" not in h100["precisions"]
    assert {"bf16", "fp8"} <= set(h100["precisions"]) and h100["default_precision"] == "fp8"
    assert h100["stack"] in h100["stacks"]
    assert any(m["id"] == "llama-3.1-70b" for m in h100["models"])
    assert "int8" not in client.get("/api/size/options", params={"accelerator": "gaudi3"}).json()["precisions"]
    bad = client.get("/api/size/options", params={"accelerator": "h100"})
    assert bad.status_code == 422 and bad.json()["field"] == "accelerator"


def test_the_front_is_sorted_by_latency_with_falling_cost(client):
    r = client.post("/api/size/front", json={"model": "llama-3.1-70b", "accelerator": "h100-sxm"})
    assert r.status_code == 200
    front = r.json()
    rows = front["rows"]
    assert len(rows) > 3 and front["reason"] is None and front["configurations"] >= len(rows)
    assert {row["accelerator"] for row in rows} == {"h100-sxm"}
    tpot = [row["tpot_s"] for row in rows]
    cost = [row["usd_per_million_output_tokens"] for row in rows]
    assert tpot == sorted(tpot)
    assert all(b <= a for a, b in itertools.pairwise(cost))
    assert all(re.fullmatch(r"\$[\d.,]+/Mtok", row["text"]["cost"]) for row in rows)
    assert not any(SCIENTIFIC.search(t) for row in rows for t in row["text"].values())
    fig = front["figure"]
    assert fig["layout"]["xaxis"]["type"] == "log" and any(t.get("name") == "h100-sxm" for t in fig["data"])
    # A limit none meets: no rows, a reason, and the front without the limit drawn for comparison.
    r = client.post("/api/size/front", json={"model": "llama-3.1-70b", "accelerator": "h100-sxm", "tpot_ms": 1})
    limited = r.json()
    assert limited["rows"] == []
    assert limited["reason"] == "no configuration of llama-3.1-70b on h100-sxm meets TPOT <= 1 ms"
    assert [t.get("name") for t in limited["figure"]["data"]] == ["front without the limits", "TPOT limit 1 ms"]


def test_the_front_over_every_accelerator_answers_in_seconds(client):
    started = time.perf_counter()
    r = client.post("/api/size/front", json={"model": "llama-3.1-405b", "input_tokens": 8000, "tpot_ms": 50})
    elapsed = time.perf_counter() - started
    assert r.status_code == 200 and len({row["accelerator"] for row in r.json()["rows"]}) >= 2
    assert all(row["tpot_s"] <= 0.05 for row in r.json()["rows"])
    assert elapsed < 5, f"front over every accelerator took {elapsed:.1f} s"


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/size/inference", {"model": "llama-3.1-70b", "accelerator": "h100-sxm", "count": 0}, "count"),
    ("/api/size/inference", {"model": "llama-9", "accelerator": "h100-sxm"}, "model"),
    ("/api/size/inference", {"model": "llama-3.1-70b", "accelerator": "h100"}, "accelerator"),
    ("/api/size/inference", {"model": "llama-3.1-70b", "accelerator": "h100-sxm", "precision": "fp4"}, "precision"),
    ("/api/size/inference", {"model": "llama-3.1-70b", "accelerator": "h100-sxm", "tpot_ms": -1}, "tpot_ms"),
    ("/api/size/inference", {"model": "llama-3.1-70b", "accelerator": "h100-sxm", "colour": "red"}, "colour"),
    ("/api/size/inference", {"model": "llama-3.1-8b", "accelerator": "h100-sxm", "input_tokens": 200_000},
     "input_tokens"),
    ("/api/size/inference", {"accelerator": "h100-sxm"}, "model"),
    ("/api/size/inference", {"model": "deepseek-v3", "accelerator": "h100-sxm", "mode": "disaggregated",
                             "count": 500_000}, "count"),
    ("/api/size/inference", {"model": "llama-3.1-70b", "accelerator": "h100-sxm", "count": 8, "tensor_parallel": 3},
     "tensor_parallel"),
    ("/api/size/inference", {"model": "llama-3.1-70b", "accelerator": "h100-sxm", "max_batch": 64}, "max_batch"),
    ("/api/size/front", {"model": "llama-3.1-70b", "accelerator": "h100-sxm", "precision": "fp4"}, "precision"),
    ("/api/size/front", {"model": "llama-3.1-70b", "accelerator": "x"}, "accelerator"),
    ("/api/size/front", {"model": "llama-3.1-70b", "precision": "fp4", "stack": "jetstream"}, "precision"),
    ("/api/size/front", {"model": "llama-3.1-70b", "output_tokens": 0}, "output_tokens"),
])
def test_bad_input_is_a_one_line_422_naming_the_field(client, path, body, field):
    r = client.post(path, json=body)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and r.json()["field"] == field
    assert detail.startswith(field + ":")
    if field in body:
        assert str(body[field]) in detail  # the value given is named


def test_a_stated_layout_and_batch_are_sized_as_asked(client):
    a = size(client, model="llama-3.1-70b", accelerator="h100-sxm", count=8, tensor_parallel=8, max_batch=256).json()
    assert a["raw"]["tensor_parallel"] == 8 and a["raw"]["replicas"] == 1 and 0 < a["raw"]["batch"] <= 256
    free = size(client, model="llama-3.1-70b", accelerator="h100-sxm", count=8).json()
    assert a["raw"]["max_output_tokens_per_s"] < free["raw"]["max_output_tokens_per_s"]


def test_nan_is_a_422_naming_the_field(client):
    body = '{"model": "llama-3.1-8b", "accelerator": "h100-sxm", "tpot_ms": NaN}'
    r = client.post("/api/size/inference", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["field"] == "tpot_ms"


def _json_values():
    return st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                     st.text(max_size=12), st.lists(st.integers(0, 9), max_size=3),
                     st.dictionaries(st.text(max_size=3), st.integers(0, 9), max_size=2))


_MODELS = ["llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "deepseek-v3", "mixtral-8x7b", "qwen3-235b-a22b"]
_ACCELERATORS = ["h100-sxm", "b200", "gb200", "mi300x", "tpu-v5e", "gaudi3", "a100-80gb"]
_PLAUSIBLE = st.fixed_dictionaries({
    "model": st.sampled_from(_MODELS),
    "accelerator": st.sampled_from(_ACCELERATORS),
}, optional={
    "count": st.integers(1, 10_000),
    "precision": st.sampled_from(["bf16", "fp16", "fp8", "int8", "fp4", "w8a16", "w4a16"]),
    "input_tokens": st.integers(1, 200_000),
    "output_tokens": st.integers(1, 50_000),
    "ttft_ms": st.floats(1e-3, 1e6),
    "tpot_ms": st.floats(1e-3, 1e4),
    "rate_rps": st.floats(1e-3, 1e7),
    "stack": st.sampled_from(["tuned", "trtllm", "vllm", "sglang", "jetstream"]),
    "mode": st.sampled_from(["aggregated", "disaggregated"]),
})
_FIELDS = ["model", "accelerator", "count", "precision", "input_tokens", "output_tokens", "ttft_ms", "tpot_ms",
           "rate_rps", "stack", "mode", "extra"]


@st.composite
def _bodies(draw):
    """A plausible body with none, one or two fields replaced by any JSON value (or dropped)."""
    body = draw(_PLAUSIBLE)
    for key in draw(st.lists(st.sampled_from(_FIELDS), max_size=2, unique=True)):
        if draw(st.booleans()) and key in body:
            del body[key]
        else:
            body[key] = draw(_json_values())
    return body


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_bodies())
def test_fuzzed_bodies_answer_200_or_a_one_line_422(client, body):
    r = client.post("/api/size/inference", content=json.dumps(body), headers={"content-type": "application/json"})
    assert r.status_code in (200, 422), (body, r.text)
    answer = r.json()
    if r.status_code == 422:
        assert isinstance(answer["detail"], str) and "\n" not in answer["detail"] and answer["field"]
        return
    assert answer["meets_limits"] <= answer["fits"]
    assert (answer["reason"] is None) == answer["meets_limits"]
    for text in texts(answer):
        assert not SCIENTIFIC.search(text) and "nan" not in text.lower().split(), (body, text)
    for o in answer["outputs"]:
        assert o["value"] is None or isinstance(o["value"], str) or math.isfinite(o["value"])
