"""Map an OpGraph onto a System: which unit runs each op, which device runs each pipeline stage, and whether
the model's weights and KV cache fit in each device's memory."""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.errors import ConfigError, allowed, did_you_mean
from simulator.hardware.registry import lookup
from simulator.hardware.system import System
from simulator.lowering.graph import OpGraph
from simulator.lowering.ops import DTYPE_BYTES, KINDS, Op
from simulator.mapping.homes import Homes, Path, check_capacity
from simulator.mapping.plan import PlanGraphs, plan_graphs
from simulator.mapping.remote import RemoteUnits
from simulator.memory.spec import MemorySpec
from simulator.quantity import fmt
from simulator.workload.spec import Workload


@dataclass(frozen=True)
class Footprint:
    """Bytes resident on one device: its share of the weights and of the KV cache."""

    weights: float
    kv_cache: float

    @property
    def total(self) -> float:
        return self.weights + self.kv_cache


@dataclass(frozen=True)
class Schedule:
    """Placement of every op class on a unit; pipeline stage s runs on device group s."""

    graph: OpGraph
    system: System
    workload: Workload
    placement: dict[str, str]
    footprint: Footprint
    plan: PlanGraphs         # every replica's micro-batch graphs (graph is replica 0's first)

    rules: dict[str, str] = field(default_factory=dict)   # workload placement.ops: kind/class[, phase] -> unit
    homes: Homes | None = None                           # workload placement.homes: tensors in remote memories
    remote: RemoteUnits | None = None                    # units of other groups that placed ops run on

    def memory_key(self, unit: str) -> str:
        """The name under which a unit's memory traffic is counted ('hbm', or 'pim.hbm' for a placed group)."""
        group, dot, name = unit.partition(".")
        if dot and group in self.system.groups and name in self.system.groups[group].units:
            return f"{group}.{self.system.groups[group].units[name].memory}"
        return self.system.units[unit].memory

    def memory_of(self, unit: str) -> MemorySpec:
        group, dot, name = unit.partition(".")
        if dot and group in self.system.groups and name in self.system.groups[group].units:
            grp = self.system.groups[group]
            return grp.memories[grp.units[name].memory]
        return self.system.memories[self.system.units[unit].memory]

    def unit_of(self, op: Op) -> str:
        """The unit of the most specific rule: phase and kind, kind, phase and class, class; else the system's."""
        if self.rules:
            phase = phase_of(op, self.workload.spec.phase)
            for key in (f"{phase}.{op.kind}", op.kind, f"{phase}.{op.op_class}", op.op_class):
                if key in self.rules:
                    return self.rules[key]
        return self.placement[op.op_class]


def phase_of(op: Op, phase: str) -> str:
    """Attention with one query per request is decode, with more prefill; other ops take the workload's phase."""
    q = op.dims.get("q_len")
    return phase if q is None else ("decode" if q == 1 else "prefill")


def footprint(workload: Workload) -> Footprint:
    """Per-device weights (split by tp x pp; experts also by ep) and KV cache (each request's keys and values over
    its layers) of the largest replica (dp splits the batch, the first replicas take the remainder)."""
    s, m = workload.spec, workload.model
    experts = 0.0
    if m.moe is not None:
        experts = m.layers * m.moe.experts * (3 if m.gated_mlp else 2) * m.hidden * m.ffn
    params = m.params - experts * (1 - 1 / s.parallel.ep)
    weights = params * DTYPE_BYTES[s.dtype.weights] / (s.tp * s.pp)
    kv_heads = max(1, m.n_kv_heads // s.tp)
    per_token = 2 * kv_heads * m.d_head * DTYPE_BYTES[s.dtype.kv] * workload.layers / s.pp
    dp = s.parallel.dp
    tokens = float(workload.kv_lens[: -(-len(workload.kv_lens) // dp)].sum()) if dp > 1 else \
        float(workload.kv_lens.sum())
    if s.phase == "mixed":
        tokens += s.prompt_len + s.chunk_len
    return Footprint(weights, tokens * per_token)


def map_graph(graph: OpGraph, system: System, workload: Workload, plan: PlanGraphs | None = None) -> Schedule:
    """Check that the system can run the workload and place every op; `plan` holds every replica's micro-batch
    graphs (lowered here when not given and the plan has more than one)."""
    s = workload.spec
    p = s.parallel
    needed, first = p.tp * p.pp * p.dp, system.first
    if needed > first.count:
        where = f"{system.name} has {first.count}" if len(system.groups) == 1 else \
            f"group '{first.name}' of {system.name} has {first.count}"
        raise ConfigError(f"tp x pp x dp = {needed} devices but {where}; allowed: at most {first.count} (set "
                          f"hw.devices or lower the plan)", file=str(workload.path), key="parallel")
    if plan is None:
        plan = (plan_graphs(workload) if p.dp * p.ep * p.microbatches > 1 else
                PlanGraphs(p, [[workload]], [[graph]]))
    rules = placement_rules(system, workload)
    used = {op.op_class for g in plan.graphs[0] for op, _ in g.ops()}
    if graph.handoff is not None:
        used.add("collective")
    for op_class in sorted(used):
        unit = system.mapping.get(op_class)
        if unit is None or (op_class == "collective" and system.link is None):
            raise ConfigError(f"no unit of system '{system.name}' runs {op_class} ops "
                              f"(add a unit that serves them, or an interconnect for collectives)",
                              file=str(system.path), key="device.units")
    fp = footprint(workload)
    homes = workload.spec.placement.homes
    placed = sorted({u for u in rules.values() if u not in system.units})
    kv_group = _kv_group(rules, system)
    if kv_group is not None:      # attention placed on another group: the KV cache lives there
        cap = system.groups[kv_group].memory_capacity
        if fp.kv_cache > cap:
            raise ConfigError(f"{fmt(fp.kv_cache, 'size')} of KV cache per device is more than the "
                              f"{fmt(cap, 'size')} of a '{kv_group}' device; allowed: at most {fmt(cap, 'size')} "
                              f"(raise tp/pp/dp or lower the batch)", file=str(workload.path), key="placement.ops")
        fp = Footprint(fp.weights, 0.0)
    if homes:
        held = {"weights": fp.weights, "kv_cache": fp.kv_cache}
        check_capacity(homes, system.memories, system.memory_nodes, held,
                       sum(v for k, v in held.items() if k not in homes), p.tp * p.pp * p.dp, str(workload.path))
    elif fp.total > system.memory_capacity:
        raise ConfigError(
            f"{workload.model.name} needs {fmt(fp.weights, 'size')} of weights + {fmt(fp.kv_cache, 'size')} of "
            f"KV cache per device, more than the {fmt(system.memory_capacity, 'size')} of memory of a "
            f"'{system.name}' device; raise tp/pp, lower the batch or the context, or use a smaller dtype",
            file=str(workload.path), key="model")
    remote = RemoteUnits(frozenset(placed), system.topology, system.topology.devices[0]) if placed else None
    return Schedule(graph, system, workload, dict(system.mapping), fp, plan, rules, remote_homes(system, homes),
                    remote)


def _kv_group(rules: dict[str, str], system: System) -> str | None:
    """The other group that attention ops are placed on, if any."""
    for key, unit in rules.items():
        what = key.rpartition(".")[2]
        if KINDS.get(what, what) == "attention" and unit not in system.units:
            return unit.partition(".")[0]
    return None


def remote_homes(system: System, homes: dict[str, str]) -> Homes | None:
    """Each unit's path to each home memory: a memory of the device itself is read directly at its own bandwidth,
    a memory on the network over the topology path from the plan's first device."""
    if not homes:
        return None
    units = {u: spec.memory for u, spec in system.units.items()}
    nodes = system.memory_nodes
    paths = {}
    for home in set(homes.values()):
        path = Path(float("inf"), 0.0)
        if home in nodes:
            links = [system.topology.links[i] for i in system.topology.path(system.topology.devices[0], home)]
            path = Path(min(lk.rate for lk in links), sum(lk.latency for lk in links),
                        sum(lk.energy_per_bit for lk in links))
        paths.update({(u, home): path for u in units})
    return Homes(dict(homes), {**system.memories, **nodes}, units, paths)


PHASES = ("prefill", "decode", "mixed")


def placement_rules(system: System, workload: Workload) -> dict[str, str]:
    """The workload's `placement.ops`, checked: a known op kind or class (optionally after a phase) on a unit of
    the system that serves that class."""
    file = str(workload.path)
    classes = sorted(set(KINDS.values()))
    for key, unit in workload.spec.placement.ops.items():
        where = f"placement.ops.{key}"
        phase, _, what = key.rpartition(".")
        if phase and phase not in PHASES:
            raise ConfigError(f"unknown phase '{phase}'; {allowed(PHASES)}", file=file, key=where)
        if what not in KINDS and what not in classes:
            names = set(classes) | set(KINDS)
            raise ConfigError(f"unknown op kind or class '{what}'{did_you_mean(what, names)}; {allowed(names)}",
                              file=file, key=where)
        spec = _rule_unit(system, workload, unit, where)
        op_class = KINDS.get(what, what)
        served = lookup(spec.type, file=file, key=where).serves
        if op_class not in served:
            raise ConfigError(f"unit '{unit}' ({spec.type}) cannot run {op_class} ops; allowed: a unit "
                              f"that serves {op_class}", file=file, key=where)
    return dict(workload.spec.placement.ops)


def _rule_unit(system: System, workload: Workload, unit: str, where: str):
    """The spec of a rule's unit: a unit of the plan's group, or 'group.unit' of another group with a device for
    each device of the plan."""
    file = str(workload.path)
    if unit in system.units:
        return system.units[unit]
    group, dot, name = unit.partition(".")
    others = [g for g in system.groups if g != system.first.name]
    if not dot or group not in others:
        if dot:
            raise ConfigError(f"unknown group '{group}'; allowed: {', '.join(others) or 'no other group'}",
                              file=file, key=where)
        choices = list(system.units) + [f"{g}.{u}" for g in others for u in system.groups[g].units]
        raise ConfigError(f"unknown unit '{unit}'; {allowed(choices)}", file=file, key=where)
    grp = system.groups[group]
    if name not in grp.units:
        raise ConfigError(f"unknown unit '{name}' of group '{group}'; {allowed(grp.units)}", file=file, key=where)
    p = workload.spec.parallel
    if grp.count < p.tp * p.pp * p.dp:
        raise ConfigError(f"group '{group}' has {grp.count} devices, the plan uses {p.tp * p.pp * p.dp}; allowed: a "
                          f"group with a device for each device of the plan", file=file, key=where)
    return grp.units[name]
