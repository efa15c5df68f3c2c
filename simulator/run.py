"""One simulation from inputs to results: the function the CLI, the notebooks, the studies and the regression call.

    from simulator.run import simulate
    run = simulate("h100", "llama2-7b", overrides={"workload.batch": 16}, level="analytical")
    run.summary["latency_s"], run.to_series(), run.save("runs/h100-b16")
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from simulator.config.loader import Document, load, load_data, parse_set
from simulator.engine.executor import Executor, Result
from simulator.engine.stats import Stats
from simulator.errors import ConfigError
from simulator.hardware.system import System, build_system, unit_level
from simulator.invariants import check_arguments, check_run
from simulator.lowering.graph import OpGraph
from simulator.mapping.plan import plan_graphs
from simulator.mapping.schedule import Schedule, map_graph
from simulator.workload.spec import Workload, WorkloadSpec, build_workload

HwInput = Union[str, Path, Mapping[str, Any], System]
WorkloadInput = Union[str, Path, Mapping[str, Any], WorkloadSpec, Workload]
Overrides = Union[Mapping[str, Any], Sequence[str], None]

if TYPE_CHECKING:
    import pandas as pd  # imported by the ops table only: a summary needs no pandas


@dataclass
class Run:
    """Everything one simulation produced, with its tables and summary computed on demand."""

    system: System
    workload: Workload
    graph: OpGraph
    schedule: Schedule
    result: Result
    memoise: bool = True
    wall_s: float | None = field(default=None, compare=False)

    @cached_property
    def stats(self) -> Stats:
        return Stats(self.result)

    @cached_property
    def summary(self) -> dict:
        from simulator.record import hw_config, workload_config

        out = self.stats.summary()
        spec = self.workload.spec
        out["software"] = {"implementation": spec.implementation, "execution": spec.execution}
        out["unit_levels"] = {name: unit_level(self.system, name, self.result.level)
                              for name in list(self.system.units) + (["link"] if self.system.link else [])}
        check_run(self, out)
        out["config"] = {"hw": hw_config(self.system, self.result.level),
                         "workload": workload_config(self.workload, self.memoise)}
        return out

    @cached_property
    def ops(self) -> pd.DataFrame:
        return self.stats.ops_table()

    def to_series(self) -> pd.Series:
        """The summary as one flat row (dotted keys such as `energy_j.total`), for a DataFrame of many runs."""
        import pandas as pd

        return pd.Series(flatten({k: v for k, v in self.summary.items() if k != "config"}))

    def save(self, out: str | Path, argv: list[str] | None = None, plot_format: str = "png") -> Path:
        """Write the run's record to the folder `out`, as `simulate run --out` does; returns the folder."""
        from simulator.report.outputs import write_run

        write_run(self, Path(out), argv=argv, plot_format=plot_format)
        return Path(out)


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level with dotted keys; other values (lists included) as they are."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def simulate(hw: HwInput, workload: WorkloadInput, sets: Sequence[str] = (), *, overrides: Overrides = None,
             level: str | None = None, memoise: bool | None = None,
             progress: Callable[[int, int], None] | None = None) -> Run:
    """Simulate `workload` on `hw`.

    Each of `hw` and `workload` is a name (`"h100"`, resolved as `simulate run` does), a YAML path, a dict of the
    file's contents, or a validated object (`System`; `Workload` or `WorkloadSpec`). `overrides` are `--set` items
    (`["workload.batch=16"]`) or a dict of them (`{"hw.devices": 8, "workload.batch": 16}`); `sets` is the older
    positional form of the same. `level` overrides the system's fidelity level; `memoise` the workload's."""
    check_arguments(sets=sets, level=level, memoise=memoise, progress=progress)
    start = time.perf_counter()
    split = _overrides(sets, overrides)
    system = _system(hw, split["hw"])
    wl = _workload(workload, split["workload"])
    plan = plan_graphs(wl)
    graph = plan.graphs[0][0]
    schedule = map_graph(graph, system, wl, plan)
    memo = wl.spec.schedule.memoise if memoise is None else memoise
    try:
        result = Executor(schedule, level=level, memoise=memo, progress=progress).run()
    except ConfigError as exc:      # a unit model's objection (e.g. a dtype it lacks): name the file it concerns
        if exc.file is None:        # (SimPy re-raises a copy made from the message: the key is in the detail)
            exc.file = str(wl.path) if exc.detail.startswith("dtype") else str(system.path)
            exc.args = (exc.format(),)
        raise
    return Run(system, wl, graph, schedule, result, memo, wall_s=time.perf_counter() - start)


def _overrides(sets: Sequence[str], overrides: Overrides) -> dict[str, dict[str, Any]]:
    if isinstance(sets, str) or isinstance(overrides, str):
        raise ConfigError("overrides must be a list of KEY=VALUE strings or a dict, not one string", file="--set")
    out = parse_set(list(sets))
    if isinstance(overrides, Mapping):
        for key, value in overrides.items():
            target, _, rest = str(key).partition(".")
            if target not in out or not rest:
                raise ConfigError(f"'{key}' must look like hw.<key.path> or workload.<key.path>", file="overrides")
            out[target][rest] = value
    elif overrides is not None:
        for target, items in parse_set(list(overrides)).items():
            out[target].update(items)
    return out


def _document(ref: Any, kind: str, overrides: dict[str, Any]) -> Document:
    """A name, path or dict as a loaded document of `kind` (a dict's relative includes are from the current folder)."""
    if isinstance(ref, Mapping):
        return load_data(dict(ref), Path(f"<{kind} dict>"), overrides, kinds=(kind,))
    if isinstance(ref, str):
        from simulator.catalogue import find

        ref = find(ref, kinds=(kind,))
    if not isinstance(ref, Path):
        raise ConfigError(f"expected a name, path, dict or spec object, got {type(ref).__name__}", file=kind)
    return load(ref, overrides, kinds=(kind,))


def _system(hw: HwInput, overrides: dict[str, Any]) -> System:
    if isinstance(hw, System):
        return hw if not overrides else build_system(load_data(hw.resolved, hw.path, overrides, kinds=("system",)))
    return build_system(_document(hw, "system", overrides))


def _workload(workload: WorkloadInput, overrides: dict[str, Any]) -> Workload:
    if isinstance(workload, Workload):
        if not overrides:
            return workload
        return build_workload(load_data(workload.resolved, workload.path, overrides, kinds=("workload",)))
    if isinstance(workload, WorkloadSpec):
        data = workload.model_dump(mode="json", exclude_unset=True)     # what was given, as a file would give it
        return build_workload(load_data(data, Path("<workload spec>"), overrides, kinds=("workload",)))
    return build_workload(_document(workload, "workload", overrides))
