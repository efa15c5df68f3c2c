"""On-chip reuse across operators: which of a layer's intermediate tensors stay in the scratchpad, and the DRAM
traffic that saves (producer-consumer fusion), with a scratchpad allocator.

Every op output consumed inside the layer is an intermediate tensor t of S_t bytes, live from its producer's step
p_t to its last consumer's step c_t in a topological order of the layer. Spilled, it costs S_t written once plus
r_tc read by each consumer c (its share of c's activation inputs: r_tc = min(S_t, A_c S_t / sum of its producers'
S), A_c the bytes of c's non-resident inputs); kept on chip (fused), nothing. A tensor the DRAM must hold anyway (the KV cache a
`kv_write` appends) is never kept. Tensors kept on chip must fit, at every step, into the scratchpad less a
`reserve` for the running op's tile buffers, at fixed offsets (no fragmentation-free compaction):

- `first-fit`: tensors in production order, each at the lowest offset free over its whole lifetime, else spilled;
- `search`: the same placement over priority orders (saved bytes per byte-step of lifetime, saved bytes, size,
  and `tries` random orders, seeded) keeping the order that saves most (a search over placements in the
  spirit of mallocMuZero's learned buffer placement, Wang et al. 2023, here plain random restarts).

Chains of kept tensors are the fused groups (e.g. qkv_proj -> rotary -> attention, gate_up -> silu_mul -> down).
Equations: docs/npu.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import networkx as nx
import numpy as np

POLICIES = ("first-fit", "search")
NEVER_ON_CHIP = ("kv_write",)          # producers whose output the memory must hold anyway


@dataclass
class TensorPlan:
    name: str
    producer: str
    consumers: list[str]
    bytes: float
    first: int                     # step of the producer
    last: int                      # step of the last consumer
    kind: str = ""                 # the producer's op kind
    reads: list[float] | None = None   # bytes each consumer reads of it (None: S_t each)
    on_chip: bool = False
    offset: float | None = None
    dram_bytes: float = 0.0        # traffic it causes as placed
    saved_bytes: float = 0.0       # traffic it would cause spilled, less dram_bytes

    @property
    def read_bytes(self) -> float:
        return sum(self.reads) if self.reads is not None else self.bytes * len(self.consumers)

    @property
    def spilled_bytes(self) -> float:
        return self.bytes + self.read_bytes


def tensors(graph: nx.DiGraph) -> list[TensorPlan]:
    """The layer's intermediate tensors in production order."""
    order = list(nx.topological_sort(graph))
    step = {n: i for i, n in enumerate(order)}
    size = {n: float(sum(t.bytes for t in graph.nodes[n]["op"].outputs)) for n in order}
    out = []
    for n in order:
        op = graph.nodes[n]["op"]
        consumers = sorted(graph.successors(n), key=step.get)
        if not consumers or not op.outputs:
            continue
        out.append(TensorPlan(f"{n}.{op.outputs[0].name}", n, consumers, size[n], step[n], step[consumers[-1]],
                              op.kind, [_read(graph, c, n, size) for c in consumers]))
    return out


def _read(graph: nx.DiGraph, consumer: str, producer: str, size: dict[str, float]) -> float:
    """Bytes `consumer` reads of `producer`'s output: its share of the consumer's activation (non-resident) inputs,
    split over its producers by their output sizes (a kv_write's output is the resident KV cache, not a share)."""
    if graph.nodes[producer]["op"].kind in NEVER_ON_CHIP:
        return size[producer]
    op = graph.nodes[consumer]["op"]
    acts = sum(t.bytes for t in op.inputs if not t.resident)
    peers = sum(size[p] for p in graph.predecessors(consumer) if graph.nodes[p]["op"].kind not in NEVER_ON_CHIP)
    if not peers:
        return 0.0
    return min(size[producer], acts * size[producer] / peers)


def _place(plan: list[TensorPlan], order: list[int], capacity: float, eligible: set[str] | None = None) -> float:
    """Place tensors in `order` at the lowest offset free over their lifetime; returns bytes saved. A tensor whose
    producer or a consumer is not in `eligible` (when given) stays in memory."""
    placed: list[TensorPlan] = []
    for t in plan:
        t.on_chip, t.offset = False, None
    for i in order:
        t = plan[i]
        if t.bytes > capacity or t.kind in NEVER_ON_CHIP:
            continue
        if eligible is not None and not ({t.producer, *t.consumers} <= eligible):
            continue
        busy = sorted((u.offset, u.offset + u.bytes) for u in placed if u.first <= t.last and t.first <= u.last)
        offset = 0.0
        for lo, hi in busy:
            if offset + t.bytes <= lo:
                break
            offset = max(offset, hi)
        if offset + t.bytes <= capacity:
            t.on_chip, t.offset = True, offset
            placed.append(t)
    for t in plan:
        t.dram_bytes = 0.0 if t.on_chip else t.spilled_bytes
        t.saved_bytes = t.spilled_bytes - t.dram_bytes
    return sum(t.saved_bytes for t in plan)


def allocate(graph: nx.DiGraph, scratchpad_bytes: float, *, policy: str = "search", reserve: float = 0.25,
             tries: int = 64, seed: int = 0, eligible: set[str] | None = None) -> dict:
    """Which intermediates stay on chip, per tensor and in total. `reserve`: share of the scratchpad kept for the
    running op's tile buffers; `eligible`: the ops that may exchange tensors on chip (default: all)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown allocation policy {policy!r}; allowed: {', '.join(POLICIES)}")
    plan = tensors(graph)
    capacity = scratchpad_bytes * (1 - reserve)
    n = len(plan)
    orders = [list(range(n))]
    if policy == "search" and n:
        life = np.array([(t.last - t.first + 1) * t.bytes for t in plan])
        saved = np.array([t.spilled_bytes for t in plan])
        orders += [list(np.argsort(-saved / life, kind="stable")), list(np.argsort(-saved, kind="stable")),
                   list(np.argsort([t.bytes for t in plan], kind="stable"))]
        rng = np.random.default_rng(seed)
        orders += [list(rng.permutation(n)) for _ in range(tries)]
    best, best_order = -1.0, orders[0]
    for order in orders:
        s = _place(plan, [int(i) for i in order], capacity, eligible)
        if s > best:
            best, best_order = s, order
    _place(plan, [int(i) for i in best_order], capacity, eligible)
    spilled = sum(t.spilled_bytes for t in plan)
    return {"policy": policy, "capacity_bytes": capacity, "intermediate_bytes_unfused": spilled,
            "intermediate_bytes": spilled - best, "saved_bytes": best, "fused_chains": chains(plan),
            "tensors": [{**asdict(t), "read_bytes": t.read_bytes} for t in plan]}


def chains(plan: list[TensorPlan]) -> list[list[str]]:
    """Maximal producer -> consumer chains joined by tensors kept on chip."""
    edges = nx.DiGraph()
    for t in plan:
        if t.on_chip:
            for c in t.consumers:
                edges.add_edge(t.producer, c)
    out = []
    for comp in nx.weakly_connected_components(edges):
        out.append(list(nx.topological_sort(edges.subgraph(comp))))
    return sorted(out)


ONCHIP_READ, ONCHIP_WRITE = "onchip_read", "onchip_write"    # op dims: bytes it reads/writes in the scratchpad


def onchip(op) -> tuple[int, int]:
    """Bytes of `op`'s activation inputs it reads from the scratchpad, and of its outputs it leaves there."""
    d = op.dims
    return d.get(ONCHIP_READ, 0), d.get(ONCHIP_WRITE, 0)


def apply(graph: nx.DiGraph, result: dict) -> nx.DiGraph:
    """A copy of `graph` whose ops carry, in their dims, the bytes they read from and leave in the scratchpad under
    the allocation `result` (whole bytes: a kept tensor's size and its consumers' reads, rounded). Equal work
    stays equal (memoisation): the dims are part of the op's identity."""
    read: dict[str, int] = {}
    write: dict[str, int] = {}
    for t in result["tensors"]:
        if t["on_chip"]:
            write[t["producer"]] = write.get(t["producer"], 0) + round(t["bytes"])
            for c, r in zip(t["consumers"], t["reads"]):
                read[c] = read.get(c, 0) + round(r)
    out = graph.copy()
    for n in set(read) | set(write):
        op = out.nodes[n]["op"]
        dims = {**op.dims, ONCHIP_READ: read.get(n, 0), ONCHIP_WRITE: write.get(n, 0)}
        out.nodes[n]["op"] = replace(op, shape=tuple(sorted(dims.items())))
    return out


def summarise(result: dict, events: list, layers: int) -> dict:
    """The run's fusion report for one unit: per tensor kept (its bytes, the write and reads it needs, and the DRAM
    bytes its producer and consumers saved as costed, per layer) and spilled, the fused chains, and the DRAM bytes
    saved over the run (`events`: the unit's op events of every layer placement, `layers` of them)."""
    saved = {}                      # node -> (read saved, write saved), per layer
    for ev in events:
        f = ev.cost.detail.get("fusion")
        if f:
            r, w = saved.get(ev.name, (0.0, 0.0))
            saved[ev.name] = (r + f["read_saved_bytes"] / layers, w + f["write_saved_bytes"] / layers)
    kept, spilled = [], []
    reads_into: dict[str, float] = {}
    for t in result["tensors"]:
        if t["on_chip"]:
            for c, r in zip(t["consumers"], t["reads"]):
                reads_into[c] = reads_into.get(c, 0.0) + r
    for t in result["tensors"]:
        row = {"tensor": t["name"], "producer": t["producer"], "consumers": t["consumers"], "bytes": t["bytes"]}
        if not t["on_chip"]:
            spilled.append({**row, "dram_bytes": t["dram_bytes"]})
            continue
        got = saved.get(t["producer"], (0.0, 0.0))[1]
        got += sum(saved.get(c, (0.0, 0.0))[0] * r / reads_into[c] for c, r in zip(t["consumers"], t["reads"])
                   if reads_into[c])
        kept.append({**row, "write_bytes": t["bytes"], "read_bytes": sum(t["reads"]), "offset": t["offset"],
                     "dram_saved_bytes_per_layer": got})
    return {"policy": result["policy"], "capacity_bytes": result["capacity_bytes"], "kept": kept,
            "spilled": spilled, "fused_chains": result["fused_chains"],
            "needed_saved_bytes_per_layer": result["saved_bytes"],
            "dram_saved_bytes": sum(r + w for r, w in saved.values()) * layers}
