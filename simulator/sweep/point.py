"""One design point: resolve its inputs, key it, simulate it, and flatten the summary into one row.

`evaluate` runs in worker processes (local or Dask), so it takes and returns plain picklable data. A point that
the simulator rejects (a UserError: does not fit in memory, an impossible value) is a row with `feasible`
False and the error's one-line message in `reason`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from simulator.cache import code_version, digest
from simulator.errors import UserError

SKIP = ("config", "wall_time_s")      # the resolved config is the key; wall time would make rows differ


@dataclass(frozen=True)
class Task:
    """What a worker needs for one point: the files, the `--set` strings and the fidelity level."""

    hw: str
    workload: str
    sets: tuple[str, ...]
    level: str | None = None


def key(task: Task) -> str | None:
    """Hash of the resolved hardware and workload (with the request lengths of a trace), the level and the
    simulator's code version; None when the inputs do not resolve (such a point is not cached)."""
    from simulator.config.loader import parse_set
    from simulator.hardware.system import load_system
    from simulator.workload.spec import load_workload

    try:
        over = parse_set(list(task.sets))
        system = load_system(task.hw, over["hw"])
        wl = load_workload(task.workload, over["workload"])
    except UserError:
        return None
    model = wl.model.model_dump() if hasattr(wl.model, "model_dump") else vars(wl.model)
    return digest({"hw": system.resolved, "workload": wl.resolved, "model": model, "kv_lens": wl.kv_lens,
                   "channels": wl.channels, "level": task.level, "code": code_version()})


def evaluate(task: Task) -> dict[str, Any]:
    """Simulate one point; a flat row of metrics, or {feasible: False, reason} for a rejected point."""
    from simulator.run import simulate

    try:
        summary = simulate(task.hw, task.workload, list(task.sets), level=task.level).summary
    except UserError as exc:
        return {"feasible": False, "reason": str(exc)}
    return {"feasible": True, "reason": "", **metrics(summary)}


def metrics(summary: dict) -> dict[str, Any]:
    """The summary's numbers and names as flat columns (`energy_j.by_component.npu`), lists dropped, plus the
    derived objectives power_w, perf_per_w (tokens/s per W) and perf_per_mm2 (tokens/s per mm^2)."""
    row = flatten({k: v for k, v in summary.items() if k not in SKIP})
    latency, energy = row.get("latency_s", 0.0), row.get("energy_j.total", 0.0)
    tps, area = row.get("throughput_tokens_per_s", 0.0), row.get("area_mm2.total", 0.0)
    row["power_w"] = energy / latency if latency else math.nan
    row["perf_per_w"] = tps / row["power_w"] if row["power_w"] else math.nan
    row["perf_per_mm2"] = tps / area if area else math.nan
    return row


def flatten(node: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in node.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, name + "."))
        elif isinstance(v, (bool, int, float, str)) or v is None:
            out[name] = v
        elif hasattr(v, "item"):
            out[name] = v.item()
    return out
