"""Chrome/Perfetto trace: one process per device of the plan (each tensor rank and replica of a pipeline stage shows
that stage's simulated shard), one track (thread) per unit engine (`npu`, `npu.vector`) and one for the link (the
collectives and pipeline handoffs the device takes part in), one complete event per op; and a `network` process with
one track per link of the topology that the simulated group's collectives use (each collective on every link it
crosses, with its bytes there)."""

from __future__ import annotations

from simulator.engine.executor import Result


def chrome_trace(result: Result) -> dict:
    """The trace as a JSON-able dict (`{"traceEvents": [...]}`); times in microseconds."""
    plan = result.schedule.plan
    p = plan.plan
    units = sorted({_track(ev) for _, ev in result.timeline()})
    tid = {u: i + 1 for i, u in enumerate(units)}
    stages = sorted({pl.device for pl in result.placements})
    pids = {s: [(plan.device(r, s, k), r, k) for r in range(p.dp) for k in range(p.tp)] for s in stages}
    events: list[dict] = []
    for s in stages:
        for pid, r, k in pids[s]:
            events.append({"ph": "M", "name": "process_name", "pid": pid,
                           "args": {"name": f"device {pid} (replica {r}, stage {s}, tensor rank {k})"}})
            events.append({"ph": "M", "name": "process_sort_index", "pid": pid, "args": {"sort_index": pid}})
            for u in units:
                events.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid[u], "args": {"name": u}})
    for pl, ev in result.timeline():
        label = f"L{pl.index}" if pl.block == "layer" else pl.block
        span = {"name": ev.name, "cat": ev.op.kind, "ph": "X", "tid": tid[_track(ev)],
                "ts": (pl.start_ps + ev.start_ps) / 1e6, "dur": (ev.end_ps - ev.start_ps) / 1e6,
                "args": {"block": label, "micro_batch": pl.micro, "bound": ev.cost.bound, "flops": ev.op.flops,
                         "bytes": ev.op.bytes, "shape": dict(ev.op.shape)}}
        events.extend({**span, "pid": pid} for pid, _, _ in pids[pl.device])
    events.extend(_network(result, max((e["pid"] for e in events if "pid" in e), default=0) + 1))
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"system": result.schedule.system.name, "workload": result.schedule.workload.spec.name}}


def _network(result: Result, pid: int) -> list[dict]:
    """The links as tracks of one process: every collective event on each link it crosses."""
    spans = [(pl, ev) for pl, ev in result.timeline() if ev.cost.detail.get("links")]
    labels = sorted({lk for _, ev in spans for lk in ev.cost.detail["links"]})
    if not labels:
        return []
    tid = {lk: i + 1 for i, lk in enumerate(labels)}
    out = [{"ph": "M", "name": "process_name", "pid": pid, "args": {"name": "network"}},
           {"ph": "M", "name": "process_sort_index", "pid": pid, "args": {"sort_index": pid}}]
    out += [{"ph": "M", "name": "thread_name", "pid": pid, "tid": tid[lk], "args": {"name": lk}} for lk in labels]
    for pl, ev in spans:
        for lk, nbytes in ev.cost.detail["links"].items():
            out.append({"name": ev.name, "cat": ev.op.kind, "ph": "X", "pid": pid, "tid": tid[lk],
                        "ts": (pl.start_ps + ev.start_ps) / 1e6, "dur": (ev.end_ps - ev.start_ps) / 1e6,
                        "args": {"bytes": nbytes, "algorithm": ev.cost.detail.get("algorithm", "")}})
    return out


def _track(ev) -> str:
    """A unit's track, or its engine's when the unit has several (the NPU's vector units beside its arrays)."""
    return f"{ev.unit}.{ev.engine}" if ev.engine and ev.engine != "matrix" else ev.unit
