"""Iteration times from the hardware simulation: one serving iteration (decodes plus prefill chunks) lowered in
memory to an OpGraph of the workload's model and costed by the unit models, cached by the iteration's shape.

Exact mode (the default). A block (prologue, decoder layer, epilogue, pipeline handoff) whose ops run one after
another (all on one unit engine, or totally ordered by their dependencies, and no stage-costed PIM groups) lasts
exactly the sum of its ops' durations in integer ps, and every per-unit total that energy needs (bytes, streamed
reads/writes, open-row time, action counts) is the sum of its ops'. Such a block is costed as (its fixed ops,
cached per token count) + (its attention ops, costed by their unit models and cached per op).
Any other block (NPU vector units beside the systolic arrays, PIM stages, per-request overlap) runs through the
executor's discrete-event simulation. Results are cached by the iteration key (`IterationModel.key`), which holds
exactly what the lowering reads: token counts, and per attention group its (count, sum, max) of KV lengths (fused
attention) or every request's KV length in order (per-request attention).

`cache="off"` runs the executor's full simulation for every iteration (the reference the tests hold the exact
mode against); `cache="interpolate"` rounds decode KV sums to a grid and reports its error on a sample.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, fields
from types import SimpleNamespace

import networkx as nx
import numpy as np

from simulator.engine.executor import Executor, Result
from simulator.engine.stats import Activity, Stats
from simulator.engine.time import to_ps, to_s
from simulator.hardware.system import System
from simulator.lowering import builders as mk
from simulator.lowering.graph import GraphBuilder, OpGraph
from simulator.lowering.ops import Op
from simulator.lowering.transformer import Lowering, lower
from simulator.mapping.schedule import Schedule, map_graph
from simulator.memory import traffic
from simulator.memory.dram.energy import command_energy
from simulator.workload.spec import Workload

CACHE_MODES = ("exact", "off", "interpolate")
INTERPOLATE_GRID = 256          # decode KV sums rounded to this many tokens in interpolating mode
CACHE_LIMIT = 50_000            # cached iterations + attention ops before the memos start afresh (bounds memory)
INTERPOLATE_SAMPLES = 200       # iterations (every 16th) re-costed exactly to state the interpolation's error


@dataclass(frozen=True)
class Shape:
    """What one iteration computes: the decode requests' KV lengths (keys their new token attends, itself
    included), the prefill chunks as (new tokens, KV length after the chunk), and how many sequences sample."""

    decode: tuple[int, ...]
    chunks: tuple[tuple[int, int], ...] = ()
    sampled: int = 0

    @property
    def tokens(self) -> int:
        return len(self.decode) + sum(q for q, _ in self.chunks)


@dataclass(frozen=True)
class IterationWorkload(Workload):
    """A Workload whose step is one serving iteration (any mix of decodes and prefill chunks)."""

    chunks: tuple[tuple[int, int], ...] = ()
    sampled: int = 0

    @property
    def batch(self) -> int:
        return len(self.kv_lens) + len(self.chunks)

    @property
    def new_tokens(self) -> int:
        return len(self.kv_lens) + sum(q for q, _ in self.chunks)

    @property
    def generated_tokens(self) -> int:
        return self.sampled


class IterationLowering(Lowering):
    """The transformer lowering with the attention of an iteration: one group of the decodes, then one group per
    distinct (chunk length, KV length after it) of the prefill chunks; a lone group is named `attention` so that
    a pure prefill or decode step lowers to the very ops of `simulate run`."""

    def epilogue(self) -> GraphBuilder:
        """No final norm, LM head or sampling when no sequence samples (every chunk is a partial prefill)."""
        return super().epilogue() if self.w.generated_tokens else GraphBuilder()

    def attention(self, b: GraphBuilder, after: list[str], requests: np.ndarray | None = None):
        outs: list[str] = []
        for name, lens, q, causal in attention_groups(self.w.kv_lens, self.w.chunks):
            if self.profile.attention == "fused":
                outs.append(self.fused_attention(b, name, lens, q, causal, after))
            else:
                outs.extend(self.per_request_attention(b, name, lens, q, causal, after, np.arange(len(lens))))
        return outs if len(outs) > 1 else outs[0]


@dataclass(frozen=True)
class IterationSchedule(Schedule):
    """The system's placement, except prefill attention (q_len > 1) where the attention unit runs decode only (PIM):
    that goes to the unit running the GEMMs, as NeuPIMs runs prefill on its NPU."""

    prefill_attention: str | None = None

    def unit_of(self, op: Op) -> str:
        if self.prefill_attention and op.op_class == "attention" and dict(op.shape).get("q_len", 1) > 1:
            return self.prefill_attention
        return super().unit_of(op)


def prefill_unit(system: System) -> str | None:
    """The unit for prefill attention when the system's attention unit is a PIM unit (decode only), else None."""
    unit = system.mapping.get("attention")
    if unit in system.units and system.units[unit].type == "pim":
        return system.mapping.get("gemm")
    return None


def attention_groups(decode, chunks) -> list[tuple[str, np.ndarray, int, bool]]:
    """(name, KV lengths, new tokens per request, causal) per attention group of an iteration."""
    out = []
    if len(decode):
        out.append(("attention", np.asarray(decode, dtype=np.int64), 1, False))
    by_q: dict[int, list[int]] = defaultdict(list)
    for q, kv in chunks:
        by_q[q].append(kv)
    for q in sorted(by_q):
        name = "attention" if not out else f"attention_chunk{q}"
        out.append((name, np.asarray(by_q[q], dtype=np.int64), q, True))
    return out


@dataclass
class Totals:
    """What Stats needs from a run for energy, summed over placements: latency, bytes per memory, streamed (read,
    write) bytes of non-PIM units, open-row time, action counts."""

    ps: int = 0
    moved: dict = field(default_factory=lambda: defaultdict(float))
    streamed: dict = field(default_factory=lambda: defaultdict(lambda: [0.0, 0.0]))
    normal: dict = field(default_factory=lambda: defaultdict(float))
    pim: dict = field(default_factory=lambda: defaultdict(float))
    counts: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))

    def add(self, other: Totals, times: int = 1) -> None:
        self.ps += other.ps * times
        for src, dst in ((other.moved, self.moved), (other.normal, self.normal), (other.pim, self.pim)):
            for k, v in src.items():
                dst[k] += v * times
        for k, (r, w) in other.streamed.items():
            self.streamed[k][0] += r * times
            self.streamed[k][1] += w * times
        for u, c in other.counts.items():
            for a, n in c.items():
                self.counts[u][a] += n * times


@dataclass(frozen=True)
class StepCost:
    """One iteration: its latency, energy (J) and energy by component."""

    latency_s: float
    energy_j: float
    energy_by: dict[str, float]


class IterationModel:
    """Iteration latency and energy of `workload`'s model on `system`, for any iteration `Shape`."""

    def __init__(self, system: System, workload: Workload, *, level: str | None = None, cache: str = "exact"):
        if cache not in CACHE_MODES:
            raise ValueError(f"cache must be one of {CACHE_MODES}, got {cache!r}")
        if workload.spec.schedule.sub_batch_interleaving:
            from simulator.errors import ConfigError
            raise ConfigError("serving does not model sub-batch interleaving; allowed: false",
                              file=str(workload.path), key="schedule.sub_batch_interleaving")
        self.system, self.workload, self.cache_mode = system, workload, cache
        self.level = level or system.level
        proto = self._workload(Shape((1,), (), 1))
        self.executor = Executor(self._schedule(lower_iteration(proto), proto), level=self.level)
        self._low = IterationLowering(proto)
        self._ref = [(n, m, command_energy(m).refresh) for n, m in system.memories.items() if m.timing is not None]
        self.profile_fused = self._low.profile.attention == "fused"
        self._cache: dict[tuple, StepCost] = {}
        self._fixed: dict[tuple, tuple | None] = {}
        self._ops: dict[tuple, tuple[int, float, dict[str, float]]] = {}
        self._stats = Stats(SimpleNamespace(schedule=SimpleNamespace(system=system), models=self.executor.models))
        self.misses = 0
        self.hits = 0
        self._samples: list[Shape] = []

    # Keys ------------------------------------------------------------------------------------------------
    def key(self, shape: Shape) -> tuple:
        """Exactly what the lowering of `shape` reads: tokens, samplers, and per attention group the KV lengths'
        (count, sum, max) for fused attention or the lengths in order for per-request attention."""
        chunks = tuple(sorted(shape.chunks))
        if self.profile_fused:
            d = shape.decode
            dec = (len(d), sum(d), max(d)) if d else (0, 0, 0)
            by_q: dict[int, list[int]] = defaultdict(list)
            for q, kv in chunks:
                by_q[q].append(kv)
            pre = tuple((q, len(v), sum(v), max(v)) for q, v in sorted(by_q.items()))
            return shape.sampled, dec, pre
        return shape.sampled, tuple(shape.decode), chunks

    def interpolation_error(self) -> dict:
        """Interpolating mode: relative latency and energy error against the exact mode on the sampled shapes."""
        if self.cache_mode != "interpolate" or not self._samples:
            return {}
        exact = IterationModel(self.system, self.workload, level=self.level)
        lat, en = [], []
        for shape in self._samples:
            a, b = self._exact(snap(shape)), exact.cost(shape)
            lat.append(abs(a.latency_s / b.latency_s - 1))
            en.append(abs(a.energy_j / b.energy_j - 1))
        return {"sampled_iterations": len(lat), "latency_rel_error_mean": float(np.mean(lat)),
                "latency_rel_error_max": float(np.max(lat)), "energy_rel_error_mean": float(np.mean(en)),
                "energy_rel_error_max": float(np.max(en))}

    # Costing ---------------------------------------------------------------------------------------------
    def cost(self, shape: Shape) -> StepCost:
        if self.cache_mode == "interpolate" and shape.decode:
            if len(self._samples) < INTERPOLATE_SAMPLES and (self.hits + self.misses) % 16 == 0:
                self._samples.append(shape)
            shape = snap(shape)
        if self.cache_mode == "off":
            self.misses += 1
            return self._full(shape)
        if len(self._cache) + len(self._ops) > CACHE_LIMIT:
            self._trim()
        key = self.key(shape)
        found = self._cache.get(key)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        found = self._cache[key] = self._exact(shape)
        return found

    def _trim(self) -> None:
        """Start the iteration, op and unit-model memos afresh (their entries are pure functions of their keys, so
        this changes no result); the per-token-count parts stay."""
        self._cache.clear()
        self._ops.clear()
        self.executor = Executor(self.executor.schedule, level=self.level)
        self._stats = Stats(SimpleNamespace(schedule=SimpleNamespace(system=self.system),
                                            models=self.executor.models))

    def _workload(self, shape: Shape) -> IterationWorkload:
        w = self.workload
        kv = np.asarray(shape.decode, dtype=np.int64)
        return IterationWorkload(w.spec, w.model, kv, None, w.path, w.resolved, tuple(shape.chunks),
                                 shape.sampled)

    def _schedule(self, graph: OpGraph, wl: IterationWorkload) -> Schedule:
        """The mapper's schedule of the iteration, with prefill attention routed off a decode-only PIM unit."""
        base = map_graph(graph, self.system, wl)
        return IterationSchedule(**{f.name: getattr(base, f.name) for f in fields(base)},
                                 prefill_attention=prefill_unit(self.system))

    def _full(self, shape: Shape) -> StepCost:
        """The executor's discrete-event simulation of the whole iteration."""
        wl = self._workload(shape)
        self.executor.schedule = self._schedule(lower_iteration(wl), wl)
        result = self.executor.run()
        return self._energy(totals_of(result))

    def _exact(self, shape: Shape) -> StepCost:
        """Fixed ops (cached by token counts) plus the layers' attention ops, where every block is serial:
        latency in ps adds up; energy is linear in the totals except the refresh count, a floor of the latency,
        so energy = sum of the parts' energies without refresh + the refresh energy of the whole iteration."""
        fixed_key = (shape.tokens, shape.sampled, len(shape.decode) > 0, tuple(sorted({q for q, _ in shape.chunks})),
                     len(shape.decode) if not self.profile_fused else 0, len(shape.chunks))
        if fixed_key not in self._fixed:
            self._fixed[fixed_key] = self._split(shape)
        split = self._fixed[fixed_key]
        if split is None:
            return self._full(shape)
        (ps, energy, by), units = split
        layers = self.workload.layers
        by = dict(by)
        for op, unit in zip(self._attention_ops(shape), units):
            key = (unit, op.key())
            part = self._ops.get(key)
            if part is None:
                t = Totals()
                add_op(t, op, unit, self.executor.models[unit].cost(op), self.system)
                part = self._ops[key] = self._linear(t)
            ps += layers * part[0]
            energy += layers * part[1]
            for k, v in part[2].items():
                by[k] += layers * v
        for k, v in self._refresh(ps).items():
            by[k] += v
            energy += v
        return StepCost(to_s(ps), energy, by)

    def _attention_ops(self, shape: Shape) -> list[Op]:
        """The layer's ops that depend on KV lengths, built as the lowering builds them."""
        low = self._low
        groups = attention_groups(shape.decode, shape.chunks)
        if self.profile_fused:
            return [mk.attention(name, lens, q, causal, heads=low.heads, kv_heads=low.kv_heads, head_dim=low.d,
                                 act=low.act, kv=low.kvdt) for name, lens, q, causal in groups]
        b = GraphBuilder()
        for name, lens, q, causal in groups:
            low.per_request_attention(b, name, lens, q, causal, [], np.arange(len(lens)))
        return [d["op"] for _, d in b.graph.nodes(data=True)]

    def _linear(self, t: Totals) -> tuple[int, float, dict[str, float]]:
        """(ps, energy without refresh, the same by component) of a part."""
        cost = self._energy(t)
        by = dict(cost.energy_by)
        ref = self._refresh(t.ps)
        for k, v in ref.items():
            by[k] -= v
        return t.ps, cost.energy_j - sum(ref.values()), by

    def _refresh(self, ps: int) -> dict[str, float]:
        """Refresh energy of each memory over `ps` (REF commands are a floor of the run time)."""
        return {name: traffic.refreshes(mem, to_s(ps)) * e for name, mem, e in self._ref}

    def _split(self, shape: Shape) -> tuple[tuple[int, float, dict[str, float]], list[str]] | None:
        """The linear part of the ops that do not depend on KV lengths (whole run), and the units of the
        attention ops, when every block is serial; None otherwise."""
        wl = self._workload(shape)
        graph = lower_iteration(wl)
        sched = self._schedule(graph, wl)
        self.executor.schedule = sched
        if any(not self._serial(g) for g in (graph.prologue, graph.layer, graph.epilogue)):
            return None
        fixed = Totals()
        for g, times in ((graph.prologue, 1), (graph.layer, graph.layers), (graph.epilogue, 1)):
            part = Totals()
            for _, data in g.nodes(data=True):
                op: Op = data["op"]
                if g is graph.layer and varies(op):
                    continue
                unit = sched.unit_of(op)
                add_op(part, op, unit, self.executor.cost(op, unit), self.system)
            fixed.add(part, times)
        if graph.handoff is not None:
            part = Totals()
            add_op(part, graph.handoff, "link", self.executor.cost(graph.handoff, "link"), self.system)
            fixed.add(part, len(graph.stages) - 1)
        units = [sched.unit_of(d["op"]) for _, d in graph.layer.nodes(data=True) if varies(d["op"])]
        return self._linear(fixed), units

    def _serial(self, graph: nx.DiGraph) -> bool:
        """Its ops run back to back: one engine of one unit for all, or a total order by dependencies; and none
        is a stage-costed group (PIM / NPU stages that the executor contracts)."""
        if self.executor.group_stages(graph) is not graph:
            return False
        sched = self.executor.schedule
        engines = set()
        for _, data in graph.nodes(data=True):
            unit = sched.unit_of(data["op"])
            engine = getattr(self.executor.models[unit], "engine", None)
            engines.add((unit, engine(data["op"]) if engine else ""))
        if len(engines) <= 1:
            return True
        order = list(nx.topological_sort(graph))
        return all(graph.has_edge(a, b) for a, b in zip(order, order[1:]))

    def _energy(self, t: Totals) -> StepCost:
        latency = to_s(t.ps)
        pim_mems = {u.memory: t.pim.get(u.memory, 0.0) for u in self.system.units.values()
                    if u.type == "pim" and u.row_buffer == "dual"}
        energy = self._stats.energy(latency, t.moved, t.streamed, Activity(t.normal, pim_mems), t.counts)
        return StepCost(latency, energy["total"], energy["by_component"])


def varies(op: Op) -> bool:
    """Ops whose shape depends on the requests' KV lengths: attention and per-request ops."""
    return op.op_class == "attention" or op.request is not None


def add_op(t: Totals, op: Op, unit: str, cost, system: System) -> None:
    """One op run on its own (no overlap) into the totals, as Stats accounts a serial block's events."""
    dur = to_ps(cost.time_s)
    t.ps += dur
    spec = system.units.get(unit)
    pim = getattr(spec, "type", None) == "pim"
    if pim and spec.row_buffer == "dual":
        t.pim[spec.memory] += to_s(dur)
    for mem, b in cost.bytes.items():
        t.moved[mem] += b
        if not pim:
            t.normal[mem] += to_s(dur)
            read = op.read_fraction * b
            t.streamed[mem][0] += read
            t.streamed[mem][1] += b - read
    for action, n in cost.counts.items():
        t.counts[unit][action] += n


def totals_of(result: Result) -> Totals:
    """The energy-relevant totals of a full executor run, as Stats computes them."""
    stats = Stats(result)
    _, _, moved, streamed, active, counts = stats._totals(result.placements)
    t = Totals(ps=result.latency_ps)
    t.moved.update(moved)
    for k, v in streamed.items():
        t.streamed[k] = list(v)
    t.normal.update(active.normal)
    t.pim.update(active.pim)
    for u, c in counts.items():
        t.counts[u].update(c)
    return t


def lower_iteration(wl: IterationWorkload) -> OpGraph:
    """`lower()` of the transformer with the iteration's attention groups."""
    return lower(wl, lowering=IterationLowering)


def snap(shape: Shape) -> Shape:
    """Interpolating mode: decode KV lengths scaled so that their sum lands on the INTERPOLATE_GRID."""
    d = np.asarray(shape.decode, dtype=np.int64)
    total = int(d.sum())
    target = max(len(d), int(round(total / INTERPOLATE_GRID)) * INTERPOLATE_GRID)
    if target == total:
        return shape
    scaled = np.maximum(1, np.floor(d * (target / total)).astype(np.int64))
    scaled[np.argmax(scaled)] += target - int(scaled.sum())
    return Shape(tuple(int(x) for x in scaled), shape.chunks, shape.sampled)
