"""Chrome/Perfetto trace: one process per device, one track (thread) per unit engine (`npu`, `npu.vector`), one
complete event per op."""

from __future__ import annotations

from simulator.engine.executor import Result


def chrome_trace(result: Result) -> dict:
    """The trace as a JSON-able dict (`{"traceEvents": [...]}`); times in microseconds."""
    units = sorted({_track(ev) for _, ev in result.timeline()})
    tid = {u: i + 1 for i, u in enumerate(units)}
    devices = sorted({p.device for p in result.placements})
    events: list[dict] = []
    for d in devices:
        events.append({"ph": "M", "name": "process_name", "pid": d, "args": {"name": f"device {d}"}})
        for u in units:
            events.append({"ph": "M", "name": "thread_name", "pid": d, "tid": tid[u], "args": {"name": u}})
    for p, ev in result.timeline():
        label = f"L{p.index}" if p.block == "layer" else p.block
        events.append({
            "name": ev.name, "cat": ev.op.kind, "ph": "X", "pid": p.device, "tid": tid[_track(ev)],
            "ts": (p.start_ps + ev.start_ps) / 1e6, "dur": (ev.end_ps - ev.start_ps) / 1e6,
            "args": {"block": label, "bound": ev.cost.bound, "flops": ev.op.flops, "bytes": ev.op.bytes,
                     "shape": dict(ev.op.shape)},
        })
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"system": result.schedule.system.name, "workload": result.schedule.workload.spec.name}}


def _track(ev) -> str:
    """A unit's track, or its engine's when the unit has several (the NPU's vector units beside its arrays)."""
    return f"{ev.unit}.{ev.engine}" if ev.engine and ev.engine != "matrix" else ev.unit
