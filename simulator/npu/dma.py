"""DMA between device memory and the scratchpad, and its overlap with compute.

All memory timing goes through `transfer_seconds`, so the analytical stream model can be swapped for the
cycle-level DRAM model in one place. Overlap (double buffering): while step i computes, step i + 1 loads, so
a run of steps with compute c_i and load d_i takes d_1 + sum_i max(c_i, d_{i+1}) + c_n + store_n; without
double buffering every step takes c_i + d_i. Steps that repeat are grouped, so the sum is a closed form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from functools import lru_cache

from simulator.memory.analytical import stream_time
from simulator.memory.dram.transaction import stream as dram_stream
from simulator.memory.spec import MemorySpec


def transfer_seconds(memory: MemorySpec, nbytes: float, *, sharers: int = 1) -> float:
    """Seconds to stream `nbytes` while `sharers` engines stream the same amount concurrently.

    DMA tiles are issued back to back by a deep queue, so a tile costs its share of the memory's streaming
    bandwidth, not a latency of its own. With a timing table that bandwidth comes from the transaction-level
    DRAM model (address mapping, bank/row state, refresh) on a long contiguous stream; without one, from the
    memory's analytical `efficiency`."""
    if nbytes <= 0:
        return 0.0
    if memory.timing is None:
        return stream_time(memory, nbytes * sharers)
    return nbytes * sharers / dram_stream_bandwidth(memory)


@lru_cache(maxsize=64)
def dram_stream_bandwidth(memory: MemorySpec) -> float:
    """Bytes/s of a 64 MiB contiguous read through the transaction-level DRAM model."""
    return dram_stream(memory, 64 << 20).bandwidth


@dataclass(frozen=True)
class Step:
    """`count` identical steps: compute cycles and DMA cycles (load of the next step) each."""

    count: float
    compute: float
    dma: float


@dataclass(frozen=True)
class Overlap:
    cycles: float
    compute: float             # stall-free compute cycles (sum of c)
    memory_stall: float        # cycles the engine waits for data
    idle: float                # fixed latencies no transfer or compute covers
    dma: float                 # cycles of DMA activity


def overlap(steps: Sequence[Step], *, first_load: float, last_store: float, double_buffer: bool,
            latency: float = 0.0) -> Overlap:
    """Total cycles of a pipeline of grouped steps (see module docstring)."""
    compute = sum(s.count * s.compute for s in steps)
    dma = sum(s.count * s.dma for s in steps)
    if not steps:
        return Overlap(first_load + last_store + latency, 0.0, first_load + last_store, latency,
                       first_load + last_store)
    if double_buffer:
        body = sum(s.count * max(s.compute, s.dma) for s in steps)
        last = steps[-1]
        body += last.compute - max(last.compute, last.dma)      # the last step has no successor to load
        total = latency + first_load + body + last_store
    else:
        total = latency + first_load + sum(s.count * (s.compute + s.dma) for s in steps) + last_store
    stall = max(0.0, total - compute - latency)
    return Overlap(total, compute, stall, latency, dma + first_load + last_store)


def stream(compute: float, dma: float, *, first: float, latency: float = 0.0, count: float = 1) -> Overlap:
    """`count` repetitions of work that consumes its operands as they stream in (fine-grained double
    buffering): each takes max(compute, transfer); the first chunk's load and the DMA latency are exposed."""
    total = latency + first + count * max(compute, dma)
    c = count * compute
    return Overlap(total, c, max(0.0, total - c - latency), latency, count * dma + first)
