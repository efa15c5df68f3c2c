"""One simulation from files to results: the function the CLI, the notebooks and the regression call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from simulator.config.loader import parse_set
from simulator.engine.executor import Executor, Result
from simulator.engine.stats import Stats
from simulator.errors import ConfigError
from simulator.hardware.system import System, load_system, unit_level
from simulator.invariants import check_arguments, check_run
from simulator.lowering.graph import OpGraph
from simulator.lowering.transformer import lower
from simulator.mapping.schedule import Schedule, map_graph
from simulator.workload.spec import Workload, load_workload


@dataclass
class Run:
    """Everything one simulation produced, with its tables and summary computed on demand."""

    system: System
    workload: Workload
    graph: OpGraph
    schedule: Schedule
    result: Result

    @cached_property
    def stats(self) -> Stats:
        return Stats(self.result)

    @cached_property
    def summary(self) -> dict:
        out = self.stats.summary()
        out["unit_levels"] = {name: unit_level(self.system, name, self.result.level)
                              for name in list(self.system.units) + (["link"] if self.system.link else [])}
        check_run(self, out)
        out["config"] = {"hw": self.system.resolved, "workload": self.workload.resolved}
        return out

    @cached_property
    def ops(self) -> pd.DataFrame:
        return self.stats.ops_table()


def simulate(hw: str | Path, workload: str | Path, sets: Sequence[str] = (), *, level: str | None = None,
             memoise: bool | None = None, progress: Callable[[int, int], None] | None = None) -> Run:
    """Simulate `workload` on `hw` with `--set`-style overrides ('hw.devices=8', 'workload.batch=16')."""
    check_arguments(sets=sets, level=level, memoise=memoise, progress=progress)
    overrides = parse_set(list(sets))
    system = load_system(hw, overrides["hw"])
    wl = load_workload(workload, overrides["workload"])
    graph = lower(wl)
    schedule = map_graph(graph, system, wl)
    memo = wl.spec.schedule.memoise if memoise is None else memoise
    try:
        result = Executor(schedule, level=level, memoise=memo, progress=progress).run()
    except ConfigError as exc:      # a unit model's objection (e.g. a dtype it lacks): name the file it concerns
        if exc.file is None:        # (SimPy re-raises a copy made from the message: the key is in the detail)
            exc.file = str(wl.path) if exc.detail.startswith("dtype") else str(system.path)
            exc.args = (exc.format(),)
        raise
    return Run(system, wl, graph, schedule, result)
