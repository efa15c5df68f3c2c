"""`sweep()`: every point of a space simulated (cached on disk), as one tidy DataFrame.

Rows are in the space's point order: `point` (index), the swept keys, `feasible`, `reason`, then the flat
metrics of the summary (simulator.sweep.point.metrics). With `objectives`, a `pareto` column marks the
non-dominated feasible points.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.cache import Store, enabled
from simulator.sweep.executors import runner
from simulator.sweep.front import Objectives, normalise, pareto
from simulator.sweep.point import Task, key
from simulator.sweep.space import Grid, Point, Points, Space, as_sets


class Evaluator:
    """Points -> rows through the disk cache and a runner (kept open between calls; close() when done)."""

    def __init__(self, hw: str | Path, workload: str | Path, *, sets: Sequence[str] = (), level: str | None = None,
                 executor: Any = "local", workers: int | None = None, cache: bool = True,
                 cache_dir: str | Path | None = None, progress: bool = True):
        self.hw, self.workload, self.sets, self.level = str(hw), str(workload), tuple(sets), level
        self.store = Store("sweep", Path(cache_dir) if cache_dir else None) if cache and enabled() else None
        self.runner = runner(executor, workers)
        self.progress = progress

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.runner.close()

    def rows(self, points: Sequence[Point]) -> list[dict]:
        tasks = [(i, Task(self.hw, self.workload, (*self.sets, *as_sets(p)), self.level))
                 for i, p in enumerate(points)]
        rows: dict[int, dict] = {}
        keys: dict[int, str | None] = {}
        first: dict[str, int] = {}          # a point whose resolved inputs repeat an earlier one's runs once
        todo = []
        for i, task in tasks:
            keys[i] = key(task) if self.store is not None else None
            hit = self.store.get(keys[i]) if keys[i] is not None else None
            if hit is not None:
                rows[i] = hit
            elif keys[i] is None or keys[i] not in first:
                todo.append((i, task))
                if keys[i] is not None:
                    first[keys[i]] = i
        bar = _bar(len(tasks), len(tasks) - len(todo)) if self.progress else None
        try:
            for i, row in self.runner.run(todo):
                rows[i] = row
                if keys[i] is not None:
                    self.store.put(keys[i], row)
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        return [rows[i] if i in rows else dict(rows[first[keys[i]]]) for i in range(len(points))]


def sweep(space: Space | Iterable[Point] | Mapping[str, list], hw: str | Path, workload: str | Path, *,
          sets: Sequence[str] = (), objectives: Objectives | None = None, level: str | None = None,
          executor: Any = "local", workers: int | None = None, cache: bool = True,
          cache_dir: str | Path | None = None, progress: bool = True) -> pd.DataFrame:
    """Simulate `workload` on `hw` at every point of `space` (a Space, a {key: [values]} grid, or a list of
    points) with the fixed `sets` beside; `executor` is "local" (processes; `workers` of them, default all
    cores), "serial" (this process), or Dask: a `distributed.Client` or a scheduler address "tcp://host:8786".
    `cache=False` (or XPUSIM_CACHE=off) recomputes every point; otherwise finished points are read back."""
    points = as_space(space).points()
    with Evaluator(hw, workload, sets=sets, level=level, executor=executor, workers=workers, cache=cache,
                   cache_dir=cache_dir, progress=progress) as ev:
        frame = table(points, ev.rows(points))
    if objectives:
        frame["pareto"] = pareto(frame, normalise(objectives))
    return frame


def as_space(space: Any) -> Space:
    if isinstance(space, Space):
        return space
    if isinstance(space, Mapping):
        return Grid(dict(space))
    return Points(list(space))


def _bar(total: int, done: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, desc="sweep", unit="point", smoothing=0.1)


def table(points: Sequence[Point], rows: Sequence[dict], index: str = "point") -> pd.DataFrame:
    """One row per point: its index, its keys, then its results."""
    frame = pd.DataFrame.from_records([{index: i, **p, **r} for i, (p, r) in enumerate(zip(points, rows))])
    if "feasible" in frame:
        frame["feasible"] = frame["feasible"].astype(bool)
    return frame


def write(frame: pd.DataFrame, path: str | Path) -> Path:
    """The sweep's DataFrame as Parquet (pyarrow), written to a temporary sibling and renamed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    return path
