"""Build a Topology from a system file's `topology:` section: a named pattern, or an explicit graph, plus extras.

    topology:
      pattern: switch            # switch | ring | fully-connected | torus | mesh | hierarchical | graph
      link: {include: links/nvlink4.yaml}      # the pattern's link (switch, ring, fully-connected, torus, mesh)
      group_links: {pim: {...}}  # per-group link to the switch (switch pattern), overriding `link`
      members: [gpu]             # groups in the pattern (default: every group, in file order)
      dims: [4, 4, 4]            # torus / mesh: devices in row-major order, dimension-order routing
      nodes: 2                   # hierarchical: devices split evenly over this many nodes, in global order
      intra: {pattern: switch, link: {...}}   # hierarchical: inside a node (switch, ring, fully-connected)
      inter: {link: {...}}       # hierarchical: one NIC link per device to one non-blocking fabric switch
      switches: [sw0]            # extra named nodes (also `hosts:`)
      memories: {cxl0: {include: memory/ddr5-4800.yaml}}   # memory nodes (a list of names, or name -> memory)
      links:                     # extra links (the whole network for pattern: graph)
        - {ends: [gpu.0, host0], include: links/pcie5.yaml}

Device nodes are named `<group>.<index>`. Switches of patterns are `switch` (switch pattern), `node<k>.switch`
and `fabric` (hierarchical). Devices forward traffic only in direct networks (ring, torus, mesh, fully
connected); switches and hosts always do.
"""

from __future__ import annotations

from typing import Any, Literal

import networkx as nx
import numpy as np
from pydantic import Field

from simulator.config.spec import PositiveInt, Spec, validate
from simulator.errors import ConfigError, allowed
from simulator.link.spec import LinkSpec
from simulator.memory.spec import MemorySpec
from simulator.network.topology import Topology

PATTERNS = ("switch", "ring", "fully-connected", "torus", "mesh", "hierarchical", "graph")


class TopologyLayout(Spec):
    pattern: Literal["switch", "ring", "fully-connected", "torus", "mesh", "hierarchical", "graph"] = "switch"
    members: list[str] | None = None
    link: dict[str, Any] | None = None
    group_links: dict[str, dict[str, Any]] = {}
    dims: list[PositiveInt] | None = None
    nodes: PositiveInt | None = None
    intra: dict[str, Any] | None = None
    inter: dict[str, Any] | None = None
    switches: list[str] = []
    hosts: list[str] = []
    memories: list[str] | dict[str, dict[str, Any]] = []
    links: list[dict[str, Any]] = Field(default_factory=list)


COMMON = {"pattern", "members", "switches", "hosts", "memories", "links"}
PATTERN_KEYS = {
    "switch": COMMON | {"link", "group_links"}, "ring": COMMON | {"link"}, "fully-connected": COMMON | {"link"},
    "torus": COMMON | {"link", "dims"}, "mesh": COMMON | {"link", "dims"},
    "hierarchical": COMMON | {"nodes", "intra", "inter"}, "graph": COMMON,
}


def build_topology(raw: dict[str, Any], groups: dict[str, int], *, file: str, key: str = "topology") -> Topology:
    """The routed network of `groups` (name -> device count) described by `raw`."""
    layout = validate(TopologyLayout, raw, file=file, prefix=key)
    unused = sorted(set(raw) - PATTERN_KEYS[layout.pattern])
    if unused:
        raise ConfigError(f"'{unused[0]}' has no meaning for pattern {layout.pattern}; "
                          f"{allowed(PATTERN_KEYS[layout.pattern])}", file=file, key=f"{key}.{unused[0]}")
    g = nx.Graph()
    devices = [f"{name}.{i}" for name, n in groups.items() for i in range(n)]
    direct = layout.pattern in ("ring", "fully-connected", "torus", "mesh")
    for d in devices:
        g.add_node(d, kind="device", forwards=direct)
    members = layout.members if layout.members is not None else list(groups)
    for i, m in enumerate(members):
        if m not in groups:
            raise ConfigError(f"unknown group '{m}'; {allowed(groups)}", file=file, key=f"{key}.members[{i}]")
    for m in layout.group_links:
        if m not in groups:
            raise ConfigError(f"unknown group '{m}'; {allowed(groups)}", file=file, key=f"{key}.group_links.{m}")
    inside = [d for d in devices if d.rsplit(".", 1)[0] in members]
    dims = None
    if layout.pattern == "hierarchical":
        _hierarchical(g, inside, layout, file, key)
    elif layout.pattern != "graph":
        link = _link(layout.link, file, f"{key}.link")
        if layout.pattern == "switch":
            g.add_node("switch", kind="switch", forwards=True)
            for d in inside:
                group = d.rsplit(".", 1)[0]
                spec = (_link(layout.group_links[group], file, f"{key}.group_links.{group}")
                        if group in layout.group_links else link)
                g.add_edge(d, "switch", spec=spec)
        elif layout.pattern in ("torus", "mesh"):
            dims = _grid(g, inside, layout, link, file, key)
        else:
            _direct(g, inside, layout.pattern, link)
    for kind, names in (("switch", layout.switches), ("host", layout.hosts), ("memory", layout.memories)):
        for n in names:
            if n in g:
                plural = "memories" if kind == "memory" else f"{kind}s"
                raise ConfigError(f"node '{n}' is declared twice", file=file, key=f"{key}.{plural}")
            g.add_node(n, kind=kind, forwards=kind != "memory")
    if isinstance(layout.memories, dict):
        for n, raw_mem in layout.memories.items():
            g.nodes[n]["spec"] = validate(MemorySpec, {"name": n, **{k: v for k, v in raw_mem.items() if k != "kind"}},
                                          file=file, prefix=f"{key}.memories.{n}")
    for i, raw_link in enumerate(layout.links):
        where = f"{key}.links[{i}]"
        ends = raw_link.get("ends")
        if not (isinstance(ends, list) and len(ends) == 2 and all(isinstance(e, str) for e in ends)):
            raise ConfigError("ends must be a list of two node names", file=file, key=f"{where}.ends")
        for e in ends:
            if e not in g:
                raise ConfigError(f"unknown node '{e}'; {allowed(g.nodes)}", file=file, key=f"{where}.ends")
        g.add_edge(ends[0], ends[1], spec=_link({k: v for k, v in raw_link.items() if k != "ends"}, file, where))
    topo = Topology(g, devices, tuple(dims) if dims else None)
    if len(devices) > 1:
        gap = topo.check_connected()
        if gap is not None:
            raise ConfigError(f"the topology is disconnected: no route between {gap[0]} and {gap[1]}; every "
                              f"device must reach every other (add links, or list the group in members)",
                              file=file, key=key)
    return topo


def _link(raw: dict[str, Any] | None, file: str, key: str) -> LinkSpec:
    """A link part; unless it names itself inline, it is named for its place in the file (an included part's
    `name:` is a header key and does not carry over): link, intra, inter, group_links.<g>, links[<i>]."""
    if raw is None:
        raise ConfigError("required key is missing (a link part, e.g. {include: links/nvlink4.yaml})",
                          file=file, key=key)
    role = key.split(".", 1)[1] if "." in key else key
    role = role.removesuffix(".link")
    return validate(LinkSpec, {"name": role, **{k: v for k, v in raw.items() if k != "kind"}}, file=file, prefix=key)


def _direct(g: nx.Graph, devs: list[str], pattern: str, link: LinkSpec) -> None:
    n = len(devs)
    if pattern == "ring":
        for i in range(n if n > 2 else n - 1):
            g.add_edge(devs[i], devs[(i + 1) % n], spec=link)
    else:
        for i in range(n):
            for j in range(i + 1, n):
                g.add_edge(devs[i], devs[j], spec=link)


def _grid(g: nx.Graph, devs: list[str], layout: TopologyLayout, link: LinkSpec, file: str, key: str) -> list[int]:
    dims = layout.dims
    if not dims:
        raise ConfigError(f"a {layout.pattern} needs dims, e.g. [4, 4, 4]", file=file, key=f"{key}.dims")
    size = 1
    for n in dims:
        size *= n
    if size != len(devs) or len(devs) != g.number_of_nodes():
        raise ConfigError(f"dims {dims} make {size} positions for {len(devs)} devices (a {layout.pattern} spans "
                          f"every device of the system)", file=file, key=f"{key}.dims")
    wrap = layout.pattern == "torus"
    g.graph["wrap"] = wrap
    for idx in range(size):
        c = np.unravel_index(idx, dims)
        for k, n in enumerate(dims):
            if n == 1 or (not wrap and c[k] == n - 1):
                continue
            nc = list(c)
            nc[k] = (c[k] + 1) % n
            j = int(np.ravel_multi_index(nc, dims))
            g.add_edge(devs[idx], devs[j], spec=link)
    return list(dims)


def _hierarchical(g: nx.Graph, devs: list[str], layout: TopologyLayout, file: str, key: str) -> None:
    k = layout.nodes
    if k is None or len(devs) % k:
        raise ConfigError(f"nodes must divide the {len(devs)} devices evenly (got {k})", file=file,
                          key=f"{key}.nodes")
    intra = dict(layout.intra or {})
    pattern = intra.pop("pattern", "switch")
    if pattern not in ("switch", "ring", "fully-connected"):
        raise ConfigError(f"{pattern!r} is not allowed; allowed: fully-connected, ring, switch", file=file,
                          key=f"{key}.intra.pattern")
    unknown = set(intra) - {"link"}
    if unknown:
        raise ConfigError(f"unknown key '{sorted(unknown)[0]}'; allowed: link, pattern", file=file,
                          key=f"{key}.intra.{sorted(unknown)[0]}")
    intra_link = _link(intra.get("link"), file, f"{key}.intra.link")
    inter = dict(layout.inter or {})
    unknown = set(inter) - {"link"}
    if unknown:
        raise ConfigError(f"unknown key '{sorted(unknown)[0]}'; allowed: link", file=file,
                          key=f"{key}.inter.{sorted(unknown)[0]}")
    inter_link = _link(inter.get("link"), file, f"{key}.inter.link")
    per = len(devs) // k
    g.add_node("fabric", kind="switch", forwards=True)
    for node in range(k):
        local = devs[node * per:(node + 1) * per]
        if pattern == "switch":
            sw = f"node{node}.switch"
            g.add_node(sw, kind="switch", forwards=True)
            for d in local:
                g.add_edge(d, sw, spec=intra_link)
        else:
            for d in local:
                g.nodes[d]["forwards"] = True
            _direct(g, local, pattern, intra_link)
        for d in local:
            g.add_edge(d, "fabric", spec=inter_link)
            g.nodes[d]["domain"] = node
    g.graph["nodes"] = k
