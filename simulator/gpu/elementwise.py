"""Elementwise, reduction and normalisation kernels: bandwidth plus latency plus launch.

An op is a list of kernels (the implementation profile decides how many: a fused RMSNorm is one kernel, the
HF-style eager one with its fp32 upcast is eight). Each kernel is either

    map:        t = latency + bytes / min(B, CTAs x b_cta)                       (grid-stride streaming)
    row-reduce: one CTA per row; a pass over a row of `cols` takes ceil(cols / (threads x vector)) load round
                trips, dependent except that a generic reduction keeps 4 in flight per thread (PyTorch's
                Reduce.cuh, vt0 = 4): t_row = passes x ceil(iterations / ilp) x latency;
                t = max(waves x t_row, latency + bytes / B)

B is the sustained HBM bandwidth, or the L2 bandwidth for intermediates that one kernel of the op writes and
the next reads while they fit in half the L2. The op's first kernel reads what the op before it just wrote:
its first loads hit in L2 (latency = L2 latency when the input fits in half the L2), its stream runs at B.
Launch overhead is added by the caller per kernel.

PyTorch's own norm kernel (`vectorized_layer_norm_kernel`, F.rms_norm / F.layer_norm) is one row-per-CTA kernel
of 128 threads with 4-element loads and no unrolling (one load in flight per thread), in three steps: a pass that
sums x^2 (each of its `i = cols / 512` iterations waits for its load: latency l1, the L2 latency when x was just
written and fits, else the DRAM latency), a block reduction (5 warp shuffles, 2 shared-memory rounds behind
barriers, a broadcast: `NORM_REDUCE_STEPS` on-SM round trips of latency s = `shared_memory_latency`), and a pass
that re-reads x (from L1) and the weight (from L2) and writes y (latency l2 per iteration). Each iteration also
waits one on-SM round trip for its dependent arithmetic:

    norm:       t_row = i (l1 + s) + NORM_REDUCE_STEPS s + i (l2 + s);   t = waves x t_row + bytes / B

where bytes are x read once and y written once (the second read stays on chip); the bandwidth time adds to the
latency chain because one load per thread cannot hide the queueing behind it.

A framework's generic elementwise kernel (PyTorch's `elementwise_kernel` / `unrolled_elementwise_kernel`, taken
when an operand is strided, broadcast or cast) computes every operand's offset per element and loads scalars,
so it is bound by instructions, not bytes, and starts slower (its offset calculators are kernel parameters):

    strided:    t = setup + max(t_map, latency + n / (min(SMs, n / 512) x r x f))

n elements, r elements per SM clock (`strided_elements_per_clock_per_sm`), f the light-load SM clock, 512
elements per 128-thread CTA (4 per thread), setup = `strided_kernel_setup`.
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
REDUCE_ILP = 4         # loads in flight per thread of a generic reduction (PyTorch Reduce.cuh: vt0 = 4)
GENERIC_CTA_ELEMENTS = 512  # elements per CTA of a generic elementwise kernel (128 threads x 4)
NORM_THREADS = 128     # PyTorch's vectorized_layer_norm_kernel: a 32 x 4 block per row
NORM_VECTOR = 4        # elements per load of that kernel (aligned_vector<T, 4>)
NORM_REDUCE_STEPS = 16  # its block reduction: 5 shuffles, 2 x (store, barrier, load, barrier), store-barrier-load,
                        # plus the rsqrt and the stats store: on-SM round trips in one dependent chain


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
    strided: float = 0.0            # elements, when the kernel takes the generic (non-vectorised) path
    warm: bool = True               # its input was just written by the op before it (in L2 if it fits)
    norm: bool = False              # PyTorch's two-pass row norm kernel (see the module docstring)

    @property
    def bytes(self) -> float:
        return self.read + self.write


def kernel_time(m: Machine, k: Kernel) -> float:
    """Work time of one kernel (launch overhead excluded)."""
    in_l2 = k.intermediate and m.fits_l2(k.bytes)
    warm = k.warm and m.fits_l2(k.bytes)
    if k.norm:
        return norm_kernel_time(m, k, warm)
    if k.rows:
        lat = m.spec.memory_latency
        vec = max(1.0, VECTOR_BYTES / k.elem_bytes)
        threads = k.row_threads or threads_per_row(k.rows)
        threads = min(threads, max(32, 32 * math.ceil(k.cols / vec / 32)))
        iters = math.ceil(k.cols / (threads * vec))
        if not k.row_threads:               # generic reduction: each thread keeps REDUCE_ILP loads in flight
            iters = math.ceil(iters / REDUCE_ILP)
        t_row = k.passes * iters * lat
        per_sm = max(1, m.spec.max_threads_per_sm // threads)
        waves = math.ceil(k.rows / (m.sms * per_sm))
        t_bw = lat + k.bytes / m.bandwidth(in_l2)
        return max(waves * t_row, t_bw) + (t_bw - lat if waves == 1 else 0.0)
    ctas = max(1.0, k.bytes / (THREADS * VECTOR_BYTES * 2))
    t = m.stream_time(k.bytes, ctas, in_l2, warm)
    r = m.spec.strided_elements_per_clock_per_sm
    if k.strided and r:
        lat = m.latency(in_l2 or warm)
        rate = min(m.sms, max(1.0, k.strided / GENERIC_CTA_ELEMENTS)) * r * m.spec.light_clock
        t = m.spec.strided_kernel_setup + max(t, lat + k.strided / rate)
    return t


def norm_kernel_time(m: Machine, k: Kernel, warm: bool) -> float:
    """PyTorch's row-per-CTA norm kernel: two dependent load chains around a block reduction, then the stream;
    `warm`: x was just written and fits in half the L2."""
    s = m.spec
    iters = math.ceil(k.cols / (NORM_THREADS * NORM_VECTOR))
    first = m.latency(warm)
    step = s.shared_memory_latency
    t_row = iters * (first + step) + NORM_REDUCE_STEPS * step + iters * (s.l2_latency + step)
    per_sm = min(s.max_ctas_per_sm, max(1, s.max_threads_per_sm // NORM_THREADS))
    waves = math.ceil(k.rows / (m.sms * per_sm))
    return waves * t_row + k.bytes / m.hbm_bw


def threads_per_row(rows: int) -> int:
    """Generic reduction kernel (PyTorch's reduce): a 512-thread block spans up to 16 rows, at least a warp each,
    so few rows get many threads and many rows get one warp each."""
    rows_per_block = min(16, 1 << max(0, (rows - 1).bit_length()))
    return max(32, GENERIC_BLOCK // rows_per_block)


def rmsnorm_kernels(tokens: int, hidden: int, dtype: str, kernels: int, layer: bool = False,
                    strided: int = 0) -> list[Kernel]:
    """The kernels of an RMSNorm / LayerNorm implementation with `kernels` launches.

    1: fused (serving engines, torch.compile): read x and weight, write y in one pass over rows held in registers.
    2: PyTorch's F.rms_norm / F.layer_norm: ONE kernel (`vectorized_layer_norm_kernel`) making two passes over
       each row (statistics, then x re-read on chip to apply them); "2" names the passes, it launches one kernel.
    8: HF eager with fp32 upcast: to(fp32), pow, mean, add eps, rsqrt, mul, to(bf16), mul weight; `strided` of
       them take the generic elementwise path, in the order cast, x * rstd (broadcast), * weight (broadcast).
    other: the fused traffic spread over that many kernels, each materialising one intermediate.
    """
    b = DTYPE_BYTES[dtype]
    n = float(tokens) * hidden
    w = hidden * b * (2 if layer else 1)
    if kernels == 1:
        return [Kernel(n * b + w, n * b, rows=tokens, cols=hidden, passes=1, elem_bytes=b,
                       row_threads=ROW_THREADS)]
    if kernels == 2:                        # HBM: x once, the weight, y and the per-row statistics (mean, rstd)
        return [Kernel(n * b + w, n * b + tokens * 8.0, rows=tokens, cols=hidden, passes=2, elem_bytes=b,
                       norm=True)]
    if kernels == 8 and not layer:
        f = 4.0
        g = [n if strided > i else 0.0 for i in range(3)]
        return [Kernel(n * b, n * f, strided=g[0]),                               # to(fp32)
                Kernel(n * f, n * f, intermediate=True),                          # pow(2)
                Kernel(n * f, tokens * f, rows=tokens, cols=hidden, elem_bytes=f, intermediate=True),  # mean
                Kernel(tokens * f, tokens * f, intermediate=True),                # + eps
                Kernel(tokens * f, tokens * f, intermediate=True),                # rsqrt
                Kernel(n * f + tokens * f, n * f, intermediate=True, strided=g[1]),  # x * rstd (broadcast)
                Kernel(n * f, n * b, intermediate=True),                          # to(bf16)
                Kernel(n * b + w, n * b, intermediate=True, strided=g[2])]        # * weight (broadcast)
    return split_kernels((kernels - 1) * 2 * n * b + n * b + w, n * b, kernels)


def split_kernels(read: float, write: float, kernels: int, strided: int = 0, elements: float = 0.0) -> list[Kernel]:
    """An op of `kernels` unfused kernels whose total traffic (intermediates included) is read + write bytes:
    an even share per kernel; every kernel after the first reads what an earlier one wrote. The first `strided`
    kernels take the generic elementwise path over `elements` elements each."""
    k = max(1, kernels)
    return [Kernel(read / k, write / k, intermediate=i > 0, strided=elements if i < strided else 0.0)
            for i in range(k)]


def softmax_kernels(rows: int, cols: int, dtype: str, out_dtype: str | None = None) -> list[Kernel]:
    """Row softmax (PyTorch-style, one CTA per row): max pass, sum-of-exp pass, normalise-and-write pass."""
    b = DTYPE_BYTES[dtype]
    ob = DTYPE_BYTES[out_dtype or dtype]
    n = float(rows) * cols
    passes = 3 + (1 if ob > b else 0)      # a wider output needs twice the store iterations
    # HBM traffic is one read and one write; passes 2 and 3 re-read the row from L2 but pay its latency
    return [Kernel(n * b, n * ob, rows=rows, cols=cols, passes=passes, elem_bytes=b, row_threads=ROW_THREADS)]
