"""The serving loop of one replica, iteration by iteration: admit what has arrived, let the policy build a batch,
cost it on the hardware (IterationModel), advance time, emit tokens and finish requests.

Time advances by whole iterations: t_end = t + iteration latency + swap transfer time (blocks moved to or from
host memory over the swap link: bytes / bandwidth + latency, on the iteration's critical path as in vLLM v0).
A request's first token comes at the end of the iteration that completes its prefill; each decode step emits one
token at its end. Energy of an iteration = tensor-parallel ranks x the simulated shard's energy (+ the static
power of further pipeline stages); idle gaps draw the devices' static power.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.link.spec import LinkSpec
from simulator.serving.schedulers import Limits, Policy
from simulator.serving.state import Batch, Replica, Req
from simulator.serving.step import IterationModel, Shape

ITERATION_COLUMNS = ("group", "replica", "start_s", "end_s", "latency_s", "kind", "decode", "prefill", "tokens",
                     "emitted", "in_system", "in_system_area", "running", "waiting", "swapped", "kv_blocks_used",
                     "kv_blocks", "preempted", "swap_blocks", "energy_j")


@dataclass
class Group:
    """Replicas of one model on one kind of system (a co-located pool, or a prefill or decode pool)."""

    name: str
    model: IterationModel
    replicas: int
    devices_per_replica: int
    static_power_w: float        # one device
    idle_power_w: float          # one device, nothing running
    block_bytes: float           # one KV block on one device


def run_replica(group: Group, index: int, reqs: list[Req], policy: Policy, limits: Limits, replica: Replica,
                swap_link: LinkSpec | None, *, prefill_only: bool = False) -> tuple[pd.DataFrame, list[Req]]:
    """Serve `reqs` (sorted by `ready`) on one replica; returns the iteration rows and, for a prefill-only
    replica, the requests in the order their prefill ended (their `ready` set to that time)."""
    rows = Rows()
    handed: list[Req] = []
    n, i, left, t = len(reqs), 0, len(reqs), 0.0
    pool, model = replica.pool, group.model
    extra_static = group.static_power_w * (group.devices_per_replica - model.workload.spec.tp)
    while left:
        while i < n and reqs[i].ready <= t:
            reqs[i].replica = index
            replica.waiting.append(reqs[i])
            i += 1
        if not (replica.waiting or replica.running or replica.swapped):
            t = reqs[i].ready
            continue
        batch = policy(replica, limits)
        if not batch.items:
            if i >= n:
                raise RuntimeError(f"replica {group.name}[{index}] cannot schedule {left} requests (KV deadlock)")
            t = max(t, reqs[i].ready)
            continue
        in_system = len(replica.waiting) + len(replica.running) + len(replica.swapped)
        cost = model.cost(shape_of(batch))
        moved = batch.swap_in + batch.swap_out
        swap_s = moved * group.block_bytes / swap_link.bandwidth + swap_link.latency if moved and swap_link else 0.0
        end = t + cost.latency_s + swap_s
        energy = model.workload.spec.tp * cost.energy_j + extra_static * cost.latency_s
        if moved and swap_link:
            energy += moved * group.block_bytes * 8 * swap_link.energy_per_bit * model.workload.spec.tp
        n_dec = n_pre = emitted = 0
        for item in batch.items:
            req = item.req
            if req.first_scheduled != req.first_scheduled:
                req.first_scheduled = t
            if item.decode:
                n_dec += 1
                if req.generated >= req.output:      # a padded slot of a static batch
                    continue
                req.generated += 1
                emitted += 1
            else:
                n_pre += 1
                req.done += item.progress
                if req.done < req.target:
                    continue
                req.generated += 1
                emitted += 1
                if req.first_token != req.first_token:
                    req.first_token = end
                if prefill_only and req.generated < req.output:
                    replica.finish(req)
                    req.ready = end
                    handed.append(req)
                    left -= 1
                    continue
            if req.generated >= req.output:
                req.finish = end
                if req in replica.running:
                    replica.finish(req)
                left -= 1
        area = in_system * (end - t)        # request-seconds in the system, arrivals during the iteration included
        j = i
        while j < n and reqs[j].ready < end:
            area += end - reqs[j].ready
            j += 1
        kind = "mixed" if n_dec and n_pre else ("decode" if n_dec else "prefill")
        rows.add((group.name, index, t, end, end - t, kind, n_dec, n_pre, sum(it.q for it in batch.items), emitted,
                     in_system, area, len(replica.running), len(replica.waiting), len(replica.swapped), pool.used,
                     pool.blocks, batch.preempted, moved, energy))
        t = end
    return rows.frame(), handed


def shape_of(batch: Batch) -> Shape:
    """The iteration's shape: decode KV lengths, prefill chunks, and the sequences that sample (decodes and the
    chunks that end a prefill)."""
    decode, chunks, sampled = [], [], 0
    for it in batch.items:
        if it.decode:
            decode.append(it.kv)
            sampled += 1
        else:
            chunks.append((it.q, it.kv))
            sampled += it.req.done + it.progress >= it.req.target
    return Shape(tuple(decode), tuple(chunks), sampled)


class Rows:
    """Iteration rows kept column by column (8 bytes a number), so that 100 000 requests stay well under 1 GB."""

    TEXT = ("group", "kind")

    def __init__(self) -> None:
        self.cols = {c: ([] if c in self.TEXT else array("d")) for c in ITERATION_COLUMNS}

    def add(self, row: tuple) -> None:
        for col, v in zip(self.cols.values(), row):
            col.append(v)

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame({c: (v if c in self.TEXT else np.frombuffer(v, dtype=np.float64) if len(v) else
                               np.zeros(0)) for c, v in self.cols.items()})
        ints = [c for c in ITERATION_COLUMNS if c not in self.TEXT and not c.endswith(("_s", "_j", "_area"))]
        return df.astype({c: np.int64 for c in ints})


def idle_energy(it: pd.DataFrame, group: Group, horizon: float) -> float:
    """Static energy of a group's devices while its replicas have nothing to run, up to `horizon`."""
    busy = np.zeros(group.replicas)
    mine = it[it["group"] == group.name]
    np.add.at(busy, mine["replica"].to_numpy(dtype=np.int64), mine["latency_s"].to_numpy())
    idle = np.clip(horizon - busy, 0.0, None).sum()
    return float(idle * group.idle_power_w * group.devices_per_replica)
