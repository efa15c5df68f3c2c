"""The state a scheduler works on: requests, the queues of one replica and its KV block pool, and the batch one
iteration runs. Preemption (recompute or swap) lives here so that every policy frees and restores alike."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from simulator.serving.kv import BlockPool


class Req:
    """One request's progress. `target` prompt tokens to prefill (prompt, or prompt + generated tokens after a
    recompute preemption), `done` of them prefilled, `generated` output tokens emitted so far."""

    __slots__ = ("id", "arrival", "prompt", "output", "target", "done", "generated", "blocks", "first_scheduled",
                 "first_token", "finish", "preemptions", "swaps", "ready", "replica")

    def __init__(self, rid: int, arrival: float, prompt: int, output: int):
        self.id, self.arrival, self.prompt, self.output = rid, arrival, prompt, output
        self.target, self.done, self.generated, self.blocks = prompt, 0, 0, 0
        self.first_scheduled = self.first_token = self.finish = float("nan")
        self.preemptions = self.swaps = 0
        self.ready = arrival          # when it can be scheduled (arrival, or KV arrival at a decode replica)
        self.replica = -1

    @property
    def prefilling(self) -> bool:
        return self.done < self.target

    @property
    def kv_next(self) -> int:
        """Keys the next decode step attends (its new token included): prompt + generated."""
        return self.prompt + self.generated


@dataclass
class Item:
    """One request's part of an iteration: `q` new tokens attending `kv` keys (the iteration's shape), of which
    `progress` count towards its prefill; a decode step has q = 1."""

    req: Req
    q: int
    kv: int
    decode: bool
    progress: int = 0


@dataclass
class Batch:
    items: list[Item] = field(default_factory=list)
    swap_out: int = 0          # blocks moved to host memory this iteration
    swap_in: int = 0           # blocks moved back
    preempted: int = 0
    evicted: set[int] = field(default_factory=set)    # ids preempted while this batch was built


class Replica:
    """Queues of one model replica: waiting (FCFS, preempted-by-recompute at the front), running (in admission
    order), swapped (FCFS), and its block pool."""

    def __init__(self, pool: BlockPool, preemption: str):
        self.pool = pool
        self.preemption = preemption
        self.waiting: deque[Req] = deque()
        self.running: list[Req] = []
        self.swapped: deque[Req] = deque()

    def reserve(self, req: Req, tokens: int, batch: Batch, scheduled: set[int]) -> bool:
        """Hold blocks for `tokens` of `req`, preempting the latest-admitted running requests not yet scheduled
        this iteration (vLLM's order); False when `req` itself had to be preempted."""
        extra = self.pool.need(tokens) - req.blocks
        while extra > self.pool.free:
            victims = [r for r in self.running if r.id not in scheduled and r is not req]
            victim = victims[-1] if victims else req
            self.preempt(victim, batch)
            if victim is req:
                return False
        if extra > 0:
            self.pool.take(extra)
            req.blocks += extra
        return True

    def preempt(self, req: Req, batch: Batch) -> None:
        """Recompute: free its blocks and queue it first to prefill its prompt and output so far again. Swap: move
        its blocks to host memory (falls back to recompute when host space is full)."""
        self.running.remove(req)
        req.preemptions += 1
        batch.preempted += 1
        batch.evicted.add(req.id)
        if self.preemption == "swap" and self.pool.host_used + req.blocks <= self.pool.host_blocks:
            self.pool.host_used += req.blocks
            self.pool.give(req.blocks)
            batch.swap_out += req.blocks
            req.swaps += 1
            self.swapped.append(req)
            return
        self.pool.give(req.blocks)
        req.blocks = 0
        if req.generated:
            req.target = req.prompt + req.generated
        req.done = 0
        self.waiting.appendleft(req)

    def swap_in(self, batch: Batch, max_batch: int) -> None:
        """Bring swapped requests back (FCFS) while their blocks (and one more token) fit."""
        while self.swapped and len(self.running) < max_batch:
            req = self.swapped[0]
            need = max(req.blocks, self.pool.need(req.kv_next if not req.prefilling else req.done))
            if need > self.pool.free:
                break
            self.swapped.popleft()
            self.pool.host_used -= req.blocks
            batch.swap_in += req.blocks
            self.pool.take(need)
            req.blocks = need
            self.running.append(req)

    def admit_decoding(self, max_batch: int) -> None:
        """Requests that arrive with their KV (a disaggregated decode replica) join running when blocks allow."""
        while self.waiting and not self.waiting[0].prefilling and len(self.running) < max_batch:
            req = self.waiting[0]
            need = self.pool.need(req.kv_next)
            if need > self.pool.free:
                break
            self.waiting.popleft()
            self.pool.take(need)
            req.blocks = need
            self.running.append(req)

    def finish(self, req: Req) -> None:
        self.running.remove(req)
        self.pool.give(req.blocks)
        req.blocks = 0
