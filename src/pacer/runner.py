"""Where work runs: in this process, in a pool of worker processes, or on a Ray cluster.

Every executor maps a picklable function over a list of picklable items and returns the results in
order; results are identical whichever executor runs them (the work is deterministic: seeded sampling,
HiGHS solves). ``get_executor("processes")`` uses fresh interpreters (the ``spawn`` start method) so that
no solver thread state is inherited by a fork.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, Protocol, TypeVar

from pacer.errors import InputError

T = TypeVar("T")
R = TypeVar("R")
EXECUTORS = ("auto", "local", "processes", "ray")


class Executor(Protocol):
    name: str

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Run in this process, one item after another."""

    name = "local"

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        return [fn(item) for item in items]

    def close(self) -> None:
        return None


class ProcessExecutor:
    """Run in a pool of worker processes (started on first use, kept until :meth:`close`)."""

    name = "processes"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or max(1, min(os.cpu_count() or 1, 8))
        self._pool: ProcessPoolExecutor | None = None

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        items = list(items)
        if len(items) <= 1:  # not worth a round trip
            return [fn(item) for item in items]
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=get_context("spawn"))
        return list(self._pool.map(fn, items))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


class RayExecutor:
    """Run as Ray tasks on an existing cluster (``address="auto"``) or a local one started here."""

    name = "ray"

    def __init__(self, address: str | None = None) -> None:
        try:
            import ray
        except ImportError as exc:
            raise InputError("executor", "ray", "needs Ray installed: pip install 'pacer[ray]'") from exc
        self._ray = ray
        if not ray.is_initialized():
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        remote = self._ray.remote(fn)
        return list(self._ray.get([remote.remote(item) for item in items]))

    def close(self) -> None:
        return None


def get_executor(name: str = "auto", *, workers: int | None = None, address: str | None = None) -> Executor:
    """An executor by name: ``local``, ``processes``, ``ray``, or ``auto`` (processes when there are two or
    more CPUs, else local)."""
    if name not in EXECUTORS:
        raise InputError("executor", name, f"must be one of {', '.join(EXECUTORS)}")
    if name == "auto":
        name = "processes" if (os.cpu_count() or 1) >= 2 else "local"
    if name == "local":
        return LocalExecutor()
    if name == "processes":
        return ProcessExecutor(workers)
    return RayExecutor(address)


def run_map(executor: Executor | str, fn: Callable[[Any], Any], items: Iterable[Any],
            workers: int | None = None) -> list[Any]:
    """Map with a named executor (created and closed here, with ``workers`` processes) or a given one
    (left open)."""
    if isinstance(executor, str):
        ex = get_executor(executor, workers=workers)
        try:
            return ex.map(fn, items)
        finally:
            ex.close()
    return executor.map(fn, items)
