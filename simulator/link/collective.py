"""Analytical collectives over a device interconnect (alpha-beta model).

With N devices, per-hop latency alpha (times hops per message for the topology), per-device bandwidth B and a
message of S bytes per device (the all-reduce input, the all-gather output):

    ring all-reduce   T = 2 (N - 1) (alpha + S / (N B))      (reduce-scatter then all-gather)
    all-gather        T =   (N - 1) (alpha + S / (N B))
    all-to-all        T =   (N - 1) (alpha + S / (N B))
    send/recv         T =   alpha + S / B

These are the textbook ring costs quoted in ../shared/reference/interconnect (ASTRA-sim's analytical backend);
a switch costs 2 hops per message (device -> switch -> device), a fully connected fabric and a ring 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.engine.cost import OpCost
from simulator.link.spec import LinkSpec
from simulator.lowering.ops import Op

HOPS = {"switch": 2, "ring": 1, "fully-connected": 1}


def collective_time(kind: str, nbytes: float, n: int, spec: LinkSpec) -> float:
    """Seconds for one collective of `kind` over `n` devices with `nbytes` per device."""
    if n <= 1 and kind != "send_recv":
        return 0.0
    alpha = HOPS[spec.topology] * spec.latency
    bw = spec.bandwidth
    if kind == "all_reduce":
        return 2 * (n - 1) * (alpha + nbytes / (n * bw))
    if kind in ("all_gather", "all_to_all"):
        return (n - 1) * (alpha + nbytes / (n * bw))
    if kind == "send_recv":
        return alpha + nbytes / bw
    raise ValueError(f"unknown collective {kind!r}")


def wire_bytes(kind: str, nbytes: float, n: int) -> float:
    """Bytes one device sends for the collective (for link energy and bandwidth)."""
    if kind == "all_reduce":
        return 2 * (n - 1) / n * nbytes
    if kind in ("all_gather", "all_to_all"):
        return (n - 1) / n * nbytes
    return nbytes


@dataclass(frozen=True)
class LinkModel:
    """The interconnect as a unit that runs collective ops."""

    name: str
    spec: LinkSpec

    def cost(self, op: Op) -> OpCost:
        dims = op.dims
        n, nbytes = dims["devices"], float(dims["bytes"])
        t = collective_time(op.kind, nbytes, n, self.spec)
        sent = wire_bytes(op.kind, nbytes, n)
        return OpCost(time_s=t, cycles=t / self.spec.latency if self.spec.latency else 0.0,
                      bound="communication", counts={"link.bit": sent * 8}, bytes={self.name: sent},
                      detail={"devices": n, "message_bytes": nbytes})
