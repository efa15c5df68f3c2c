"""The OpGraph: a prologue, one decoder-layer graph shared by all layers, and an epilogue (networkx DiGraphs).

Layers are identical, so the layer graph is built once and referenced `layers` times; `expand()` gives the
full graph (layer-indexed node names) for users who want it. Nodes carry the `Op` under the key "op".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import networkx as nx

from simulator.lowering.ops import Op


class GraphBuilder:
    """Adds ops with their dependencies to one DiGraph; names must be unique within the graph."""

    def __init__(self) -> None:
        self.graph = nx.DiGraph()

    def add(self, op: Op, after: str | list[str] | tuple[str, ...] | None = ()) -> str:
        if op.name in self.graph:
            raise ValueError(f"duplicate op name {op.name!r}")
        self.graph.add_node(op.name, op=op)
        for dep in ([after] if isinstance(after, str) else (after or ())):
            self.graph.add_edge(dep, op.name)
        return op.name


@dataclass
class OpGraph:
    """What one step of a workload computes on one device shard."""

    prologue: nx.DiGraph
    layer: nx.DiGraph
    epilogue: nx.DiGraph
    layers: int
    stages: list[int] = field(default_factory=list)   # layers per pipeline stage
    handoff: Op | None = None                           # activations sent from one pipeline stage to the next
    interleaved: nx.DiGraph | None = None               # sub-batch interleaving: min(2, layers) layers, two halves

    def blocks(self) -> Iterator[tuple[str, nx.DiGraph, int]]:
        """(block name, graph, how many times it runs) in execution order."""
        yield "prologue", self.prologue, 1
        yield "layer", self.layer, self.layers
        yield "epilogue", self.epilogue, 1

    def ops(self) -> Iterator[tuple[Op, int]]:
        """Every distinct op node with its multiplicity."""
        for _, graph, count in self.blocks():
            for _, data in graph.nodes(data=True):
                yield data["op"], count

    @property
    def flops(self) -> float:
        return sum(op.flops * n for op, n in self.ops())

    @property
    def kernels(self) -> int:
        """Kernels a GPU launches for the step (implementation profile; collectives excluded)."""
        return sum(op.kernels * n for op, n in self.ops() if op.op_class != "collective")

    @property
    def bytes(self) -> float:
        return sum(op.bytes * n for op, n in self.ops())

    def stage_flops(self, stage: int, op_classes: tuple[str, ...] | None = None) -> float:
        """FLOPs of pipeline stage `stage` (its layers; the prologue on the first stage, the epilogue on the last),
        of the given op classes (default: all)."""
        def block(g: nx.DiGraph) -> float:
            return sum(d["op"].flops for _, d in g.nodes(data=True)
                       if op_classes is None or d["op"].op_class in op_classes)
        stages = self.stages or [self.layers]
        return (stages[stage] * block(self.layer) + (block(self.prologue) if stage == 0 else 0.0)
                + (block(self.epilogue) if stage == len(stages) - 1 else 0.0))

    def flops_by(self, op_class: str) -> float:
        return sum(op.flops * n for op, n in self.ops() if op.op_class == op_class)

    def expand(self) -> nx.DiGraph:
        """The full graph with every layer's nodes (`L3/qkv`), joined block to block."""
        full = nx.DiGraph()
        tail: list[str] = []
        parts = [("pre", self.prologue)] + [(f"L{i}", self.layer) for i in range(self.layers)] + \
                [("post", self.epilogue)]
        for prefix, graph in parts:
            mapping = {n: f"{prefix}/{n}" for n in graph.nodes}
            full.update(nx.relabel_nodes(graph, mapping, copy=True))
            heads = [mapping[n] for n, d in graph.in_degree() if d == 0]
            full.add_edges_from((t, h) for t in tail for h in heads)
            tail = [mapping[n] for n, d in graph.out_degree() if d == 0]
        return full
