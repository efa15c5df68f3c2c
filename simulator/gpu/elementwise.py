"""Elementwise, reduction and normalisation kernels: bandwidth plus latency plus launch.

An op is a list of kernels (the implementation profile decides how many: a fused RMSNorm is one kernel, the
HF-style eager one with its fp32 upcast is eight). Each kernel is either

    map:        t = latency + bytes / min(B, CTAs x b_cta)                       (grid-stride streaming)
    row-reduce: one CTA per row; a pass over a row of `cols` takes ceil(cols / (threads x vector)) dependent
                load round trips:  t_row = passes x iterations x latency;
                t = max(waves x t_row, latency + bytes / B)

B is the sustained HBM bandwidth, or the L2 bandwidth for intermediates that one kernel of the op writes and
the next reads while they fit in half the L2. Launch overhead is added by the caller per kernel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.gpu.machine import Machine
from simulator.lowering.ops import DTYPE_BYTES

THREADS = 512          # threads of a streaming CTA (PyTorch elementwise: 128 x 4 elements; reductions: up to 1024)
ROW_THREADS = 1024     # threads of a row-per-CTA reduction (PyTorch softmax / norm over a long row)
VECTOR_BYTES = 16      # one vectorised load per thread per iteration
GENERIC_BLOCK = 512    # threads of a generic reduction block


@dataclass(frozen=True)
class Kernel:
    """One kernel of an op: bytes it reads and writes, and, for a row reduction, its rows, columns and passes."""

    read: float
    write: float
    rows: int = 0
    cols: int = 0
    passes: int = 1
    elem_bytes: float = 2.0
    intermediate: bool = False      # reads what the previous kernel of the same op wrote
    row_threads: int = 0            # threads per row; 0 = generic reduction rule (see `threads_per_row`)

    @property
    def bytes(self) -> float:
        return self.read + self.write


def kernel_time(m: Machine, k: Kernel) -> float:
    """Work time of one kernel (launch overhead excluded)."""
    in_l2 = k.intermediate and m.fits_l2(k.bytes)
    if k.rows:
        lat = m.spec.memory_latency
        vec = max(1.0, VECTOR_BYTES / k.elem_bytes)
        threads = k.row_threads or threads_per_row(k.rows)
        threads = min(threads, max(32, 32 * math.ceil(k.cols / vec / 32)))
        iters = math.ceil(k.cols / (threads * vec))
        t_row = k.passes * iters * lat
        per_sm = max(1, m.spec.max_threads_per_sm // threads)
        waves = math.ceil(k.rows / (m.sms * per_sm))
        t_bw = lat + k.bytes / m.bandwidth(in_l2)
        return max(waves * t_row, t_bw) + (t_bw - lat if waves == 1 else 0.0)
    ctas = max(1.0, k.bytes / (THREADS * VECTOR_BYTES * 2))
    return m.stream_time(k.bytes, ctas, in_l2)


def threads_per_row(rows: int) -> int:
    """Generic reduction kernel (PyTorch's reduce): a 512-thread block spans up to 16 rows, at least a warp each,
    so few rows get many threads and many rows get one warp each."""
    rows_per_block = min(16, 1 << max(0, (rows - 1).bit_length()))
    return max(32, GENERIC_BLOCK // rows_per_block)


def rmsnorm_kernels(tokens: int, hidden: int, dtype: str, kernels: int, layer: bool = False) -> list[Kernel]:
    """The kernels of an RMSNorm / LayerNorm implementation with `kernels` launches.

    1: fused (serving engines, torch.compile): read x and weight, write y in one pass over rows held in registers.
    2: two-pass (PyTorch F.rms_norm): a row reduction writing the statistics, then an apply kernel reading x again.
    8: HF eager with fp32 upcast: to(fp32), pow, mean, add eps, rsqrt, mul, to(bf16), mul weight.
    other: the fused traffic spread over that many kernels, each materialising one intermediate.
    """
    b = DTYPE_BYTES[dtype]
    n = float(tokens) * hidden
    w = hidden * b * (2 if layer else 1)
    if kernels == 1:
        return [Kernel(n * b + w, n * b, rows=tokens, cols=hidden, passes=1, elem_bytes=b,
                       row_threads=ROW_THREADS)]
    if kernels == 2:
        return [Kernel(n * b, tokens * 4.0, rows=tokens, cols=hidden, passes=1, elem_bytes=b, row_threads=ROW_THREADS),
                Kernel(n * b + tokens * 4.0 + w, n * b, intermediate=True)]     # x again: from L2 if it fits
    if kernels == 8 and not layer:
        f = 4.0
        return [Kernel(n * b, n * f),                                             # to(fp32)
                Kernel(n * f, n * f, intermediate=True),                          # pow(2)
                Kernel(n * f, tokens * f, rows=tokens, cols=hidden, elem_bytes=f, intermediate=True),  # mean
                Kernel(tokens * f, tokens * f, intermediate=True),                # + eps
                Kernel(tokens * f, tokens * f, intermediate=True),                # rsqrt
                Kernel(n * f + tokens * f, n * f, intermediate=True),             # x * rstd
                Kernel(n * f, n * b, intermediate=True),                          # to(bf16)
                Kernel(n * b + w, n * b, intermediate=True)]                      # * weight
    return split_kernels((kernels - 1) * 2 * n * b + n * b + w, n * b, kernels)


def split_kernels(read: float, write: float, kernels: int) -> list[Kernel]:
    """An op of `kernels` unfused kernels whose total traffic (intermediates included) is read + write bytes:
    an even share per kernel; every kernel after the first reads what an earlier one wrote."""
    k = max(1, kernels)
    return [Kernel(read / k, write / k, intermediate=i > 0) for i in range(k)]


def softmax_kernels(rows: int, cols: int, dtype: str, out_dtype: str | None = None) -> list[Kernel]:
    """Row softmax (PyTorch-style, one CTA per row): max pass, sum-of-exp pass, normalise-and-write pass."""
    b = DTYPE_BYTES[dtype]
    ob = DTYPE_BYTES[out_dtype or dtype]
    n = float(rows) * cols
    passes = 3 + (1 if ob > b else 0)      # a wider output needs twice the store iterations
    # HBM traffic is one read and one write; passes 2 and 3 re-read the row from L2 but pay its latency
    return [Kernel(n * b, n * ob, rows=rows, cols=cols, passes=passes, elem_bytes=b, row_threads=ROW_THREADS)]
