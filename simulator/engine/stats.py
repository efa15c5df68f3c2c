"""From a simulation Result to tables (pandas) and the summary every output shares.

Energy = sum over components of (action counts x per-action energy from the hardware config) + static power x
time; memory with a timing table: the ACT/RD/WR/REF counts of its normal traffic x their energies + I/O bits +
background per channel per tCK (simulator.memory.traffic; PIM commands are the PIM unit's); memory without one:
bytes x 8 x energy per bit + background; links: bits x energy per bit.
Counts with no table entry are listed under `energy_j.uncosted` rather than silently costed at zero.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.area import system_area
from simulator.engine.capability import capabilities
from simulator.engine.executor import (Placement, Result, is_attention, post_attention_start, reads_during,
                                       scope_of, union)
from simulator.engine.time import ClockDomain, to_s
from simulator.hardware.unit import energy_table
from simulator.memory import traffic

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Activity:
    """Seconds each memory's ranks have normal rows open (other units stream on it) and, for memories with a
    dual-row-buffer PIM unit, PIM rows open (the PIM unit works): they set the background energy."""

    normal: dict[str, float]
    pim: dict[str, float]


@dataclass
class Stats:
    result: Result

    def ops_table(self) -> pd.DataFrame:
        """One row per op of each distinct block run, with how many times that run repeats."""
        import pandas as pd  # lazily: runs that only want the summary (sweep workers) skip its import

        repeats: dict[int, int] = defaultdict(int)
        runs = {}
        for p in self.result.placements:
            repeats[id(p.run)] += 1
            runs[id(p.run)] = (p.run, p.block)
        rows = []
        for key, (run, block) in runs.items():
            for ev in run.events:
                c = ev.cost
                rows.append({"block": block, "op": ev.name, "kind": ev.op.kind, "class": ev.op.op_class,
                             "unit": ev.unit, "count": repeats[key], "start_us": ev.start_ps / 1e6,
                             "time_us": (ev.end_ps - ev.start_ps) / 1e6, "cycles": c.cycles, "bound": c.bound,
                             "flops": ev.op.flops, "bytes": ev.op.bytes, "request": ev.op.request,
                             "shape": " ".join(f"{k}={v}" for k, v in ev.op.shape)})
        return pd.DataFrame(rows)

    def _unit(self, key: str) -> tuple[str, Any]:
        """(prefix, spec) of a unit key: a unit of the first group ('gpu') or of another ('pim.pim'); the link has
        no spec."""
        system = self.result.schedule.system
        if key in system.units:
            return "", system.units[key]
        group, _, unit = key.partition(".")
        if group in system.groups and unit in system.groups[group].units:
            return f"{group}.", system.groups[group].units[unit]
        return "", None

    def _totals(self, placements: list[Placement]):
        """Busy time per unit and per op class, bytes per memory, and action counts per unit over `placements`."""
        busy: dict[str, float] = defaultdict(float)
        by_class: dict[str, float] = defaultdict(float)
        moved: dict[str, float] = defaultdict(float)
        streamed: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        models = self.result.models
        spans: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
        traffic_spans: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
        pim_spans: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
        for p in placements:
            for ev in p.run.events:
                spans[(id(p), ev.unit)].append((ev.start_ps, ev.end_ps))
                by_class[ev.op.op_class] += to_s(ev.end_ps - ev.start_ps)
                cap = capabilities(models.get(ev.unit))
                if cap.pim_rows:
                    prefix, spec = self._unit(ev.unit)
                    pim_spans[(id(p), prefix + spec.memory)].append((ev.start_ps, ev.end_ps))
                for mem, b in ev.cost.bytes.items():
                    moved[mem] += b
                    if not cap.in_memory:
                        traffic_spans[(id(p), mem)].append((ev.start_ps, ev.end_ps))
                        read = ev.op.read_fraction * b
                        streamed[mem][0] += read
                        streamed[mem][1] += b - read
        for (_, unit), intervals in spans.items():
            busy[unit] += to_s(union(intervals))      # a unit is busy while any of its engines is
        pim_memories = {}
        for key, model in models.items():
            if capabilities(model).pim_rows:
                prefix, spec = self._unit(key)
                pim_memories[prefix + spec.memory] = 0.0
        active = Activity(defaultdict(float), pim_memories)
        for (_, mem), intervals in traffic_spans.items():
            active.normal[mem] += to_s(union(intervals))
        for (_, mem), intervals in pim_spans.items():
            active.pim[mem] += to_s(union(intervals))
        counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for p in placements:
            for unit, actions in p.run.counts.items():
                for action, n in actions.items():
                    counts[unit][action] += n
        return busy, by_class, moved, streamed, active, counts

    def device_energy(self, latency: float, placements: list[Placement], group: str | None = None) -> dict:
        """Energy of one device of `group` (default: the first) that ran the events of `placements` on its units
        (none: idle, static power and memory standby only)."""
        _, _, moved, streamed, active, counts = self._totals(placements)
        return self.energy(latency, moved, streamed, active, counts, group)

    def system_energy(self, latency: float) -> dict:
        """Energy of every device of the system over the step: each tensor rank and replica of a pipeline stage as
        the simulated shard of that stage (exact for replicas of equal batches); a group that runs placed ops
        (`placement.ops` to 'group.unit') pairs its device i with the plan's device i; other devices idle.
        `by_component` sums the devices, `by_group` and `by_device` ('group.index') break the total down."""
        sched = self.result.schedule
        plan, system = sched.plan.plan, sched.system
        used = plan.tp * plan.pp * plan.dp
        placed = {key.partition(".")[0] for key in self.result.models if self._unit(key)[0]}
        stage_of = [(d // plan.tp) % plan.pp for d in range(used)]
        per_device: dict[str, dict] = {}
        for n, (name, grp) in enumerate(system.groups.items()):
            busy = n == 0 or name in placed
            stages = {s: self.device_energy(latency, [p for p in self.result.placements if p.device == s], name)
                      for s in range(plan.pp)} if busy else {}
            idle = self.device_energy(latency, [], name)
            for i in range(grp.count):
                per_device[f"{name}.{i}"] = stages[stage_of[i]] if busy and i < used else idle
        per_device.update(self.memory_node_energy(latency))
        by: dict[str, float] = defaultdict(float)
        uncosted: dict[str, float] = defaultdict(float)
        by_group: dict[str, float] = defaultdict(float)
        for dev, e in per_device.items():
            by_group[dev.rsplit(".", 1)[0]] += e["total"]
            for k, v in e["by_component"].items():
                by[k] += v
            for k, v in e["uncosted"].items():
                uncosted[k] += v
        return {"total": sum(by_group.values()), "by_component": dict(by), "uncosted": dict(uncosted),
                "by_group": dict(by_group),
                "by_device": {d: {"total": e["total"], "by_component": e["by_component"]}
                              for d, e in per_device.items()}}

    def memory_node_energy(self, latency: float) -> dict[str, dict]:
        """Memories on the network (a CXL expander): the traffic of every device of the plan (each stage's
        simulated shard times its tp x dp devices) in commands and I/O, plus standby and refresh over the step."""
        sched = self.result.schedule
        plan, nodes = sched.plan.plan, sched.system.memory_nodes
        out = {}
        if not nodes:
            return out
        rd, wr, active = defaultdict(float), defaultdict(float), defaultdict(float)
        for s in range(plan.pp):
            _, _, _, streamed, act, _ = self._totals([p for p in self.result.placements if p.device == s])
            for name in nodes:
                rd[name] += streamed.get(name, (0.0, 0.0))[0] * plan.tp * plan.dp
                wr[name] += streamed.get(name, (0.0, 0.0))[1] * plan.tp * plan.dp
                active[name] = max(active[name], act.normal.get(name, 0.0))
        for name, mem in nodes.items():
            if mem.timing is not None:
                e = traffic.energy(mem, traffic.commands(mem, rd[name], wr[name], latency), 8 * (rd[name] + wr[name]),
                                   latency, active[name])
            else:
                e = (rd[name] + wr[name]) * 8 * mem.energy_per_bit + traffic.background(mem, latency)
            out[f"memory.{name}"] = {"total": e, "by_component": {name: e}, "uncosted": {}}
        return out

    def summary(self) -> dict:
        res = self.result
        sched = res.schedule
        system, wl = sched.system, sched.workload
        latency = to_s(res.latency_ps)
        busy, by_class, moved, streamed, active, counts = self._totals(res.placements)
        # per device: the simulated pipeline stages each run on their own device, so busy time and bytes of the
        # first group's units and memories are averaged over the stages (utilisation <= 1, bandwidth <= peak)
        stages = max(1, len({p.device for p in res.placements}))
        utilisation = {u: busy.get(u, 0.0) / (latency * (stages if u in system.units else 1)) if latency else 0.0
                       for u in res.models}
        bandwidth = {}
        for name, mem in system.memories.items():
            b = moved.get(name, 0.0)
            gbps = b / stages / latency / 1e9 if latency else 0.0
            bandwidth[name] = {"bytes": round(b), "gbps": gbps, "peak_gbps": mem.peak_bandwidth / 1e9,
                               "utilisation": gbps * 1e9 / mem.peak_bandwidth}
        for key, b in moved.items():       # memories of a placed group ('attacc.hbm') and on the network ('cxl0')
            group, _, name = key.partition(".")
            mem = (system.memory_nodes.get(key) if key not in system.groups else None) or (
                system.groups[group].memories.get(name) if group in system.groups else None)
            if key in bandwidth or mem is None:
                continue
            gbps = b / latency / 1e9 if latency else 0.0
            bandwidth[key] = {"bytes": round(b), "gbps": gbps, "peak_gbps": mem.peak_bandwidth / 1e9,
                              "utilisation": gbps * 1e9 / mem.peak_bandwidth}
        if system.link is not None:
            b = moved.get("link", 0.0)
            bandwidth["link"] = {"bytes": round(b), "gbps": b / latency / 1e9 if latency else 0.0,
                                 "peak_gbps": system.link.bandwidth / 1e9,
                                 "utilisation": (b / latency / system.link.bandwidth) if latency else 0.0}
        dram = {name: traffic.commands(mem, *streamed.get(name, (0.0, 0.0)), latency)
                for name, mem in system.memories.items()}
        energy = self.system_energy(latency)
        domains = [ClockDomain(u, s.clock) for u, s in system.units.items()]
        domains += [ClockDomain(n, 1 / m.tck) for n, m in system.memories.items()]
        cycles = {d.name: d.cycles(res.latency_ps) for d in domains}
        tokens = wl.generated_tokens
        blocks = defaultdict(float)
        for p in res.placements:
            blocks[p.block] += to_s(p.run.duration_ps)
        layer_runs = [p.run for p in res.placements if p.block == "layer"]
        graph = sched.graph
        graphs, plan = sched.plan, sched.plan.plan
        commands: dict[str, float] = defaultdict(float)
        for mem_counts in dram.values():
            for name, n in mem_counts.items():
                commands[name] += n
        for unit_counts in counts.values():
            for action, n in unit_counts.items():
                if action.startswith("cmd."):
                    commands[action[4:]] += n
        stages = {
            "prologue_s": blocks.get("prologue", 0.0),
            "layers_s": blocks.get("layer", 0.0),
            "layer_s": to_s(layer_runs[0].duration_ps) if layer_runs else 0.0,
            "pipeline_handoff_s": blocks.get("handoff", 0.0),
            "epilogue_s": blocks.get("epilogue", 0.0),
            "busy_by_op_class_s": dict(by_class),
        }
        if layer_runs:
            stages.update(self.layer_phases(layer_runs[0]))
        busy_stage = [to_s(sum(p.run.duration_ps for p in res.placements if p.device == s and p.block != "handoff"))
                      for s in range(plan.pp)]
        pipeline = {"stage_busy_s": busy_stage,
                    "bubble_fraction": 1 - sum(busy_stage) / (plan.pp * latency) if latency else 0.0,
                    "steady_throughput_tokens_per_s": tokens / max(busy_stage) if max(busy_stage) else 0.0}
        out = {
            "system": system.name, "workload": wl.spec.name, "model": wl.model.name, "phase": wl.spec.phase,
            "level": res.level, "latency_s": latency,
            "cycles": {d: round(c) for d, c in cycles.items()},
            "throughput_tokens_per_s": tokens / latency if latency else 0.0,
            "tokens": {"generated": tokens, "processed": wl.new_tokens, "batch": wl.batch},
            "energy_j": energy,
            "energy_per_token_j": energy["total"] / tokens if tokens else 0.0,
            "area_mm2": system_area(system),
            "bandwidth": bandwidth,
            "utilisation": utilisation,
            "stages": stages,
            "pipeline": pipeline,
            "commands": {c: round(n) for c, n in commands.items()},   # counts are whole numbers
            "pim": self.pim_activity(),
            "params": wl.model.params,
            "active_params": wl.model.active_params,
            "flops": graphs.total_flops(),
            "flops_by_class": {c: graphs.total_flops((c,)) for c in ("gemm", "attention", "vector")},
            "macs": graphs.total_flops(("gemm", "attention")) / 2,
            "bytes": {k: v * plan.tp * plan.dp for k, v in moved.items()},
            "memory_footprint_bytes": {"weights": sched.footprint.weights, "kv_cache": sched.footprint.kv_cache,
                                       "capacity": system.memory_capacity},
            "layers_simulated": graph.layers,
            "devices_used": plan.tp * plan.pp * plan.dp,
            "parallel": {"tp": plan.tp, "pp": plan.pp, "dp": plan.dp, "ep": plan.ep,
                         "microbatches": plan.microbatches},
            "wall_time_s": res.wall_s,
        }
        fusion = self.fusion()
        if fusion:
            out["fusion"] = fusion
        return out

    def fusion(self) -> dict:
        """Per unit whose model reports on-chip reuse (`fusion_summary`, an NPU with a fusion policy): the tensors
        kept in its scratchpad and spilled, and the DRAM bytes saved, over the layers of the run."""
        layers = [p for p in self.result.placements if p.block == "layer"]
        out = {}
        for unit, model in self.result.models.items():
            report = getattr(model, "fusion_summary", None)
            events = [ev for p in layers for ev in p.run.events if ev.unit == unit]
            found = report(events, len(layers)) if report and layers else None
            if found:
                out[unit] = found
        return out

    def pim_activity(self) -> dict:
        """Per PIM unit over the run: busy cycles (memory clock), busy cycles of each channel, and the normal 64 B
        reads (RD) of other units issued while the PIM unit was busy (a read op's requests pro rata to its overlap
        with PIM work): the traffic that shares the banks with PIM and that the row-buffer mode arbitrates."""
        system = self.result.schedule.system
        out: dict[str, dict] = {}
        for unit, spec in system.units.items():
            if not capabilities(self.result.models.get(unit)).in_memory:
                continue
            mem = system.memories[spec.memory]
            busy_ps, channels, overlapped = 0, None, 0.0
            for p in self.result.placements:
                pim = [ev for ev in p.run.events if ev.unit == unit and ev.end_ps > ev.start_ps]
                if not pim:
                    continue
                spans = [(ev.start_ps, ev.end_ps) for ev in pim]
                busy_ps += union(spans)
                for ev in pim:
                    occ = np.asarray(ev.cost.detail.get("channel_occupancy", []), dtype=float)
                    if occ.size:
                        channels = occ if channels is None else channels + occ
                others = [ev for ev in p.run.events if ev.unit != unit]
                overlapped += reads_during(others, spans, spec.memory, mem.organisation.tx_bytes)
            out[unit] = {"busy_cycles": round(busy_ps * 1e-12 / mem.tck),
                         "channel_busy_cycles": [] if channels is None else np.rint(channels).astype(int).tolist(),
                         "normal_reads_during_pim": round(overlapped)}
        return out

    def layer_phases(self, run) -> dict:
        """NeuPIMs' stages of one layer: A before the first attention op (QKV generation), B from the first
        attention op to the last (multi-head attention), E after it (projection and FFN). With sub-batch
        interleaving the two-layer block splits at each sub-batch's projection into A to F (A to D for one layer):
        A = QKV#1, B = QKV#2 | MHA#1, C = Proj/FFN#1 + QKV#1' | MHA#2, D = Proj/FFN#2 + QKV#2' | MHA#1', ...
        Cycles are in the clock of the unit that runs the GEMMs and exclude exposed communication (time when only
        collectives run), reported apart as `communication_cycles`: the NeuPIMs artifact simulates one device
        and no interconnect. `pim_cycles` is PIM-unit busy time in the same clock."""
        att = [ev for ev in run.events if is_attention(ev.op)]
        if not att:
            return {}
        if scope_of(run.events[0].name):
            scopes = sorted({scope_of(ev.name) for ev in run.events})
            first = min(ev.start_ps for ev in att if ev.name.startswith(scopes[0]))
            cuts = [0, first] + [post_attention_start(run, sc) for sc in scopes] + [run.duration_ps]
            names = "ABCDEF"
        else:
            cuts = [0, min(ev.start_ps for ev in att), max(ev.end_ps for ev in att), run.duration_ps]
            names = "ABE"
        return {name: self._window(run, lo, hi) for name, lo, hi in zip(names, cuts, cuts[1:])}

    def _window(self, run, lo: int, hi: int) -> dict:
        """Cycles, PIM busy cycles, exposed communication and bandwidth use of the ops inside [lo, hi)."""
        system = self.result.schedule.system
        host = system.mapping.get("gemm")
        clock = ClockDomain(host, system.units[host].clock) if host in system.units else ClockDomain("ps", 1e12)
        inside = [ev for ev in run.events if ev.start_ps >= lo and ev.end_ps <= hi and ev.end_ps > ev.start_ps]
        pim = sum(ev.end_ps - ev.start_ps for ev in inside
                  if capabilities(self.result.models.get(ev.unit)).in_memory)
        comm = [(ev.start_ps, ev.end_ps) for ev in inside if ev.op.op_class == "collective"]
        work = [(ev.start_ps, ev.end_ps) for ev in inside if ev.op.op_class != "collective"]
        exposed = union(comm + work) - union(work) if comm else 0
        util: dict[str, float] = {}
        for mem, spec in system.memories.items():
            moved = sum(ev.cost.bytes.get(mem, 0.0) for ev in inside)
            span = hi - lo - exposed
            util[mem] = moved / (to_s(span) * spec.peak_bandwidth) if span > 0 else 0.0
        return {"cycles": round(clock.cycles(hi - lo - exposed)), "pim_cycles": round(clock.cycles(pim)),
                "communication_cycles": round(clock.cycles(exposed)), "bandwidth_utilisation": util}

    def energy(self, latency: float, moved: dict[str, float], streamed: dict[str, list[float]], active: Activity,
               counts: dict[str, dict[str, float]], group: str | None = None) -> dict:
        """One device of `group`: its units' counts x table + static power, its memories' commands and standby,
        the device's own static power, and the link energy its units' transfers carry (`link.energy_j`)."""
        system = self.result.schedule.system
        first = next(iter(system.groups))
        name = group or first
        grp = system.groups[name]
        prefix = "" if name == first else f"{name}."
        keys = [prefix + u for u in grp.units] + (["link"] if name == first else [])
        by: dict[str, float] = {}
        uncosted: dict[str, float] = {}
        for unit, spec in grp.units.items():
            key = prefix + unit
            table = energy_table(self.result.models.get(key), spec)
            dyn = 0.0
            for action, n in counts.get(key, {}).items():
                if action.startswith("link."):
                    continue
                if action in table:
                    dyn += n * table[action]
                else:
                    uncosted[f"{key}.{action}"] = n
            by[key] = dyn + spec.static_power * latency
        for mem_name, mem in grp.memories.items():
            key = prefix + mem_name
            if mem.timing is not None:
                rd, wr = streamed.get(key, (0.0, 0.0))
                cmds = (traffic.commands(mem, rd, wr, latency) if rd + wr else
                        {"REF": float(traffic.refreshes(mem, latency))})      # idle: refresh only
                by[key] = traffic.energy(mem, cmds, 8 * (rd + wr), latency, active.normal.get(key, 0.0),
                                         active.pim.get(key))
            else:
                by[key] = moved.get(key, 0.0) * 8 * mem.energy_per_bit + traffic.background(mem, latency)
        if grp.static_power:
            by[prefix + "device_static"] = grp.static_power * latency
        link = sum(counts.get(k, {}).get("link.energy_j", 0.0) for k in keys)   # every hop's bits (mapping.comm)
        if system.link is not None or link:
            by[prefix + "link"] = link
        return {"total": sum(by.values()), "by_component": by, "uncosted": uncosted}
