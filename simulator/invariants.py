"""Checks at the edges of a run: the API's arguments before any work, and physical invariants of the results.

A bad argument is a UserError (exit 2). A result that breaks physics is an InternalError (exit 3, a bug report),
never a number in a report:
- every number is finite (the JSON is strict: no NaN or Infinity);
- a utilisation is in [0, 1]: at most 1 + TOLERANCE (rounding of sums of busy times), then clamped to 1;
- a memory or link moves at most its peak bandwidth (same tolerance);
- energy is finite, and > 0 when the step did work (FLOPs or bytes);
- each memory moves at least the resident bytes (weights, KV cache) that units outside it read from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from simulator.errors import InternalError, UserError

TOLERANCE = 1e-9
LEVELS = ("analytical", "transaction", "command")


def check_arguments(*, sets: Any, level: Any, memoise: Any, progress: Any) -> None:
    """simulate()'s keyword arguments, checked before any file is read."""
    if isinstance(sets, (str, bytes)) or not isinstance(sets, Sequence) \
            or not all(isinstance(s, str) for s in sets):
        raise UserError(f"must be a list of 'hw.<key>=VALUE' / 'workload.<key>=VALUE' strings, got {sets!r}",
                        file="simulate()", key="sets")
    if level is not None and level not in LEVELS:
        raise UserError(f"{level!r} is not allowed; allowed: {', '.join(LEVELS)} or None (the system's level)",
                        file="simulate()", key="level")
    if memoise is not None and not isinstance(memoise, bool):
        raise UserError(f"must be True, False or None (the workload's schedule.memoise), got {memoise!r}",
                        file="simulate()", key="memoise")
    if progress is not None and not isinstance(progress, Callable):
        raise UserError(f"must be a function progress(done, total) or None, got {progress!r}",
                        file="simulate()", key="progress")


def check_run(run, summary: dict) -> None:
    """Raise InternalError if the summary breaks an invariant; clamp utilisations within the tolerance to 1."""
    _finite(summary, "summary")
    for unit, u in summary["utilisation"].items():
        summary["utilisation"][unit] = _fraction(u, f"utilisation.{unit}")
    for name, bw in summary["bandwidth"].items():
        bw["utilisation"] = _fraction(bw["utilisation"], f"bandwidth.{name}.utilisation")
        if bw["gbps"] > bw["peak_gbps"] * (1 + TOLERANCE):
            raise InternalError(f"bandwidth.{name}: {bw['gbps']:.6g} GB/s exceeds the peak {bw['peak_gbps']:.6g}")
    energy = summary["energy_j"]["total"]
    moved = sum(bw["bytes"] for bw in summary["bandwidth"].values())
    if energy < 0 or ((summary["flops"] > 0 or moved > 0) and not energy > 0):
        raise InternalError(f"energy_j.total is {energy!r} for a step with {summary['flops']:.4g} FLOPs and "
                            f"{moved:.4g} bytes moved")
    needed = sum(_resident_bytes(run).values())      # over all memories: placement may home tensors elsewhere
    got = sum(bw["bytes"] for name, bw in summary["bandwidth"].items() if name != "link")
    if got < needed * (1 - 1e-6):
        raise InternalError(f"the memories moved {got:.6g} bytes, fewer than the {needed:.6g} resident bytes "
                            f"(weights, KV cache) the units read")


def _fraction(value: float, where: str) -> float:
    if not -TOLERANCE <= value <= 1 + TOLERANCE:
        raise InternalError(f"{where} is {value!r}, outside [0, 1]")
    return min(max(value, 0.0), 1.0)


def _finite(node: Any, where: str) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _finite(v, f"{where}.{k}")
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            _finite(v, f"{where}[{i}]")
    elif isinstance(node, float) and not math.isfinite(node):
        raise InternalError(f"{where} is {node!r}; every result must be a finite number")


def _resident_bytes(run) -> dict[str, float]:
    """Resident bytes per memory that units read over its interface (not in-memory compute units)."""
    system, schedule = run.system, run.schedule
    in_memory = {name for name in system.units
                 if getattr(system.model(name, "analytical"), "internal_bandwidth", 0.0)}
    needed: dict[str, float] = {}
    for op, count in run.graph.ops():
        unit = schedule.unit_of(op)
        spec = system.units.get(unit)
        if spec is None or spec.memory is None or unit in in_memory:
            continue
        needed[spec.memory] = needed.get(spec.memory, 0.0) + op.weight_bytes * count
    return needed
