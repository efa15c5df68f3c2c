"""Ops placed on a unit of another device group (`placement.ops: {decode.attention: pim.pim}`), as AttAcc runs
decode attention on HBM-PIM devices beside the GPUs.

Device i of the plan pairs with device i of the placed group. Such an op's unit model costs it on that group's
device (its memory named `group.memory` in the summary); its activations cross the topology path between the two
devices, before and after, serially with the op (the op cannot start without them):

    t = t_unit + 2 latency_path + (sent + returned) / rate_path
    sent = non-resident inputs x (1 + 2 kv_heads / heads) for attention (the new keys and values travel with the
           queries, to be appended to the cache there), returned = outputs

and their bits x every hop's energy per bit are the link energy of the placed device (`link.energy_j`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from simulator.engine.cost import OpCost
from simulator.lowering.ops import Op
from simulator.network.topology import Topology


@dataclass(frozen=True)
class RemoteUnits:
    """The placed units ('group.unit' keys) and the path from the plan's first device to each group's first."""

    keys: frozenset[str]
    topology: Topology
    origin: str                  # the plan's device 0 ('gpu.0')

    def path(self, key: str) -> tuple[float, float, float]:
        """(seconds of latency, payload bytes/s of the slowest hop, joules per bit over all hops) to the group."""
        links = [self.topology.links[i] for i in self.topology.path(self.origin, f"{key.partition('.')[0]}.0")]
        if not links:
            return 0.0, float("inf"), 0.0
        return (sum(lk.latency for lk in links), min(lk.rate for lk in links),
                sum(lk.energy_per_bit for lk in links))

    def adjust(self, op: Op, key: str, cost: OpCost) -> OpCost:
        """`cost` on the placed device with its memories named `group.memory`, plus the activations' round trip."""
        if key not in self.keys:
            return cost
        group = key.partition(".")[0]
        dims = op.dims
        sent = sum(t.bytes for t in op.inputs if not t.resident)
        if "heads" in dims and "kv_heads" in dims:
            sent *= 1 + 2 * dims["kv_heads"] / dims["heads"]
        returned = op.bytes_out
        latency, rate, epb = self.path(key)
        extra = 2 * latency + (sent + returned) / rate if sent + returned else 0.0
        counts = {**cost.counts, "link.energy_j": cost.counts.get("link.energy_j", 0.0) + (sent + returned) * 8 * epb}
        return replace(cost, time_s=cost.time_s + extra, bytes={f"{group}.{m}": b for m, b in cost.bytes.items()},
                       counts=counts, detail={**cost.detail, "transfer_s": extra, "transfer_bytes": sent + returned})
