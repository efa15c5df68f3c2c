"""The interconnect as a unit that runs the executor's collective ops, costed on the system's topology.

A collective op of `devices` ranks runs over the first `devices` devices of its group with the algorithm
NCCL would pick (simulator/network/collectives.py, docs/network.md). On a single-link system (one switch,
ring or fully connected fabric) that is the ring, whose alpha-beta time is the textbook one:

    ring all-reduce   T = 2 (N - 1) (alpha + S / (N B))      (reduce-scatter then all-gather)
    all-gather        T =   (N - 1) (alpha + S / (N B))
    send/recv         T =   alpha + S / B

with alpha the path latency (a switch is 2 hops: device -> switch -> device) and B the link's payload rate.
The counts are the bytes one device sends (`wire_bytes`), as link energy has been counted so far.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.engine.cost import OpCost
from simulator.link.spec import LinkSpec
from simulator.lowering.ops import Op
from simulator.network.collectives import collective
from simulator.network.topology import Topology


def wire_bytes(kind: str, nbytes: float, n: int) -> float:
    """Bytes one device sends for the collective (for link energy and bandwidth)."""
    if kind == "all_reduce":
        return 2 * (n - 1) / n * nbytes
    if kind in ("all_gather", "all_to_all", "reduce_scatter"):
        return (n - 1) / n * nbytes
    return nbytes


@dataclass(frozen=True)
class LinkModel:
    """The interconnect as a unit that runs collective ops over `devices` (a group's device names)."""

    name: str
    spec: LinkSpec
    topology: Topology
    devices: tuple[str, ...]

    def cost(self, op: Op) -> OpCost:
        dims = op.dims
        n, nbytes = dims["devices"], float(dims["bytes"])
        t = collective(self.topology, op.kind, nbytes, self.devices[:n]).time_s if n > 1 else 0.0
        sent = wire_bytes(op.kind, nbytes, n)
        return OpCost(time_s=t, cycles=t / self.spec.latency if self.spec.latency else 0.0,
                      bound="communication", counts={"link.bit": sent * 8}, bytes={self.name: sent},
                      detail={"devices": n, "message_bytes": nbytes})
