"""Map an OpGraph onto a System: which unit runs each op, which device runs each pipeline stage, and whether
the model's weights and KV cache fit in each device's memory."""

from __future__ import annotations

from dataclasses import dataclass

from simulator.errors import ConfigError
from simulator.hardware.system import System
from simulator.lowering.graph import OpGraph
from simulator.lowering.ops import DTYPE_BYTES, Op
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

    def unit_of(self, op: Op) -> str:
        return self.placement[op.op_class]


def footprint(workload: Workload) -> Footprint:
    """Per-device weights (split by tp x pp) and KV cache (each request's keys and values over its layers)."""
    s, m = workload.spec, workload.model
    weights = m.params * DTYPE_BYTES[s.dtype.weights] / (s.tp * s.pp)
    kv_heads = max(1, m.n_kv_heads // s.tp)
    per_token = 2 * kv_heads * m.d_head * DTYPE_BYTES[s.dtype.kv] * workload.layers / s.pp
    tokens = float(workload.kv_lens.sum())
    if s.phase == "mixed":
        tokens += s.prompt_len + s.chunk_len
    return Footprint(weights, tokens * per_token)


def map_graph(graph: OpGraph, system: System, workload: Workload) -> Schedule:
    """Check that the system can run the workload and place every op."""
    s = workload.spec
    needed = s.tp * s.pp
    if needed > system.devices:
        raise ConfigError(f"tp x pp = {needed} devices but {system.name} has {system.devices} "
                          f"(set hw.devices or lower tp/pp)", file=str(workload.path), key="tp")
    used = {op.op_class for op, _ in graph.ops()}
    if graph.handoff is not None:
        used.add("collective")
    for op_class in sorted(used):
        unit = system.mapping.get(op_class)
        if unit is None or (op_class == "collective" and system.link is None):
            raise ConfigError(f"no unit of system '{system.name}' runs {op_class} ops "
                              f"(add a unit that serves them, or an interconnect for collectives)",
                              file=str(system.path), key="device.units")
    fp = footprint(workload)
    if fp.total > system.memory_capacity:
        raise ConfigError(
            f"{workload.model.name} needs {fmt(fp.weights, 'size')} of weights + {fmt(fp.kv_cache, 'size')} of "
            f"KV cache per device, more than the {fmt(system.memory_capacity, 'size')} of memory of a "
            f"'{system.name}' device; raise tp/pp, lower the batch or the context, or use a smaller dtype",
            file=str(workload.path), key="model")
    return Schedule(graph, system, workload, dict(system.mapping), fp)
