"""The run store: every demand, plan and simulate run kept in one DuckDB file, to list, show and compare.

A run is written in one transaction (its metadata, key metrics, result, tables and charts), so a process
killed while saving leaves no half-written run: DuckDB's write-ahead log drops what was not committed.
The file is ``--store PATH``, else ``$PACER_STORE``, else ``runs.duckdb`` in the user's data directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from pacer.errors import InputError, PacerError

KINDS = ("demand", "plan", "simulate")
#: Seconds to wait for another process's lock on the store file.
LOCK_WAIT_S = 10.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    kind VARCHAR NOT NULL,
    scenario_name VARCHAR,
    scenario_path VARCHAR,
    scenario_hash VARCHAR,
    parameters JSON,
    pacer_version VARCHAR,
    status VARCHAR,
    seconds DOUBLE,
    metrics JSON,
    result JSON,
    scenario_text VARCHAR
);
ALTER TABLE runs ADD COLUMN IF NOT EXISTS scenario_text VARCHAR;
CREATE TABLE IF NOT EXISTS run_tables (run_id VARCHAR, name VARCHAR, records JSON, PRIMARY KEY (run_id, name));
CREATE TABLE IF NOT EXISTS run_figures (
    run_id VARCHAR, position INTEGER, name VARCHAR, title VARCHAR, figure JSON, PRIMARY KEY (run_id, name)
);
"""
_LIST_COLUMNS = "run_id, created_at, kind, scenario_name, scenario_path, status, seconds, pacer_version"


def default_store_path() -> Path:
    """``$PACER_STORE``, else ``runs.duckdb`` in the user's data directory."""
    env = os.environ.get("PACER_STORE")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("pacer")) / "runs.duckdb"


def scenario_hash(text: str) -> str:
    """Content hash of a scenario file (the same file gives the same hash)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class RunStore:
    """A DuckDB file of runs. Safe for one process's threads; another process using the file at the same
    moment is waited for up to :data:`LOCK_WAIT_S` seconds (connections are short-lived)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        if self.path.suffix == "":
            raise InputError("store", str(self.path), "must be a file path such as runs.duckdb")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError("store", str(self.path), f"cannot create its folder ({exc.strerror})") from exc
        self._lock = threading.Lock()
        with self._connect() as con:
            con.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock:
            deadline = time.monotonic() + LOCK_WAIT_S
            while True:
                try:
                    # No extension is ever fetched (no network at run time): a file of another database
                    # (SQLite, say) is refused instead of DuckDB downloading a reader for it.
                    con = duckdb.connect(str(self.path), config={"autoinstall_known_extensions": False,
                                                                 "autoload_known_extensions": False})
                    break
                except duckdb.Error as exc:  # another process holds the file: wait a little, then give up
                    if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                        raise PacerError(f"store: cannot open {self.path}: {str(exc).splitlines()[0]}") from exc
                    time.sleep(0.1)
            try:
                yield con
            except duckdb.Error as exc:  # a damaged or foreign file: one line, never a database traceback
                raise PacerError(f"store: {self.path} cannot be used ({str(exc).splitlines()[0]}); "
                                 "point --store or $PACER_STORE at another file") from exc
            finally:
                con.close()

    # -- writing -------------------------------------------------------------------------------------
    def save(
        self,
        kind: str,
        *,
        scenario_name: str | None,
        scenario_path: str | None,
        scenario_text: str | None,
        parameters: dict[str, Any],
        metrics: dict[str, Any],
        result: dict[str, Any],
        tables: dict[str, pd.DataFrame] | None = None,
        figures: list[tuple[str, str, str]] | None = None,
        status: str = "ok",
        seconds: float = 0.0,
        version: str = "",
        before_commit: Callable[[], None] | None = None,
    ) -> str:
        """Write one run in a single transaction; returns its id. ``figures``: (name, title, plotly JSON).
        ``before_commit`` runs inside the transaction (tests use it to kill the process there)."""
        if kind not in KINDS:
            raise InputError("kind", kind, f"must be one of {', '.join(KINDS)}")
        run_id = uuid.uuid4().hex[:12]
        digest = scenario_hash(scenario_text) if scenario_text is not None else None
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(
                    "INSERT INTO runs (run_id, created_at, kind, scenario_name, scenario_path, scenario_hash, "
                    "parameters, pacer_version, status, seconds, metrics, result, scenario_text) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [run_id, datetime.now(UTC).replace(tzinfo=None), kind, scenario_name, scenario_path, digest,
                     json.dumps(parameters, default=str), version, status, float(seconds),
                     json.dumps(metrics, default=_json_default), json.dumps(result, default=_json_default),
                     scenario_text])
                for name, frame in (tables or {}).items():
                    con.execute("INSERT INTO run_tables VALUES (?, ?, ?)",
                                [run_id, name, frame.to_json(orient="records", date_format="iso")])
                for position, (name, title, figure) in enumerate(figures or []):
                    con.execute("INSERT INTO run_figures VALUES (?, ?, ?, ?, ?)",
                                [run_id, position, name, title, figure])
                if before_commit is not None:
                    before_commit()
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return run_id

    def delete(self, run_id: str) -> None:
        """Remove a run and everything stored with it."""
        with self._connect() as con:
            if not con.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).fetchone():
                raise _unknown(run_id)
            con.execute("BEGIN TRANSACTION")
            for table in ("run_figures", "run_tables", "runs"):
                con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
            con.execute("COMMIT")

    # -- reading -------------------------------------------------------------------------------------
    def list_runs(
        self, *, kind: str | None = None, scenario: str | None = None, status: str | None = None,
        limit: int | None = None, with_metrics: bool = False,
    ) -> pd.DataFrame:
        """Runs, newest first: id, time, kind, scenario, status, seconds, version (and the key metrics and
        parameters as dicts per run with ``with_metrics``)."""
        where, args = [], []
        if kind:
            where.append("kind = ?")
            args.append(kind)
        if scenario:
            where.append("(scenario_name = ? OR scenario_path = ?)")
            args += [scenario, scenario]
        if status:
            where.append("status = ?")
            args.append(status)
        columns = _LIST_COLUMNS + (", metrics, parameters" if with_metrics else "")
        sql = f"SELECT {columns} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, run_id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._connect() as con:
            frame = con.execute(sql, args).df()
        if with_metrics:
            for key in ("metrics", "parameters"):
                frame[key] = [json.loads(m) if m else {} for m in frame[key]]
        return frame

    def scenario_names(self) -> list[str]:
        """The names of the scenarios the store has runs of, sorted."""
        with self._connect() as con:
            rows = con.execute("SELECT DISTINCT scenario_name FROM runs WHERE scenario_name IS NOT NULL "
                               "ORDER BY scenario_name").fetchall()
        return [str(r[0]) for r in rows]

    def get(self, run_id: str) -> dict[str, Any]:
        """One run: metadata, parameters, metrics and the full result."""
        with self._connect() as con:
            cur = con.execute("SELECT * EXCLUDE (scenario_text) FROM runs WHERE run_id = ?", [run_id])
            row = cur.fetchone()
            if row is None:
                raise _unknown(run_id)
            names = [d[0] for d in cur.description]
        out = dict(zip(names, row, strict=True))
        for key in ("parameters", "metrics", "result"):
            out[key] = json.loads(out[key]) if out[key] else {}
        out["created_at"] = str(out["created_at"])
        return out

    def scenario_text(self, run_id: str) -> str | None:
        """The scenario as it was run (the text posted or read from its file); ``None`` for runs saved
        without it."""
        with self._connect() as con:
            row = con.execute("SELECT scenario_text FROM runs WHERE run_id = ?", [run_id]).fetchone()
        if row is None:
            raise _unknown(run_id)
        return None if row[0] is None else str(row[0])

    def figures(self, run_id: str) -> list[dict[str, Any]]:
        """The run's charts in order: name, title and the plotly figure as JSON text."""
        self._require(run_id)
        with self._connect() as con:
            rows = con.execute("SELECT name, title, figure FROM run_figures WHERE run_id = ? ORDER BY position",
                               [run_id]).fetchall()
        return [{"name": n, "title": t, "figure": f} for n, t, f in rows]

    def table(self, run_id: str, name: str) -> pd.DataFrame:
        self._require(run_id)
        with self._connect() as con:
            row = con.execute("SELECT records FROM run_tables WHERE run_id = ? AND name = ?", [run_id, name]).fetchone()
        if row is None:
            raise InputError("table", name, f"run {run_id} has no such table")
        return pd.DataFrame(json.loads(row[0]))

    def table_names(self, run_id: str) -> list[str]:
        with self._connect() as con:
            return [r[0] for r in con.execute("SELECT name FROM run_tables WHERE run_id = ? ORDER BY name",
                                              [run_id]).fetchall()]

    def compare(self, run_ids: list[str]) -> pd.DataFrame:
        """Key metrics side by side: one row per metric, one column per run."""
        if not run_ids:
            raise InputError("runs", [], "give at least one run id")
        with self._connect() as con:  # metrics only: the full results can be large
            rows = {r[0]: r[1:] for r in con.execute(
                "SELECT run_id, kind, scenario_name, metrics FROM runs WHERE run_id IN (SELECT unnest(?))",
                [list(run_ids)]).fetchall()}
        columns = {}
        for run_id in run_ids:
            if run_id not in rows:
                raise _unknown(run_id)
            kind, scenario, metrics = rows[run_id]
            columns[f"{run_id} ({kind})"] = {"scenario": scenario, **json.loads(metrics or "{}")}
        return pd.DataFrame(columns)

    def latest(self, kind: str, scenario_hash_value: str) -> str | None:
        """The newest run of ``kind`` on a scenario with this content hash."""
        with self._connect() as con:
            row = con.execute("SELECT run_id FROM runs WHERE kind = ? AND scenario_hash = ? "
                              "ORDER BY created_at DESC LIMIT 1", [kind, scenario_hash_value]).fetchone()
        return None if row is None else str(row[0])

    def _require(self, run_id: str) -> None:
        with self._connect() as con:
            if not con.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).fetchone():
                raise _unknown(run_id)


#: Formats a stored table can be downloaded in, and their media types.
TABLE_FORMATS = {"csv": "text/csv", "json": "application/json", "parquet": "application/vnd.apache.parquet"}


def table_bytes(frame: pd.DataFrame, fmt: str) -> tuple[bytes, str]:
    """A table as a file's bytes: CSV, JSON records or Parquet (written by DuckDB: no extra dependency)."""
    if fmt not in TABLE_FORMATS:
        raise InputError("format", fmt, f"must be one of {', '.join(TABLE_FORMATS)}")
    if fmt == "csv":
        return frame.to_csv(index=False).encode(), TABLE_FORMATS[fmt]
    if fmt == "json":
        return frame.to_json(orient="records", date_format="iso").encode(), TABLE_FORMATS[fmt]
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "table.parquet"
        con = duckdb.connect()
        try:
            con.register("frame", frame)
            con.execute(f"COPY frame TO '{target}' (FORMAT PARQUET)")
        finally:
            con.close()
        return target.read_bytes(), TABLE_FORMATS[fmt]


class UnknownRunError(InputError):
    """No run with this id in the store."""


def _unknown(run_id: str) -> UnknownRunError:
    return UnknownRunError("run", run_id, "no such run in the store (see pacer runs list)")


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
