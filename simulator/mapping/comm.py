"""The collectives of a parallel plan costed on the system's topology over the devices that take part.

A tensor-parallel all-reduce or all-gather runs over the tp ranks of its stage, an expert-parallel all-to-all over
the tensor-rank-0 devices of the ep replicas of a group, a pipeline handoff from stage s to stage s + 1
(simulator/network/collectives.py picks the algorithm NCCL would). Every replica (and, for tensor collectives,
every tensor rank) runs the same collective at the same moment; congestion-unaware, they do not meet (alpha-beta
of one group); congestion-aware, a group's own flows and the steps of all the concurrent groups share the links
max-min fairly, so groups that cross the same inter-node links slow each other.

Energy: the bits over every link of every hop x that link's energy per bit (CollectiveCost.energy_j), charged
in equal shares to the devices of the group (`counts["link.energy_j"]`).
"""

from __future__ import annotations

import numpy as np

from simulator.engine.cost import OpCost
from simulator.link.collective import wire_bytes
from simulator.lowering.ops import Op
from simulator.network.collectives import collective, default_chunks, normalise_op, route, schedule
from simulator.network.flows import finish_times
from simulator.network.topology import Topology
from simulator.workload.spec import Parallel


def device_index(plan: Parallel, replica: int, stage: int, rank: int = 0) -> int:
    """Global index of a device of the plan (replica-major, as mapping.plan numbers them)."""
    return (replica * plan.pp + stage) * plan.tp + rank


def groups_of(plan: Parallel, op: Op, stage: int) -> list[list[int]]:
    """The device groups that run `op` at once: the first is the simulated one."""
    kind = op.kind
    if kind == "send_recv":
        return [[device_index(plan, r, stage, k), device_index(plan, r, stage + 1, k)]
                for r in range(plan.dp) for k in range(plan.tp)]
    if kind == "all_to_all":
        return [[device_index(plan, g + i, stage, k) for i in range(plan.ep)]
                for g in range(0, plan.dp, plan.ep) for k in range(plan.tp)]
    return [[device_index(plan, r, stage, k) for k in range(plan.tp)] for r in range(plan.dp)]


class PlanComm:
    """Costs a plan's collective ops (`cost(op, stage)`), cached by (op, stage)."""

    def __init__(self, topology: Topology, plan: Parallel, congestion_aware: bool = False):
        self.topology, self.plan, self.aware = topology, plan, congestion_aware
        self._cache: dict[tuple, OpCost] = {}

    def cost(self, op: Op, stage: int = 0) -> OpCost:
        key = (op.key(), stage)
        if key not in self._cache:
            self._cache[key] = self._cost(op, stage)
        return self._cache[key]

    def _cost(self, op: Op, stage: int) -> OpCost:
        groups = groups_of(self.plan, op, stage)
        nbytes = float(op.dims["bytes"])
        mine = groups[0]
        one = collective(self.topology, op.kind, nbytes, mine, congestion_aware=self.aware)
        time = one.time_s if len(mine) > 1 else 0.0
        if self.aware and len(groups) > 1 and time > 0:
            time = self._concurrent(op.kind, nbytes, groups, one.algorithm)
        sent = wire_bytes(op.kind, nbytes, len(mine))
        return OpCost(time_s=time, cycles=0.0, bound="communication",
                      counts={"link.bit": sent * 8, "link.energy_j": one.energy_j / len(mine)},
                      bytes={"link": sent},
                      detail={"devices": len(mine), "message_bytes": nbytes, "algorithm": one.algorithm,
                              "reason": one.reason, "concurrent_groups": len(groups),
                              "links": {self._label(i): float(one.link_bytes[i]) for i in one.link_bytes.nonzero()[0]}})

    def _label(self, link: int) -> str:
        lk = self.topology.links[link]
        return f"{lk.src}->{lk.dst} ({lk.name})"

    def steps(self, op: Op, stage: int = 0) -> list[list[tuple[int, int, float]]]:
        """The collective's steps as (src, dst, bytes) flows of every concurrent group, for a Fabric."""
        groups = groups_of(self.plan, op, stage)
        nbytes = float(op.dims["bytes"])
        algorithm = self.cost(op, stage).detail["algorithm"]
        kind = normalise_op(op.kind)
        per_group = [schedule(self.topology, kind, nbytes, g, algorithm, default_chunks(nbytes)) for g in groups]
        return [[(int(a), int(b), float(c)) for s, d, b_ in steps for a, b, c in zip(s, d, b_)]
                for steps in zip(*per_group)]

    def _concurrent(self, kind: str, nbytes: float, groups: list[list[int]], algorithm: str) -> float:
        """Every group's step i at once, flows sharing links max-min fairly; the slowest flow ends a step."""
        op = normalise_op(kind)
        per_group = [schedule(self.topology, op, nbytes, g, algorithm, default_chunks(nbytes)) for g in groups]
        total = 0.0
        for steps in zip(*per_group):
            src = np.concatenate([s for s, _, _ in steps])
            dst = np.concatenate([d for _, d, _ in steps])
            size = np.concatenate([b for _, _, b in steps])
            flow_of, link_of, lat = route(self.topology, src, dst)
            total += float(np.max(lat + finish_times(flow_of, link_of, size, self.topology.rate)))
        return total
