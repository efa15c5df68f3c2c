"""On-chip reuse across operators: which of a layer's intermediate tensors stay in the scratchpad, and the DRAM
traffic that saves (producer-consumer fusion), with a scratchpad allocator.

Every op output consumed inside the layer is an intermediate tensor t of S_t bytes, live from its producer's step
p_t to its last consumer's step c_t in a topological order of the layer. Spilled, it costs S_t written once plus
S_t read by each consumer; kept on chip (fused), nothing. A tensor the DRAM must hold anyway (the KV cache a
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

from dataclasses import asdict, dataclass

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
    on_chip: bool = False
    offset: float | None = None
    dram_bytes: float = 0.0        # traffic it causes as placed
    saved_bytes: float = 0.0       # traffic it would cause spilled, less dram_bytes

    @property
    def spilled_bytes(self) -> float:
        return self.bytes * (1 + len(self.consumers))


def tensors(graph: nx.DiGraph) -> list[TensorPlan]:
    """The layer's intermediate tensors in production order."""
    order = list(nx.topological_sort(graph))
    step = {n: i for i, n in enumerate(order)}
    out = []
    for n in order:
        op = graph.nodes[n]["op"]
        consumers = sorted(graph.successors(n), key=step.get)
        if not consumers or not op.outputs:
            continue
        size = float(sum(t.bytes for t in op.outputs))
        out.append(TensorPlan(f"{n}.{op.outputs[0].name}", n, consumers, size, step[n], step[consumers[-1]],
                              op.kind))
    return out


def _place(plan: list[TensorPlan], order: list[int], capacity: float) -> float:
    """Place tensors in `order` at the lowest offset free over their lifetime; returns bytes saved."""
    placed: list[TensorPlan] = []
    for t in plan:
        t.on_chip, t.offset = False, None
    for i in order:
        t = plan[i]
        if t.bytes > capacity or t.kind in NEVER_ON_CHIP:
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
             tries: int = 64, seed: int = 0) -> dict:
    """Which intermediates stay on chip, per tensor and in total. `reserve`: share of the scratchpad kept for the
    running op's tile buffers."""
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
        s = _place(plan, [int(i) for i in order], capacity)
        if s > best:
            best, best_order = s, order
    _place(plan, [int(i) for i in best_order], capacity)
    spilled = sum(t.spilled_bytes for t in plan)
    return {"policy": policy, "capacity_bytes": capacity, "intermediate_bytes_unfused": spilled,
            "intermediate_bytes": spilled - best, "saved_bytes": best, "fused_chains": chains(plan),
            "tensors": [asdict(t) for t in plan]}


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
