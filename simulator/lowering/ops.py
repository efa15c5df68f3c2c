"""Operators of the OpGraph: what is computed, on which shapes, with its FLOPs and bytes per tensor.

An `Op` is immutable and hashable by value, so identical work (same kind, shape, dtypes) is recognised and
simulated once. Shapes are per device shard (after tensor/pipeline partitioning).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DTYPE_BYTES: dict[str, float] = {
    "fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1, "int4": 0.5,
    # low-bit and OCP MX formats (element bits + an 8-bit scale per 32 elements): simulator/npu/formats.py
    "int2": 0.25, "int1": 0.125, "fp6": 0.75, "fp4": 0.5, "mxfp8": 8.25 / 8, "mxfp6": 6.25 / 8, "mxfp4": 4.25 / 8,
}

# What kind of unit an op needs: matrix engines, streaming matrix-vector engines, vector/SIMD, links.
OpClass = Literal["gemm", "attention", "vector", "collective", "memory"]

KINDS: dict[str, OpClass] = {
    "embedding": "memory",          # gather rows of the embedding table
    "gemm": "gemm",                 # x[M,K] @ W[K,N] (weights) or a batched activation matmul
    "attention_qk": "attention",    # Q.K^T of one request (decode: GEMV over kv_len keys)
    "attention_sv": "attention",    # S.V of one request
    "attention": "attention",       # fused flash-style attention over a batch (per-request kv lengths)
    "softmax": "vector",
    "layernorm": "vector",
    "rmsnorm": "vector",
    "rotary": "vector",
    "gelu": "vector",
    "relu": "vector",
    "silu_mul": "vector",
    "add": "vector",
    "kv_write": "memory",           # append new K/V to the cache
    "copy": "memory",               # a layout copy (transpose, concatenate)
    "moe_router": "vector",         # gate logits, top-k, routing
    "sampling": "vector",           # softmax + top-k/argmax over the vocabulary
    "all_reduce": "collective",
    "all_gather": "collective",
    "send_recv": "collective",
    "all_to_all": "collective",
}


@dataclass(frozen=True)
class Tensor:
    """One operand: its role, element count and dtype. `resident` marks weights/KV that live in memory."""

    name: str
    elements: int
    dtype: str
    resident: bool = False

    @property
    def bytes(self) -> float:
        return self.elements * DTYPE_BYTES[self.dtype]


@dataclass(frozen=True)
class Op:
    """An operator: `kind` from KINDS, a shape dict (as sorted items), FLOPs and its input/output tensors."""

    name: str
    kind: str
    shape: tuple[tuple[str, int], ...]
    flops: float
    inputs: tuple[Tensor, ...] = ()
    outputs: tuple[Tensor, ...] = ()
    dtype: str = "fp16"
    kernels: int = 1                      # kernels a GPU launches for it (implementation profile)
    strided: int = 0                      # of those, kernels on the framework's generic (non-vectorised) path
    legacy_mma: bool = False              # a GEMM the framework runs on the previous tensor-core generation's kernels
    request: int | None = None            # decode/prefill request index, for per-request ops

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown op kind {self.kind!r}")

    @property
    def op_class(self) -> OpClass:
        return KINDS[self.kind]

    @property
    def dims(self) -> dict[str, int]:
        return dict(self.shape)

    @property
    def bytes_in(self) -> float:
        return sum(t.bytes for t in self.inputs)

    @property
    def bytes_out(self) -> float:
        return sum(t.bytes for t in self.outputs)

    @property
    def bytes(self) -> float:
        """Fewest bytes that must cross memory: each input read once, each output written once."""
        return self.bytes_in + self.bytes_out

    @property
    def read_fraction(self) -> float:
        """Share of the op's memory traffic that is reads (its inputs), 1 when it moves nothing."""
        return self.bytes_in / self.bytes if self.bytes else 1.0

    @property
    def weight_bytes(self) -> float:
        return sum(t.bytes for t in self.inputs if t.resident)

    def key(self) -> tuple:
        """Identity of the work, without the name: equal keys mean equal cost on the same unit and state."""
        return (self.kind, self.shape, self.flops, self.inputs, self.outputs, self.dtype, self.kernels, self.strided,
                self.legacy_mma)


def shape(**dims: int) -> tuple[tuple[str, int], ...]:
    """A canonical (sorted, hashable) shape from keyword dimensions."""
    return tuple(sorted((k, int(v)) for k, v in dims.items()))
