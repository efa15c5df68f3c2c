"""Execute a Schedule as a discrete-event simulation (SimPy, integer picoseconds).

Each op is one SimPy process: it waits for its producers, queues for its unit's engine (a resource that runs one
op at a time; a unit has one engine unless its model's `engine(op)` names several, as an NPU's vector units beside
its systolic arrays), holds it for the duration its unit model gives, and records an event. Ops on different units
overlap when the graph allows. Identical layers are simulated once and their timeline reused (memoisation), and
identical (op, unit) work is costed once; `memoise=False` re-simulates every layer and re-costs every op.
With sub-batch interleaving the first two layers are simulated together (their sub-batches overlap across the
layer boundary) and every further layer repeats the steady state between them: A + B + (C + D)(N - 1) + E + F,
as the NeuPIMs artifact composes a model from a two-layer run. With micro-batches the stages run a pipeline
(`pipeline_starts`): stage s starts micro-batch j once it has finished j - 1 and stage s - 1's activations of j
have arrived, so the trace shows the fill and the drain.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import networkx as nx
import simpy

from simulator.engine.component import Component
from simulator.engine.cost import OpCost
from simulator.engine.time import to_ps, to_s
from simulator.lowering.ops import Op, shape
from simulator.mapping.comm import PlanComm
from simulator.network.flows import Fabric
from simulator.mapping.schedule import Schedule
from simulator.npu.dma import dram_stream_bandwidth

CONTENTION_PASSES = 3   # re-simulations of a block with PIM/stream contention (the stretch converges in 2-3)


@dataclass(frozen=True)
class OpEvent:
    """One op's run inside its block: relative start and end in ps, where it ran and what it cost."""

    name: str
    op: Op
    unit: str
    start_ps: int
    end_ps: int
    cost: OpCost
    engine: str = ""     # which engine of the unit ran it ("" when the unit has one)


@dataclass
class BlockRun:
    """A simulated block (prologue, one layer, epilogue): its duration, op events and the actions each unit
    counted (unit -> action -> count), for energy."""

    name: str
    duration_ps: int
    events: list[OpEvent]
    counts: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class Placement:
    """Where one block instance sits on the global timeline."""

    block: str
    index: int          # layer index (0 for prologue/epilogue)
    device: int         # pipeline stage
    start_ps: int
    run: BlockRun
    micro: int = 0      # micro-batch


@dataclass
class Result:
    schedule: Schedule
    level: str
    placements: list[Placement]
    latency_ps: int
    wall_s: float
    models: dict[str, object] = field(repr=False, default_factory=dict)

    def timeline(self) -> Iterator[tuple[Placement, OpEvent]]:
        for p in self.placements:
            for ev in p.run.events:
                yield p, ev


class Executor:
    """Runs a schedule at one fidelity level."""

    def __init__(self, schedule: Schedule, level: str | None = None, memoise: bool = True,
                 progress: Callable[[int, int], None] | None = None):
        self.schedule = schedule
        self.level = level or schedule.system.level
        self.memoise = memoise
        self.progress = progress
        self.models = schedule.system.models(self.level)
        for key in sorted(schedule.remote.keys if schedule.remote is not None else ()):
            group, _, unit = key.partition(".")
            self.models[key] = schedule.system.model(unit, self.level, group)
        self.comm = PlanComm(schedule.system.topology, schedule.plan.plan,
                             schedule.workload.spec.schedule.congestion_aware)
        for model in self.models.values():        # models whose costs depend on the software (GPU execution)
            if hasattr(model, "configure"):
                model.configure(schedule.workload.spec, kernels=schedule.graph.kernels)
        self._costs: dict[tuple, OpCost] = {}

    def cost(self, op: Op, unit: str) -> OpCost:
        if not self.memoise:
            return self._cost(op, unit)
        key = (unit, op.key())
        found = self._costs.get(key)
        if found is None:
            found = self._costs[key] = self._cost(op, unit)
        return found

    def _cost(self, op: Op, unit: str) -> OpCost:
        """The unit's cost of `op` (a collective over its plan's devices, stage 0's for those inside a layer), with
        its remotely homed tensors read over their path (mapping.homes)."""
        if op.op_class == "collective":
            return self.comm.cost(op)
        cost = self._placed(op, unit, self.models[unit].cost(op))
        homes = self.schedule.homes
        return homes.adjust(op, unit, cost) if homes is not None else cost

    def _placed(self, op: Op, unit: str, cost: OpCost) -> OpCost:
        """An op on another group's unit: on that device, with its activations' round trip (mapping.remote)."""
        remote = self.schedule.remote
        return remote.adjust(op, unit, cost) if remote is not None else cost

    def run_block(self, name: str, graph: nx.DiGraph) -> BlockRun:
        """Simulate one block; where PIM work overlaps other units' traffic on its memory, simulate it again with
        the ops stretched by how much they slow each other (`contention`), CONTENTION_PASSES times at most."""
        graph = self.group_stages(graph)
        if name == "layer":
            graph = self.fuse(graph)
        run = self._simulate(name, graph, {})
        for _ in range(CONTENTION_PASSES):
            stretch = self.contention(run)
            if not stretch:
                break
            run = self._simulate(name, graph, stretch)
        return run

    def fuse(self, graph: nx.DiGraph) -> nx.DiGraph:
        """On-chip reuse across a layer's ops: a unit model offering `fuse(graph, nodes)` (an NPU with a `fusion`
        policy) marks on its ops the intermediates they exchange through its scratchpad instead of memory."""
        for unit, model in self.models.items():
            if hasattr(model, "fuse"):
                graph = model.fuse(graph, {n for n, d in graph.nodes(data=True)
                                           if "op" in d and self.schedule.unit_of(d["op"]) == unit})
        return graph

    def contention(self, run: BlockRun) -> dict[str, float]:
        """Duration factors of the ops of `run` where a PIM unit works while other units stream on its memory:
        the PIM op by pim_factor at the read rate the overlapping ops offer, each overlapping op for its overlapped
        share by max(1, demand / read_share), its demand being its bandwidth over the memory's streaming
        bandwidth (simulator/pim/contention.py)."""
        out: dict[str, float] = {}
        for unit, model in self.models.items():
            if not hasattr(type(model), "contention"):
                continue
            mem_name = self.schedule.memory_key(unit)
            mem = self.schedule.memory_of(unit)
            pim = [ev for ev in run.events if ev.unit == unit and ev.end_ps > ev.start_ps]
            others = [ev for ev in run.events if ev.unit != unit and ev.cost.bytes.get(mem_name)
                      and ev.end_ps > ev.start_ps and any(_overlap(ev, p) for p in pim)]
            if not others:
                continue
            org = mem.organisation
            channels = org.channels * org.pseudo_channels
            stream = dram_stream_bandwidth(mem)     # a PIM memory has a timing table
            shares: list[tuple[OpEvent, float]] = []
            for p in pim:
                reads = reads_during(others, [(p.start_ps, p.end_ps)], mem_name, org.tx_bytes)
                if reads:
                    factor, share = model.contention.at(reads / ((p.end_ps - p.start_ps) * 1e-12 / mem.tck) / channels)
                    out[p.name] = factor
                    shares.append((p, share))
            for ev in others:
                span = ev.end_ps - ev.start_ps
                demand = ev.cost.bytes[mem_name] / (span * 1e-12) / stream
                out[ev.name] = 1.0 + sum(_overlap(ev, p) / span * (max(1.0, demand / share) - 1.0)
                                         for p, share in shares)
        return {k: v for k, v in out.items() if v > 1.0 + 1e-9}

    def _simulate(self, name: str, graph: nx.DiGraph, stretch: dict[str, float]) -> BlockRun:
        env = simpy.Environment()
        engines: dict[tuple[str, str], Component] = {}

        def engine_of(unit: str, op: Op) -> str:
            """The engine of a unit that runs `op` (a model's `engine(op)`, e.g. an NPU's vector units)."""
            engine = getattr(self.models[unit], "engine", None)
            return engine(op) if engine else ""

        done = {n: env.event() for n in graph.nodes}
        events: list[OpEvent] = []
        sched = self.schedule
        fabric = Fabric(env, sched.system.topology) if self.comm.aware else None
        shared: dict[str, float] = defaultdict(float)      # action counts of collectives run on the fabric

        def on_fabric(node: str, op: Op, unit: str):
            """A collective as flows on the shared links, step by step (concurrent collectives share them)."""
            cost = self.cost(op, unit)
            start = env.now
            for flows in self.comm.steps(op):
                yield fabric.transfer(flows)
            done[node].succeed()
            for action, n in cost.counts.items():
                shared[action] += n
            events.append(OpEvent(node, op, unit, start, env.now,
                                  replace(cost, time_s=to_s(env.now - start), detail={**cost.detail, "fabric": True})))

        def proc(node: str):
            preds = [done[p] for p in graph.predecessors(node)]
            if len(preds) == 1:
                yield preds[0]
            elif preds:
                yield simpy.AllOf(env, preds)
            if graph.nodes[node].get("barrier"):     # a join of order edges: no op, no time
                done[node].succeed()
                return
            op: Op = graph.nodes[node]["op"]
            unit = sched.unit_of(op)
            if fabric is not None and op.op_class == "collective" and op.dims["devices"] > 1:
                yield from on_fabric(node, op, unit)
                return
            members = graph.nodes[node].get("members")
            if members:
                memory = sched.memory_of(unit)
                cost = self._placed(op, unit, self.models[unit].stage(members, sched.workload.channels,
                                                                      start_cycle=env.now * 1e-12 / memory.tck))
            else:
                cost = self.cost(op, unit)
            if node in stretch:
                f = stretch[node]
                cost = replace(cost, time_s=cost.time_s * f, cycles=cost.cycles * f,
                               detail={**cost.detail, "contention_factor": f})
            engine = engine_of(unit, op)
            if (unit, engine) not in engines:
                engines[(unit, engine)] = Component(env, name=unit)
            start, end = yield from engines[(unit, engine)].execute(cost, graph.nodes[node].get("priority", 0),
                                                                    done[node])
            events.append(OpEvent(node, op, unit, start, end, cost, engine))

        for node in nx.topological_sort(graph):
            env.process(proc(node))
        env.run()
        counts: dict[str, dict[str, float]] = {"link": dict(shared)} if shared else {}
        for (unit, _), c in engines.items():
            for action, n in c.counts.items():
                counts.setdefault(unit, {})
                counts[unit][action] = counts[unit].get(action, 0.0) + n
        return BlockRun(name, int(env.now), events, counts)

    def group_stages(self, graph: nx.DiGraph) -> nx.DiGraph:
        """Contract the per-request Q.K^T ops (and, apart, the S.V ops) mapped to a unit whose model costs a whole
        stage at once (`model.stage(ops, channels, start_cycle)`, e.g. PIM channels working in parallel) into one
        node each; the softmax ops between them stay on their own unit."""
        groups: dict[str, list[str]] = {}
        for node, data in graph.nodes(data=True):
            op: Op | None = data.get("op")
            if op is not None and op.kind in ("attention_qk", "attention_sv"):
                unit = self.schedule.unit_of(op)
                if hasattr(self.models[unit], "stage"):
                    groups.setdefault(f"{scope_of(node)}{unit}:{op.kind}", []).append(node)
        if not groups:
            return graph
        owner = {n: g for g, nodes in groups.items() for n in nodes}
        out = nx.DiGraph()
        for node, data in graph.nodes(data=True):
            if node not in owner:
                out.add_node(node, **data)
        for name, nodes in groups.items():
            ops = [graph.nodes[n]["op"] for n in nodes]
            merged = Op(name, ops[0].kind, shape(requests=len(ops)), sum(o.flops for o in ops),
                        tuple(t for o in ops for t in o.inputs), tuple(t for o in ops for t in o.outputs),
                        dtype=ops[0].dtype)
            out.add_node(name, op=merged, members=ops, priority=graph.nodes[nodes[0]].get("priority", 0))
        out.add_edges_from((owner.get(u, u), owner.get(v, v)) for u, v in graph.edges
                           if owner.get(u, u) != owner.get(v, v))
        return out

    def run(self) -> Result:
        t0 = time.perf_counter()
        graph = self.schedule.graph
        placements: list[Placement] = []
        now = 0
        pro = self.run_block("prologue", graph.prologue)
        placements.append(Placement("prologue", 0, 0, now, pro))
        now += pro.duration_ps
        plan = self.schedule.plan
        if plan is not None and len(plan.graphs[0]) > 1:
            placements = self._pipeline(plan.graphs[0])
            end = max(p.start_ps + p.run.duration_ps for p in placements if p.block != "handoff")
            return Result(self.schedule, self.level, placements, end, time.perf_counter() - t0, self.models)
        layers = (self._interleaved_layers(now) if graph.interleaved is not None
                  else self._layers(now, graph.stages or [graph.layers]))
        placements += layers
        now = layers[-1].start_ps + layers[-1].run.duration_ps
        epi = self.run_block("epilogue", graph.epilogue)
        placements.append(Placement("epilogue", 0, layers[-1].device, now, epi))
        now += epi.duration_ps
        return Result(self.schedule, self.level, placements, now, time.perf_counter() - t0, self.models)

    def _layers(self, now: int, stages: list[int]) -> list[Placement]:
        """The layers stage by stage from `now` (one simulated layer reused unless memoise is off), with the
        pipeline handoffs between stages."""
        graph = self.schedule.graph
        out: list[Placement] = []
        layer_run: BlockRun | None = None
        index = 0
        for device, count in enumerate(stages):
            for _ in range(count):
                if layer_run is None or not self.memoise:
                    layer_run = self.run_block("layer", graph.layer)
                out.append(Placement("layer", index, device, now, layer_run))
                now += layer_run.duration_ps
                index += 1
                if self.progress:
                    self.progress(index, graph.layers)
            if device < len(stages) - 1 and graph.handoff is not None:
                hand = self._handoff(graph.handoff, device)
                out.append(Placement("handoff", device, device, now, hand))
                now += hand.duration_ps
        return out

    def _pipeline(self, graphs: list) -> list[Placement]:
        """Micro-batches through the pipeline stages (`pipeline_starts`); each micro-batch's blocks simulated once
        (every layer again when memoise is off); handoffs on the link overlap the next micro-batch's work."""
        stages = graphs[0].stages or [graphs[0].layers]
        last = len(stages) - 1
        runs = []
        for g in graphs:
            layer = self.run_block("layer", g.layer)
            runs.append((self.run_block("prologue", g.prologue), layer, self.run_block("epilogue", g.epilogue),
                         [self._handoff(g.handoff, s) for s in range(last)] if g.handoff is not None else []))
        durations = [[(runs[j][0].duration_ps if s == 0 else 0) + n * runs[j][1].duration_ps
                      + (runs[j][2].duration_ps if s == last else 0) for j in range(len(graphs))]
                     for s, n in enumerate(stages)]
        handoffs = [[h.duration_ps for h in r[3]] for r in runs]
        starts = pipeline_starts(durations, handoffs)
        out: list[Placement] = []
        first = [sum(stages[:s]) for s in range(len(stages))]
        for s, n in enumerate(stages):
            for j, (pro, layer, epi, hand) in enumerate(runs):
                t = starts[s][j]
                if s == 0:
                    out.append(Placement("prologue", 0, s, t, pro, j))
                    t += pro.duration_ps
                for i in range(n):
                    run = layer if self.memoise or i == 0 else self.run_block("layer", graphs[j].layer)
                    out.append(Placement("layer", first[s] + i, s, t, run, j))
                    t += run.duration_ps
                if s == last:
                    out.append(Placement("epilogue", 0, s, t, epi, j))
                elif hand:
                    out.append(Placement("handoff", s, s, starts[s][j] + durations[s][j], hand[s], j))
        if self.progress:
            self.progress(graphs[0].layers, graphs[0].layers)
        return out

    def _interleaved_layers(self, now: int) -> list[Placement]:
        """Sub-batch interleaving: the two-layer block from `now`, then the steady state once per further layer."""
        graph = self.schedule.graph
        pair = self.run_block("layer", graph.interleaved)
        out = [Placement("layer", 0, 0, now, pair)]
        now += pair.duration_ps
        steady = steady_layer(pair) if graph.layers > 2 else None
        for index in range(2, graph.layers):
            out.append(Placement("layer", index, 0, now, steady))
            now += steady.duration_ps
        if self.progress:
            self.progress(graph.layers, graph.layers)
        return out

    def _handoff(self, op: Op, stage: int) -> BlockRun:
        """The activations' send from `stage` to the next over the path between their devices."""
        cost = self.comm.cost(op, stage)
        dur = to_ps(cost.time_s)
        return BlockRun("handoff", dur, [OpEvent(op.name, op, "link", 0, dur, cost)], {"link": dict(cost.counts)})


def pipeline_starts(durations: list[list[int]], handoffs: list[list[int]]) -> list[list[int]]:
    """Start of micro-batch j on stage s: start[s][j] = max(end[s][j - 1], end[s - 1][j] + handoff[j][s - 1]),
    from durations[s][j] and the handoff of micro-batch j from stage s - 1 to s (a forward-only GPipe schedule;
    the last stage's last end is the step's latency)."""
    starts = [[0] * len(handoffs) for _ in durations]
    for s, row in enumerate(durations):
        for j in range(len(row)):
            ready = starts[s - 1][j] + durations[s - 1][j] + handoffs[j][s - 1] if s else 0
            starts[s][j] = max(ready, starts[s][j - 1] + row[j - 1] if j else 0)
    return starts


def scope_of(node: str) -> str:
    """The sub-batch scope of an interleaved block's node (`L0.sb1/`), or '' for a plain layer's."""
    return node.rsplit("/", 1)[0] + "/" if "/" in node else ""


def is_attention(op: Op) -> bool:
    """Per-request attention work (Q.K^T, softmax, S.V) or a stage of it."""
    return op.request is not None or op.op_class == "attention"


def post_attention_start(run: BlockRun, scope: str) -> int:
    """When a sub-batch's first op after its attention starts (its projection GEMM)."""
    mine = [ev for ev in run.events if ev.name.startswith(scope)]
    att_end = max(ev.end_ps for ev in mine if is_attention(ev.op))
    return min(ev.start_ps for ev in mine if not is_attention(ev.op) and ev.start_ps >= att_end)


def steady_layer(pair: BlockRun) -> BlockRun:
    """One steady-state layer of sub-batch interleaving, cut from a two-layer block: from sub-batch 0's projection
    in layer 0 to the same in layer 1 (NeuPIMs' stages C + D), with half the block's action counts."""
    t0, t1 = post_attention_start(pair, "L0.sb0/"), post_attention_start(pair, "L1.sb0/")
    events = [OpEvent(ev.name, ev.op, ev.unit, ev.start_ps - t0, ev.end_ps - t0, ev.cost, ev.engine)
              for ev in pair.events if t0 <= ev.start_ps < t1]
    counts = {u: {a: n / 2 for a, n in c.items()} for u, c in pair.counts.items()}
    return BlockRun("layer", t1 - t0, events, counts)


def reads_during(events: list[OpEvent], spans: list[tuple[int, int]], memory: str, tx_bytes: int) -> float:
    """Read requests (`tx_bytes` each) the events issue on `memory` inside `spans`: each op's reads pro rata to
    the share of its run that falls inside them."""
    total = 0.0
    for ev in events:
        nbytes = ev.cost.bytes.get(memory, 0.0)
        if not nbytes or ev.end_ps <= ev.start_ps:
            continue
        inside = union([(max(s0, ev.start_ps), min(s1, ev.end_ps)) for s0, s1 in spans
                        if s1 > ev.start_ps and s0 < ev.end_ps])
        total += ev.op.read_fraction * nbytes / tx_bytes * inside / (ev.end_ps - ev.start_ps)
    return total


def _overlap(a: OpEvent, b: OpEvent) -> int:
    """Picoseconds two events run at the same time."""
    return max(0, min(a.end_ps, b.end_ps) - max(a.start_ps, b.start_ps))


def union(intervals: list[tuple[int, int]]) -> int:
    """Total length covered by a set of [start, end) intervals."""
    total, reach = 0, None
    for start, end in sorted(intervals):
        if reach is None or start > reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total
