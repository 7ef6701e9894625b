"""The run store: save, list, show, compare, delete; atomic writes; a killed process leaves no half run."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from pacer.errors import PacerError
from pacer.store import RunStore


def _save(store: RunStore, name: str = "s", kind: str = "plan", **metrics) -> str:
    return store.save(kind, scenario_name=name, scenario_path=f"/x/{name}.yaml", scenario_text=f"name: {name}",
                      parameters={"leaves": 4}, metrics=metrics or {"objective_usd": 1.0},
                      result={"status": "optimal"}, tables={"decisions": pd.DataFrame({"a": [1, 2]})},
                      figures=[("f", "a chart", '{"data": [], "layout": {}}')], seconds=1.5, version="0.1.0")


def test_round_trip(tmp_path):
    store = RunStore(tmp_path / "runs.duckdb")
    a = _save(store, "one", objective_usd=10.0, gap=0.0)
    b = _save(store, "two", kind="simulate", objective_usd=12.0)
    listed = store.list_runs()
    assert list(listed.run_id) == [b, a]  # newest first
    assert list(store.list_runs(kind="plan").run_id) == [a]
    run = store.get(a)
    assert run["metrics"] == {"objective_usd": 10.0, "gap": 0.0} and run["parameters"] == {"leaves": 4}
    assert run["scenario_hash"] and run["pacer_version"] == "0.1.0" and run["status"] == "ok"
    assert store.table(a, "decisions").a.tolist() == [1, 2]
    assert store.figures(a)[0]["title"] == "a chart"
    compared = store.compare([a, b])
    assert compared.loc["objective_usd"].tolist() == [10.0, 12.0]
    store.delete(a)
    assert list(store.list_runs().run_id) == [b]
    with pytest.raises(PacerError, match="no such run"):
        store.get(a)
    with pytest.raises(PacerError, match="no such run"):
        store.delete(a)


def test_same_scenario_text_same_hash(tmp_path):
    store = RunStore(tmp_path / "runs.duckdb")
    a, b = _save(store, "same"), _save(store, "same")
    assert store.get(a)["scenario_hash"] == store.get(b)["scenario_hash"]
    assert store.latest("plan", store.get(a)["scenario_hash"]) == b


def test_failed_write_leaves_nothing(tmp_path):
    store = RunStore(tmp_path / "runs.duckdb")

    def boom() -> None:
        raise RuntimeError("crash while saving")

    with pytest.raises(RuntimeError):
        store.save("plan", scenario_name="s", scenario_path=None, scenario_text="x", parameters={}, metrics={},
                   result={}, tables={"t": pd.DataFrame({"a": [1]})}, before_commit=boom)
    assert store.list_runs().empty


def test_store_survives_a_killed_process(tmp_path):
    path = tmp_path / "runs.duckdb"
    store = RunStore(path)
    kept = _save(store, "before")
    code = textwrap.dedent(f"""
        import os, signal
        import pandas as pd
        from pacer.store import RunStore
        store = RunStore({str(path)!r})
        store.save("plan", scenario_name="half", scenario_path=None, scenario_text="x", parameters={{}},
                   metrics={{}}, result={{"big": "x" * 100000}}, tables={{"t": pd.DataFrame({{"a": range(1000)}})}},
                   before_commit=lambda: os.kill(os.getpid(), signal.SIGKILL))
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert run.returncode == -9  # killed inside the transaction
    reopened = RunStore(path)
    assert list(reopened.list_runs().run_id) == [kept]  # no half-written run
    assert reopened.get(kept)["scenario_name"] == "before"
    with reopened._connect() as con:
        assert con.execute("SELECT count(*) FROM run_tables").fetchone()[0] == 1
    assert _save(reopened, "after")  # and it still takes writes


def test_bad_store_path(tmp_path):
    with pytest.raises(PacerError, match="store"):
        RunStore(tmp_path / "nosuffix")


def test_cli_runs_commands(pacer_cli, tmp_path):
    store = tmp_path / "cli.duckdb"
    a = _save(RunStore(store), "alpha", objective_usd=1.0)
    b = _save(RunStore(store), "beta", objective_usd=2.0)
    listed = pacer_cli("runs", "list", "--store", str(store), "--json")
    assert listed.code == 0 and [r["run_id"] for r in listed.json()] == [b, a]
    shown = pacer_cli("runs", "show", a, "--store", str(store))
    assert shown.code == 0 and "alpha" in shown.out
    compared = pacer_cli("runs", "compare", a, b, "--store", str(store), "--json")
    assert compared.code == 0 and len(compared.json()) == 2
    assert pacer_cli("runs", "delete", a, "--store", str(store)).code == 0
    missing = pacer_cli("runs", "show", a, "--store", str(store))
    assert missing.code == 2 and "no such run" in missing.err and len(missing.err.strip().splitlines()) == 1
    bad = pacer_cli("runs", "list", "--kind", "nope", "--store", str(store))
    assert bad.code == 2 and "kind" in bad.err


def test_commands_save_runs_unless_told_not_to(pacer_cli, tmp_path, _private_store):
    import yaml

    from tests.plan.conftest import mini

    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(mini()))
    assert pacer_cli("demand", str(path), "--json", "--no-save").code == 0
    assert RunStore(_private_store).list_runs().empty
    run = pacer_cli("demand", str(path), "--json")
    assert run.code == 0 and "run saved" in run.err
    assert run.out.lstrip().startswith("{")  # stdout stays pure JSON
    runs = RunStore(_private_store).list_runs()
    assert list(runs.kind) == ["demand"] and runs.scenario_path.iloc[0] == str(path.resolve())


@pytest.mark.parametrize("kind", ["truncated", "sqlite"])
def test_a_damaged_or_foreign_store_is_one_line(pacer_cli, tmp_path, kind):
    """Probe failures (issue 13): a truncated store gave DuckDB tracebacks; an SQLite file made DuckDB try
    to download an extension."""
    path = tmp_path / "runs.duckdb"
    if kind == "truncated":
        RunStore(path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    else:
        import sqlite3

        con = sqlite3.connect(path)
        con.execute("create table t (x int)")
        con.commit()
        con.close()
    for args in (("runs", "list", "--store", str(path)), ("runs", "delete", "abc", "--store", str(path))):
        run = pacer_cli(*args)
        assert run.code == 2 and "store:" in run.err and run.err.strip().count("\n") == 0, run.err
