"""The paged KV cache of one replica (vLLM's PagedAttention block manager): fixed-size blocks of tokens in the
device memory left after the weights, and host swap space for preempted requests.

    bytes per token per device = 2 (K, V) x kv_heads / tp x head_dim x dtype bytes x layers / pp
    blocks = floor((memory_fraction x capacity - weights / (tp pp)) / (block_size x bytes per token))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.errors import ConfigError
from simulator.lowering.ops import DTYPE_BYTES
from simulator.quantity import fmt
from simulator.workload.spec import Workload


def kv_bytes_per_token(workload: Workload) -> float:
    """KV bytes one token occupies on one device (its tensor-parallel shard of its pipeline stage's layers)."""
    s, m = workload.spec, workload.model
    kv_heads = max(1, m.n_kv_heads // s.tp)
    return 2 * kv_heads * m.d_head * DTYPE_BYTES[s.dtype.kv] * workload.layers / s.pp


def weight_bytes(workload: Workload) -> float:
    s = workload.spec
    return workload.model.params * DTYPE_BYTES[s.dtype.weights] / (s.tp * s.pp)


@dataclass
class BlockPool:
    """Free and used KV blocks of one replica, and the host blocks holding swapped-out requests."""

    blocks: int
    block_size: int
    host_blocks: int
    used: int = 0
    host_used: int = 0
    peak: int = 0

    @property
    def free(self) -> int:
        return self.blocks - self.used

    def need(self, tokens: int) -> int:
        return -(-tokens // self.block_size)

    def take(self, n: int) -> None:
        if n > self.free:
            raise RuntimeError(f"KV pool over-committed: {n} blocks asked, {self.free} free")
        self.used += n
        self.peak = max(self.peak, self.used)

    def give(self, n: int) -> None:
        self.used -= n


def plan_blocks(workload: Workload, capacity: float, *, memory_fraction: float, block_size: int,
                swap_bytes: float, longest: int, where: str) -> BlockPool:
    """The block pool of a replica whose devices have `capacity` bytes; a ConfigError when one request of
    `longest` tokens cannot fit."""
    per_token = kv_bytes_per_token(workload)
    free = memory_fraction * capacity - weight_bytes(workload)
    blocks = max(0, math.floor(free / (block_size * per_token)))
    if blocks * block_size < longest:
        raise ConfigError(
            f"the KV cache holds {blocks * block_size} tokens ({fmt(max(free, 0.0), 'size')} left of "
            f"{fmt(memory_fraction * capacity, 'size')} after {fmt(weight_bytes(workload), 'size')} of weights per "
            f"device), fewer than one request's {longest}; allowed: a group whose devices hold the weights and at "
            f"least {longest} tokens of KV (raise tp, memory_fraction or use a larger device)", file=where, key="kv")
    return BlockPool(blocks, block_size, int(swap_bytes // (block_size * per_token)))
