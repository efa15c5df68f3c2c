"""Batching policies, one registry: each builds the next iteration's batch from a replica's queues.

- `static`: FasterTransformer-style request-level batching. Up to max_batch waiting requests form a batch whose
  prompts are padded to the longest; the batch decodes, every slot padded, until its longest output is done;
  then the next batch. KV for the whole padded batch is reserved up front.
- `vllm`: iteration-level continuous batching as vLLM (v0) does it: when nothing is swapped out, admit waiting
  requests FCFS while the batch has room (max_batch sequences, max_batched_tokens prompt tokens) and their
  prompts' KV blocks are free, and run those prefills alone; otherwise one decode step of every running request,
  preempting the latest admitted (recompute or swap) when a block is missing, then swap requests back in.
- `sarathi`: Sarathi-Serve's chunked prefill with stall-free batching: every iteration runs all decodes, then
  fills a token budget (chunk_size) with chunks of ongoing prefills and then of new requests, FCFS.
"""

from __future__ import annotations

from collections.abc import Callable

from simulator.errors import ConfigError, allowed, did_you_mean
from simulator.serving.state import Batch, Item, Replica

Policy = Callable[[Replica, "Limits"], Batch]


class Limits:
    """Per-iteration limits of a policy (from the serve config)."""

    def __init__(self, max_batch: int, max_batched_tokens: int, chunk_size: int):
        self.max_batch, self.max_batched_tokens, self.chunk_size = max_batch, max_batched_tokens, chunk_size


def decodes(r: Replica, batch: Batch, scheduled: set[int]) -> None:
    """One decode step of every running request past its prefill, reserving the block its new token needs (only
    when it crosses into a new block: the common case costs no call)."""
    bs, items = r.pool.block_size, batch.items
    for req in list(r.running):
        if req.done < req.target or req.id in batch.evicted:
            continue
        kv = req.prompt + req.generated
        if -(-kv // bs) > req.blocks and not r.reserve(req, kv, batch, scheduled):
            continue
        scheduled.add(req.id)
        items.append(Item(req, 1, kv, True))


def vllm(r: Replica, lim: Limits) -> Batch:
    batch = Batch()
    r.admit_decoding(lim.max_batch)
    if not r.swapped:
        budget = lim.max_batched_tokens
        while r.waiting and len(r.running) < lim.max_batch and r.waiting[0].prefilling:
            req = r.waiting[0]
            need = req.target - req.done
            if need > budget:
                break
            blocks = r.pool.need(req.target) - req.blocks
            if blocks > r.pool.free:
                break
            r.waiting.popleft()
            r.pool.take(blocks)
            req.blocks += blocks
            r.running.append(req)
            batch.items.append(Item(req, need, req.target, False, need))
            budget -= need
        if batch.items:
            return batch
    decodes(r, batch, set())
    if not batch.preempted:
        before = len(r.running)
        r.swap_in(batch, lim.max_batch)
        for req in r.running[before:]:
            if not req.prefilling and r.reserve(req, req.kv_next, batch, {i.req.id for i in batch.items}):
                batch.items.append(Item(req, 1, req.kv_next, True))
    return batch


def sarathi(r: Replica, lim: Limits) -> Batch:
    batch = Batch()
    r.admit_decoding(lim.max_batch)
    scheduled: set[int] = set()
    decodes(r, batch, scheduled)
    if not batch.preempted:
        r.swap_in(batch, lim.max_batch)
    budget = lim.chunk_size - len(batch.items)
    for req in list(r.running):                      # ongoing (and swapped-in) prefills
        if budget <= 0:
            break
        if req.prefilling and req.id not in batch.evicted and req.id not in scheduled:
            n = min(budget, req.target - req.done)
            if r.reserve(req, req.done + n, batch, scheduled):
                scheduled.add(req.id)
                batch.items.append(Item(req, n, req.done + n, False, n))
                budget -= n
    while budget > 0 and r.waiting and len(r.running) < lim.max_batch and r.waiting[0].prefilling:
        req = r.waiting[0]
        n = min(budget, req.target - req.done)
        blocks = r.pool.need(req.done + n)
        if blocks > r.pool.free:
            break
        r.waiting.popleft()
        r.pool.take(blocks)
        req.blocks = blocks
        r.running.append(req)
        scheduled.add(req.id)
        batch.items.append(Item(req, n, req.done + n, False, n))
        budget -= n
    return batch


class Static:
    """Request-level batching with padding (state: the current batch and its step)."""

    def __init__(self) -> None:
        self.slots: list = []
        self.step = 0
        self.pad_prompt = 0

    def __call__(self, r: Replica, lim: Limits) -> Batch:
        batch = Batch()
        if self.slots and any(s.generated < s.output for s in self.slots):
            self.step += 1
            kv = self.pad_prompt + self.step
            batch.items = [Item(s, 1, kv, True) for s in self.slots]
            return batch
        for s in self.slots:
            if s in r.running:
                r.finish(s)
        self.slots, self.step = [], 0
        longest_p = longest_o = 0
        while r.waiting and len(self.slots) < lim.max_batch:
            req = r.waiting[0]
            p, o = max(longest_p, req.prompt), max(longest_o, req.output)
            if (len(self.slots) + 1) * r.pool.need(p + o) > r.pool.blocks:
                break
            r.waiting.popleft()
            self.slots.append(req)
            longest_p, longest_o = p, o
        if not self.slots:
            return batch
        per = r.pool.need(longest_p + longest_o)
        for s in self.slots:
            r.pool.take(per)
            s.blocks = per
            r.running.append(s)
        self.pad_prompt = longest_p
        batch.items = [Item(s, longest_p, longest_p, False, s.target) for s in self.slots]
        return batch


SCHEDULERS: dict[str, Callable[[], Policy]] = {
    "static": Static,
    "vllm": lambda: vllm,
    "sarathi": lambda: sarathi,
}


def scheduler(name: str, where: str = "--scheduler") -> Callable[[], Policy]:
    """The factory of the named policy (a policy may keep state, so each replica gets its own)."""
    if name not in SCHEDULERS:
        raise ConfigError(f"unknown scheduler '{name}'{did_you_mean(name, SCHEDULERS)}; {allowed(SCHEDULERS)}",
                          file=where)
    return SCHEDULERS[name]
