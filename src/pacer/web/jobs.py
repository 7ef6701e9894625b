"""The web app's job runner: demand, plan and simulate runs in the background, one at a time.

Jobs live as long as the server: a page reloaded mid-run finds its job again in :meth:`JobRunner.list`
(``GET /api/jobs``) and follows it. Each step carries the seconds since the job started, so progress
reads "solving the plan (41 s)", not a minute of "starting".
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from pacer.store import RunStore

#: Runs queued or running at once; more get 429.
MAX_PENDING_JOBS = 4
#: Finished jobs kept for the jobs list.
MAX_KEPT_JOBS = 100


@dataclass
class Job:
    kind: str
    scenario_name: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    status: str = "queued"  # queued | running | done | error
    steps: list[dict[str, Any]] = field(default_factory=list)
    run_id: str | None = None
    error: str | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None

    def step(self, text: str) -> None:
        self.steps.append({"step": text, "elapsed_s": round(self.elapsed_s(), 1)})

    def elapsed_s(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.time()) - self.started

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.id, "kind": self.kind, "scenario": self.scenario_name, "status": self.status,
                "steps": list(self.steps), "run_id": self.run_id, "error": self.error,
                "elapsed_s": round(self.elapsed_s(), 1), "created": self.created,
                "events": f"/api/jobs/{self.id}/events"}


class TooManyJobsError(Exception):
    """More than :data:`MAX_PENDING_JOBS` queued or running."""


class JobRunner:
    """Runs jobs in threads, one at a time (the solvers use the machine's cores), and keeps them listed."""

    def __init__(self, store: RunStore, executor: str = "auto") -> None:
        self.store = store
        self.executor = executor
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()  # one run at a time
        self._jobs_lock = threading.Lock()  # the jobs dict: listed from worker threads, changed on start

    def _all(self) -> list[Job]:
        with self._jobs_lock:
            return list(self.jobs.values())

    def pending(self) -> int:
        return sum(j.status in ("queued", "running") for j in self._all())

    def list(self) -> list[dict[str, Any]]:
        """Jobs, newest first."""
        return [j.to_dict() for j in sorted(self._all(), key=lambda j: j.created, reverse=True)]

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def start(self, kind: str, scenario: Any, text: str, path: str | None, options: dict[str, Any]) -> Job:
        waiting = self.pending()
        if waiting >= MAX_PENDING_JOBS:
            raise TooManyJobsError(f"runs: {waiting} already queued or running, try again later")
        job = Job(kind=kind, scenario_name=scenario.name)
        with self._jobs_lock:
            finished = [k for k, j in self.jobs.items() if j.status in ("done", "error")]
            for old_id in finished[: max(0, len(finished) - MAX_KEPT_JOBS)]:
                self.jobs.pop(old_id)
            self.jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, scenario, text, path, options), daemon=True).start()
        return job

    def _run(self, job: Job, scenario: Any, text: str, path: str | None, options: dict[str, Any]) -> None:
        from pacer.report.runs import save_run

        with self._lock:
            job.status = "running"
            job.started = time.time()
            try:
                if job.kind == "demand":
                    from pacer.demand import forecast

                    job.step("forecasting demand")
                    result: Any = forecast(scenario)
                elif job.kind == "plan":
                    from pacer.plan import plan

                    result = plan(scenario, on_step=job.step, accept_gap=options.get("accept_gap"))
                else:
                    from pacer.market import simulate

                    result = simulate(scenario, executor=self.executor, on_step=job.step)
                job.step("saving the run")
                job.run_id = save_run(self.store, result, scenario_path=path, scenario_text=text,
                                      parameters={"kind": job.kind, "via": "web", **options},
                                      seconds=job.elapsed_s())
                job.status = "done"
            except Exception as exc:  # reported to the page; the run is not stored
                job.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                job.status = "error"
            finally:
                job.finished = time.time()
                if job.status == "running":  # stopped by something that is not an Exception
                    job.error, job.status = "the run was interrupted", "error"
