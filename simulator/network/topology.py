"""A system's network: devices, switches, hosts and memories joined by links, with routed paths.

Interface (used by collectives, flows, the system loader and the executor):

    topo = Topology(graph, devices, dims=None)
    topo.graph              networkx.Graph; node attribute `kind` (device, switch, host, memory) and `forwards`
                            (whether traffic may pass through it); edge attribute `spec` (a LinkSpec)
    topo.devices            device node names in global order ("gpu.0", "gpu.1", ..., "pim.0", ...)
    topo.links              one Link per direction of every edge (id = index into this list)
    topo.path(src, dst)     link ids from src to dst (device names or global indices); shortest hop paths that
                            transit only forwarding nodes (switches, hosts; devices of direct networks), or
                            dimension-order routing on a torus/mesh (dims given)
    topo.domains            the fast domain (node) of each device: devices joined by links faster than the
                            slowest link of the network (the NVLink island of an HGX board, one whole torus)

Every link carries bandwidth per direction (line rate), efficiency (the payload share of the line rate after
protocol overhead, docs/network.md), latency per hop and energy per bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import networkx as nx
import numpy as np

from simulator.link.spec import LinkSpec


@dataclass(frozen=True)
class Link:
    """One direction of a physical link."""

    id: int
    src: str
    dst: str
    bandwidth: float          # line rate, bytes/s per direction
    efficiency: float         # payload share of the line rate
    latency: float            # seconds per hop
    energy_per_bit: float     # J/bit
    name: str                 # the link part's name (nvlink4, ib-ndr400, ...)

    @property
    def rate(self) -> float:
        """Payload bytes/s the link delivers."""
        return self.bandwidth * self.efficiency


class Topology:
    """A routed network over a networkx graph (see the module docstring)."""

    def __init__(self, graph: nx.Graph, devices: list[str], dims: tuple[int, ...] | None = None):
        self.graph = graph
        self.devices = list(devices)
        self.dims = dims
        self.index = {d: i for i, d in enumerate(self.devices)}
        self.links: list[Link] = []
        self._link_id: dict[tuple[str, str], int] = {}
        for u, v, data in graph.edges(data=True):
            spec: LinkSpec = data["spec"]
            for a, b in ((u, v), (v, u)):
                self._link_id[(a, b)] = len(self.links)
                self.links.append(Link(len(self.links), a, b, spec.bandwidth, spec.efficiency, spec.latency,
                                       spec.energy_per_bit, spec.name))
        self.rate = np.array([lk.rate for lk in self.links], dtype=float)
        self.latency = np.array([lk.latency for lk in self.links], dtype=float)
        self._paths: dict[tuple[str, str], list[int]] = {}
        self._routes: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def node(self, ref: int | str) -> str:
        return self.devices[ref] if isinstance(ref, (int, np.integer)) else ref

    def link(self, a: str, b: str) -> int:
        return self._link_id[(a, b)]

    def path(self, src: int | str, dst: int | str) -> list[int]:
        """Link ids of the routed path from src to dst (empty when src == dst)."""
        s, d = self.node(src), self.node(dst)
        key = (s, d)
        if key not in self._paths:
            if s == d:
                self._paths[key] = []
            elif self.dims is not None and s in self.index and d in self.index:
                self._paths[key] = self._dor(s, d)
            else:
                self._fill_from(s)
        if key not in self._paths:
            raise KeyError(f"no route from {s} to {d}")
        return self._paths[key]

    def routes(self, src, dst) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Paths of the transfers src[i] -> dst[i] as (hops per transfer, their link ids concatenated, path
        latency per transfer); cached, since collectives repeat the same steps."""
        key = (tuple(src.tolist() if isinstance(src, np.ndarray) else src),
               tuple(dst.tolist() if isinstance(dst, np.ndarray) else dst))
        if key not in self._routes:
            paths = [self.path(s, d) for s, d in zip(*key)]
            lengths = np.fromiter((len(p) for p in paths), dtype=np.int64, count=len(paths))
            link_of = np.fromiter((i for p in paths for i in p), dtype=np.int64, count=int(lengths.sum()))
            lat = np.bincount(np.repeat(np.arange(len(paths)), lengths), weights=self.latency[link_of],
                              minlength=len(paths))
            self._routes[key] = (lengths, link_of, lat)
        return self._routes[key]

    def path_latency(self, src: int | str, dst: int | str) -> float:
        return float(sum(self.links[i].latency for i in self.path(src, dst)))

    def _fill_from(self, s: str) -> None:
        """Shortest hop paths from s that transit forwarding nodes only (a device is not a router unless its
        network is a direct one: ring, torus, mesh, fully connected)."""
        routing = self._routing_graph
        paths = nx.single_source_shortest_path(routing, ("out", s))
        for (end, node), p in paths.items():
            if end == "in" and node != s:
                names = [n for _, n in p]
                names = [n for i, n in enumerate(names) if i == 0 or n != names[i - 1]]
                self._paths[(s, node)] = [self._link_id[(a, b)] for a, b in zip(names, names[1:])]

    @cached_property
    def _routing_graph(self) -> nx.DiGraph:
        """Each node as ("in", n) and ("out", n); a forwarding node joins them, so only it can be transited."""
        g = nx.DiGraph()
        for n, data in self.graph.nodes(data=True):
            g.add_node(("in", n))
            g.add_node(("out", n))
            if data.get("forwards", False):
                g.add_edge(("in", n), ("out", n))
        for u, v in self.graph.edges:
            g.add_edge(("out", u), ("in", v))
            g.add_edge(("out", v), ("in", u))
        return g

    def _dor(self, s: str, d: str) -> list[int]:
        """Dimension-order routing on a torus/mesh: dimension 0 first, the shorter way round (ties: +)."""
        dims = self.dims
        assert dims is not None
        a, b = self.index[s], self.index[d]
        ca, cb = list(np.unravel_index(a, dims)), list(np.unravel_index(b, dims))
        wrap = self.graph.graph.get("wrap", True)
        out: list[int] = []
        cur = list(ca)
        for k, n in enumerate(dims):
            delta = (cb[k] - cur[k]) % n if wrap else cb[k] - cur[k]
            if wrap:
                step = 1 if delta <= n - delta else -1
                count = delta if step == 1 else n - delta
            else:
                step, count = (1 if delta >= 0 else -1), abs(delta)
            for _ in range(count):
                nxt = list(cur)
                nxt[k] = (cur[k] + step) % n
                u = self.devices[int(np.ravel_multi_index(cur, dims))]
                v = self.devices[int(np.ravel_multi_index(nxt, dims))]
                out.append(self._link_id[(u, v)])
                cur = nxt
        return out

    @cached_property
    def domains(self) -> dict[str, int]:
        """Domain index of each device: as the pattern set it (hierarchical: its node), else components over
        links faster than the slowest link."""
        if all("domain" in self.graph.nodes[d] for d in self.devices):
            return {d: int(self.graph.nodes[d]["domain"]) for d in self.devices}
        slowest = min((lk.rate for lk in self.links), default=0.0)
        fast = nx.Graph()
        fast.add_nodes_from(self.graph.nodes)
        fast.add_edges_from((u, v) for u, v, e in self.graph.edges(data=True)
                            if e["spec"].bandwidth * e["spec"].efficiency > slowest)
        if all(self.graph.nodes[n].get("kind") != "device" or fast.degree(n) == 0 for n in fast.nodes):
            return {d: 0 for d in self.devices}
        out: dict[str, int] = {}
        for comp in nx.connected_components(fast):
            members = [d for d in self.devices if d in comp]
            if members:
                k = len(set(out.values()))
                for d in members:
                    out[d] = k
        return {d: out[d] for d in self.devices}

    def check_connected(self) -> tuple[str, str] | None:
        """A pair of devices with no route between them, or None."""
        for d in self.devices[1:]:
            try:
                self.path(self.devices[0], d)
                self.path(d, self.devices[0])
            except KeyError:
                return self.devices[0], d
        return None
