"""The parallel plan of a workload: which requests each data-parallel replica and micro-batch holds, which expert
ranks each replica is, and the one-device-shard OpGraphs that follow.

Devices are numbered replica-major: device = (replica x pp + stage) x tp + tensor rank. Replica r takes the r-th
part of the batch (numpy.array_split: the first replicas take one request more when dp does not divide it) and cuts
it into `microbatches` parts the same way. With expert parallelism the replicas form groups of `ep`; replica r is
expert rank r mod ep of its group, and the MoE layers route the group's tokens (lowering.transformer).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from simulator.lowering.graph import OpGraph
from simulator.mapping.comm import device_index
from simulator.lowering.transformer import Shard, lower
from simulator.workload.spec import Parallel, Workload


def split(workload: Workload, parts: int) -> list[Workload]:
    """The workload cut into `parts` by requests (the first parts one request larger when parts does not divide)."""
    if parts == 1:
        return [workload]
    idx = np.array_split(np.arange(len(workload.kv_lens)), parts)
    ch = workload.channels
    return [replace(workload, kv_lens=workload.kv_lens[i], channels=None if ch is None else ch[i]) for i in idx]


@dataclass(frozen=True)
class PlanGraphs:
    """OpGraphs of one tensor-parallel shard: graphs[replica][micro-batch] (stage s runs its layers of each)."""

    plan: Parallel
    workloads: list[list[Workload]]
    graphs: list[list[OpGraph]]

    @property
    def devices(self) -> int:
        return self.plan.tp * self.plan.pp * self.plan.dp

    def device(self, replica: int, stage: int, rank: int = 0) -> int:
        return device_index(self.plan, replica, stage, rank)

    def stage_flops(self, replica: int, stage: int, op_classes: tuple[str, ...] | None = None) -> float:
        """FLOPs one device of `stage` of `replica` executes over the step (all its micro-batches)."""
        return sum(g.stage_flops(stage, op_classes) for g in self.graphs[replica])

    def total_flops(self, op_classes: tuple[str, ...] | None = None) -> float:
        """FLOPs every device of the plan executes in one step."""
        return self.plan.tp * sum(self.stage_flops(r, s, op_classes)
                                  for r in range(self.plan.dp) for s in range(self.plan.pp))


def plan_graphs(workload: Workload) -> PlanGraphs:
    """Lower every replica's micro-batches; a replica's MoE layers see the tokens of its expert group's same
    micro-batch."""
    plan = workload.spec.parallel
    parts = [split(r, plan.microbatches) for r in split(workload, plan.dp)]
    graphs: list[list[OpGraph]] = []
    for r, micro in enumerate(parts):
        group = range(r - r % plan.ep, r - r % plan.ep + plan.ep)
        row = []
        for j, part in enumerate(micro):
            tokens = [parts[g][j].new_tokens for g in group]
            row.append(lower(part, Shard(ep=plan.ep, ep_rank=r % plan.ep, group_tokens=tuple(tokens))))
        graphs.append(row)
    return PlanGraphs(plan, parts, graphs)
