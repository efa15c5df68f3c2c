"""Where points run: local processes (default, all cores, spawn-safe) or Dask distributed (a Client or a
scheduler address, for more than one machine). Every runner calls the same `point.evaluate` and yields
(index, row) as points finish; callers order rows by index, so the results are the same either way.
A runner keeps its processes (or client) between calls, so a search's batches do not pay the start-up again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from simulator.errors import UserError
from simulator.sweep.point import Task, evaluate

Tasks = Sequence[tuple[int, Task]]


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class Serial:
    """In this process, one point after another (debugging, tiny analytical spaces)."""

    def run(self, tasks: Tasks) -> Iterator[tuple[int, dict]]:
        for i, task in tasks:
            yield i, evaluate(task)

    def close(self) -> None:
        pass


class Local:
    """A ProcessPoolExecutor of `workers` spawned processes (default: the cores this process may use)."""

    def __init__(self, workers: int | None = None):
        if workers is not None and workers < 1:
            raise UserError(f"workers must be at least 1, got {workers}", key="workers")
        self.workers = workers or default_workers()
        self.pool = None

    def run(self, tasks: Tasks) -> Iterator[tuple[int, dict]]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        if not tasks:
            return
        if self.pool is None:
            self.pool = ProcessPoolExecutor(max_workers=self.workers,
                                            mp_context=multiprocessing.get_context("spawn"))
        futures = {self.pool.submit(evaluate, task): i for i, task in tasks}
        try:
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        finally:
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
            self.pool = None


class Dask:
    """One Dask task per point on a `distributed.Client` (given, or connected to a scheduler address)."""

    def __init__(self, scheduler: Any):
        try:
            from distributed import Client
        except ImportError:
            raise UserError("the Dask executor needs dask[distributed]: pip install 'xpusim[dask]'",
                            key="scheduler") from None
        self.own = not isinstance(scheduler, Client)
        if not self.own:
            self.client = scheduler
            return
        try:
            self.client = Client(str(scheduler), timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise UserError(f"cannot reach the Dask scheduler {scheduler}: {exc}", key="--scheduler") from None

    def run(self, tasks: Tasks) -> Iterator[tuple[int, dict]]:
        from distributed import as_completed

        if not tasks:
            return
        futures = self.client.map(evaluate, [t for _, t in tasks], pure=False)   # pure=False: no dedup
        index = {f.key: i for f, (i, _) in zip(futures, tasks)}
        try:
            for fut in as_completed(futures):
                yield index[fut.key], fut.result()
        finally:
            self.client.cancel(futures)

    def close(self) -> None:
        if self.own:
            self.client.close()


def runner(executor: Any = "local", workers: int | None = None):
    """"local" (processes), "serial" (this process), or Dask (a Client or a scheduler address)."""
    if executor == "local":
        return Local(workers)
    if executor == "serial":
        return Serial()
    return Dask(executor)
