"""Replay a DRAM request trace through the memory model: `run_memtrace(spec, trace_path, level)`.

Injection follows the reference simulators' drivers (../shared/reference/dram): requests are offered in trace
order, at most 16 per memory clock and not before their inject cycle; offering stops for that cycle at the first
request whose channel queue is full (head-of-line blocking); the run ends when every request was accepted and
every read returned. Latency is from controller entry to read data return; bandwidth is requests x tx_bytes
over the simulated time. `level` is `command` (every command through the bank state machine) or `transaction`
(per-channel closed forms of the same rules, see simulator.memory.dram.transaction).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulator.errors import UserError
from simulator.memory.spec import MemorySpec

LEVELS = ("command", "transaction")
MAX_REFRESH_INTERVALS = 2_000_000   # the command level steps refresh by refresh, ~2 us each: about 5 s at most


def _check_span(spec: MemorySpec, inject, trace_path) -> None:
    """The command level simulates idle time refresh by refresh: bound the trace's span before starting."""
    if spec.controller.refresh == "none" or spec.timing is None or not len(inject):
        return
    interval = spec.refresh_interval
    span = int(inject[-1]) / interval * spec.organisation.ranks
    if span > MAX_REFRESH_INTERVALS:
        most = MAX_REFRESH_INTERVALS * interval / spec.organisation.ranks
        raise UserError(f"the trace spans {int(inject[-1])} cycles, {span:.3g} refresh intervals; allowed: at most "
                        f"{MAX_REFRESH_INTERVALS} (about {most:.3g} cycles) at the command level, or --level "
                        "transaction", file=str(trace_path))


def run_memtrace(spec: MemorySpec, trace_path: Path, level: str = "command") -> dict[str, Any]:
    """The JSON summary of replaying `trace_path` (bandwidth_gbps, avg_read_latency_ns/cycles, row_hit_rate,
    sim_cycles, commands, energy_j, p50/p99/max latency, per_channel, series)."""
    from simulator.memory.dram import command, stats, trace, transaction
    from simulator.memory.loader import check_model

    if level not in LEVELS:
        raise UserError(f"level {level!r} is not allowed; allowed: {', '.join(LEVELS)}", key="--level")
    check_model(spec)
    inject, is_write, addr = trace.read_trace(Path(trace_path), spec.capacity_bytes)
    if level == "command":
        _check_span(spec, inject, trace_path)
    if level == "command":
        res = command.simulate_requests(spec, inject, is_write, addr)
        out = stats.summarise(spec, res, is_write, level="command")
    else:
        out = transaction.trace_summary(spec, inject, is_write, addr)
    out["trace"] = str(trace_path)
    return out
