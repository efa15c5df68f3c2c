"""Collectives on a topology: all-reduce, all-gather, reduce-scatter, all-to-all, broadcast, send/recv.

    collective(topology, op, nbytes, devices, algorithm=None, congestion_aware=False, chunks=None)
        -> CollectiveCost(time_s, algorithm, reason, link_bytes, steps, ...)

    run_on_fabric(fabric, op, nbytes, devices, algorithm=None, chunks=None) -> SimPy process
        the same steps as flows on a flows.Fabric shared with other transfers in flight

`op` is one of algorithms.OPS (dashes or underscores); `devices` are device names or global indices (default:
all); `algorithm` one of ring, tree, halving_doubling, direct, hierarchical, or None for the default, which
picks what NCCL would for the size and topology and says why (`reason`).

Congestion-unaware (alpha-beta): a step costs the largest path latency of its transfers plus the largest
load of any link in the step over that link's payload rate; steps run one after another. On a uniform switch
this is exactly the textbook formulas in docs/network.md (tests/network/test_collectives.py).
Congestion-aware: each step's transfers are flows sharing every link max-min fairly, re-shared as flows
finish (simulator/network/flows.py); a step ends when its last flow lands.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from simulator.errors import UserError, allowed
from simulator.network import algorithms
from simulator.network.algorithms import ALGORITHMS, OPS, Step
from simulator.network.flows import finish_times
from simulator.network.topology import Topology

CHUNK_BYTES = 512 * 1024   # NCCL's default step: NCCL_BUFFSIZE 4 MiB over NCCL_STEPS 8 slots [recall]
MAX_CHUNKS = 64            # pipelines are modelled with at most this many chunks (fill/drain < 1/64 of the time)


@dataclass(frozen=True)
class CollectiveCost:
    """Time and traffic of one collective."""

    op: str
    nbytes: float
    devices: int
    algorithm: str
    reason: str
    time_s: float
    steps: int
    link_bytes: np.ndarray = field(repr=False)     # bytes over each link id of the topology
    energy_j: float = 0.0

    @property
    def algbw(self) -> float:
        """nccl-tests algorithm bandwidth, bytes/s: size over time."""
        return self.nbytes / self.time_s if self.time_s > 0 else 0.0

    @property
    def busbw(self) -> float:
        """nccl-tests bus bandwidth, bytes/s: algbw times the op's factor."""
        return self.algbw * bus_factor(self.op, self.devices)


def bus_factor(op: str, n: int) -> float:
    """nccl-tests: 2(n-1)/n for all-reduce, (n-1)/n for all-gather, reduce-scatter and all-to-all, else 1."""
    if n <= 1:
        return 1.0
    if op == "all_reduce":
        return 2 * (n - 1) / n
    if op in ("all_gather", "reduce_scatter", "all_to_all"):
        return (n - 1) / n
    return 1.0


def normalise_op(op: str) -> str:
    name = op.replace("-", "_").replace("sendrecv", "send_recv")
    if name not in OPS:
        raise UserError(f"unknown collective '{op}'; {allowed(o.replace('_', '-') for o in OPS)}")
    return name


def default_chunks(nbytes: float) -> int:
    return int(min(MAX_CHUNKS, max(1, math.ceil(nbytes / CHUNK_BYTES))))


def nodes_of(topology: Topology, ranks: Sequence[int]) -> list[list[int]]:
    """Ranks (positions in `ranks`) grouped by the fast domain of their device, in order of first appearance."""
    dom = topology.domains
    groups: dict[int, list[int]] = {}
    for i, g in enumerate(ranks):
        groups.setdefault(dom[topology.devices[g]], []).append(i)
    return list(groups.values())


def choose(topology: Topology, op: str, nbytes: float, ranks: Sequence[int]) -> tuple[str, str]:
    """The algorithm NCCL would run and why (docs/network.md, 'Selection')."""
    n = len(ranks)
    if op == "send_recv":
        return "direct", "send/recv is one point-to-point transfer"
    if op == "all_to_all":
        return "direct", "NCCL runs all-to-all as concurrent send/recv to every peer"
    if op in ("all_gather", "reduce_scatter", "broadcast"):
        return "ring", f"NCCL's {op.replace('_', '-')} is a (pipelined) ring"
    nodes = nodes_of(topology, ranks)
    if _whole_grid(topology, ranks) and len(topology.dims or ()) > 1:
        return "hierarchical", (f"the whole {'x'.join(map(str, topology.dims or ()))} grid: rings along one "
                                f"dimension after another (multi-dimensional, as ASTRA-sim and TPU pods run it)")
    if len(nodes) == 1 and topology.graph.nodes[topology.devices[ranks[0]]].get("forwards"):
        return "ring", f"{n} devices on a direct network (ring, torus, mesh): a ring over neighbours"
    if len(nodes) == 1:
        return "ring", (f"all {n} devices in one fast domain: NCCL uses ring inside a node (tree needs several "
                        f"nodes; NVLink SHARP not modelled)")
    candidates = ["ring", "tree"]
    if len({len(x) for x in nodes}) == 1 and len(nodes[0]) > 1:
        candidates.append("hierarchical")
    costs = {a: _cost(topology, op, nbytes, ranks, a, False, default_chunks(nbytes)).time_s for a in candidates}
    best = min(costs, key=lambda a: costs[a])
    shown = ", ".join(f"{a} {t * 1e6:.3g} us" for a, t in costs.items())
    return best, (f"{len(nodes)} nodes: NCCL's tuner takes the fastest modelled algorithm for the size "
                  f"({shown})")


def collective(topology: Topology, op: str, nbytes: float, devices: Sequence[int | str] | None = None,
               algorithm: str | None = None, congestion_aware: bool = False,
               chunks: int | None = None) -> CollectiveCost:
    """Cost of one collective of `nbytes` over `devices` (see the module docstring)."""
    op = normalise_op(op)
    ranks = _ranks(topology, devices)
    if nbytes < 0:
        raise UserError(f"bytes must be at least 0, got {nbytes}")
    if algorithm is None:
        algorithm, reason = choose(topology, op, nbytes, ranks)
    else:
        algorithm = algorithm.replace("-", "_")
        if algorithm not in ALGORITHMS:
            raise UserError(f"unknown algorithm '{algorithm}'; {allowed(ALGORITHMS)}")
        reason = "requested"
    return _cost(topology, op, nbytes, ranks, algorithm, congestion_aware,
                 chunks if chunks is not None else default_chunks(nbytes), reason)


def run_on_fabric(fabric, op: str, nbytes: float, devices: Sequence[int | str] | None = None,
                  algorithm: str | None = None, chunks: int | None = None):
    """A SimPy process that runs the collective's steps as flows on `fabric`, sharing links with whatever else
    is in flight there (the executor's congestion-aware collectives); its value is the algorithm's name.
    A run of identical consecutive steps (a ring's) goes as one flow per transfer of the run's bytes, paying
    one path latency per step: NCCL pipelines ring steps, so they are not barriers; with the links' shares
    unchanged over the run this is exactly the steps one by one."""
    topology = fabric.topology
    op = normalise_op(op)
    ranks = _ranks(topology, devices)
    if algorithm is None:
        algorithm, _ = choose(topology, op, nbytes, ranks)
    steps = schedule(topology, op, nbytes, ranks, algorithm.replace("-", "_"),
                     chunks if chunks is not None else default_chunks(nbytes))

    runs: list[tuple[Step, int]] = []
    for step in steps:
        if runs and runs[-1][0] is step:
            runs[-1] = (step, runs[-1][1] + 1)
        else:
            runs.append((step, 1))

    def run():
        for (src, dst, size), count in runs:
            yield fabric.transfer_arrays(src, dst, size * count, latencies=count)
        return algorithm

    return fabric.env.process(run())


def _ranks(topology: Topology, devices: Sequence[int | str] | None) -> list[int]:
    if devices is None:
        return list(range(len(topology.devices)))
    out = []
    for d in devices:
        if isinstance(d, str):
            if d not in topology.index:
                raise UserError(f"unknown device '{d}'; {allowed(topology.devices)}")
            out.append(topology.index[d])
        else:
            out.append(int(d))
    if len(set(out)) != len(out):
        raise UserError("a device appears twice in the collective")
    return out


def schedule(topology: Topology, op: str, nbytes: float, ranks: Sequence[int], algorithm: str,
             chunks: int) -> list[Step]:
    """The algorithm's steps with ranks mapped to global device indices."""
    n = len(ranks)
    if n <= 1 and op != "send_recv":
        return []
    build = algorithms.BUILDERS[algorithm]
    if algorithm == "hierarchical" and _whole_grid(topology, ranks):
        steps = build(op, n, nbytes, chunks, dims=topology.dims)
    elif algorithm in ("hierarchical", "ring"):
        steps = build(op, n, nbytes, chunks, nodes=nodes_of(topology, ranks))
    else:
        steps = build(op, n, nbytes, chunks)
    glob = np.asarray(ranks, dtype=np.int64)
    mapped: dict[int, Step] = {}          # a repeated step stays one object (run_on_fabric merges runs)
    return [mapped.setdefault(id(st), (glob[st[0]], glob[st[1]], st[2])) for st in steps]


def _whole_grid(topology: Topology, ranks: Sequence[int]) -> bool:
    """Whether the ranks are every device of a torus/mesh in grid order."""
    return topology.dims is not None and list(ranks) == list(range(len(topology.devices)))


def _cost(topology: Topology, op: str, nbytes: float, ranks: Sequence[int], algorithm: str,
          aware: bool, chunks: int, reason: str = "") -> CollectiveCost:
    steps = schedule(topology, op, nbytes, ranks, algorithm, chunks)
    nlinks = len(topology.links)
    link_bytes = np.zeros(nlinks)
    total = 0.0
    for src, dst, size in steps:
        flow_of, link_of, lat = route(topology, src, dst)
        load = np.bincount(link_of, weights=size[flow_of], minlength=nlinks)
        link_bytes += load
        if aware:
            total += float(np.max(lat + finish_times(flow_of, link_of, size, topology.rate)))
        else:
            busy = load / topology.rate
            total += float(lat.max() + (busy.max() if nlinks else 0.0))
    energy = float(np.dot(link_bytes * 8, [lk.energy_per_bit for lk in topology.links])) if nlinks else 0.0
    return CollectiveCost(op, float(nbytes), len(ranks), algorithm, reason, total, len(steps), link_bytes,
                          energy)


def route(topology: Topology, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flow x link incidence of the transfers src[i] -> dst[i] (COO: flow index, link id) and path latencies."""
    lengths, link_of, lat = topology.routes(src, dst)
    return np.repeat(np.arange(len(lengths)), lengths), link_of, lat
