"""Elementwise, reduction and normalisation kernels: bandwidth plus latency plus launch.

An op is a list of kernels (the implementation profile decides how many: a fused RMSNorm is one kernel, the
HF-style eager one with its fp32 upcast is eight). Each kernel is either

    map:        t = pass = latency + max(DRAM bytes / B_hbm, bytes / min(B_L2, CTAs x b_cta))   (grid-stride)
    row kernel: one CTA per row (a fused norm); its pass over a row of `cols` takes ceil(cols / (threads x vector))
                dependent load round trips: t_row = iterations x latency; t = max(waves x t_row,
                latency + transfer)
    softmax:    one CTA per row, bound by its SM's lanes (`compute_row_time`)
    reduce:     PyTorch's generic reduction with its launch rule (`reduce_config`, `reduce_kernel_time`)

Where a kernel's operands are is a fraction h (`residency`, `Machine.residency`): what an earlier kernel of the
same op wrote, or what the op before it left (in a step), is in L2 while the kernel's bytes fit in half the L2,
partly up to the whole L2; a benchmark cycling through input sets (`Machine.rotation`) adds their bytes to the
working set. A kernel's time is h t(in L2) + (1 - h) t(in DRAM): in L2 the first loads take the L2 latency
and no byte crosses DRAM; in DRAM they take `idle_memory_latency` and every byte crosses it (the writes as
write-back of the lines the stream evicts). Launch overhead is added by the caller per kernel.

PyTorch's own norm kernel (`vectorized_layer_norm_kernel`, F.rms_norm / F.layer_norm) is one row-per-CTA kernel
of 128 threads with 4-element loads and no unrolling (one load in flight per thread), in three steps: a pass that
sums x^2 (each of its `i = cols / 512` iterations waits for its load: first-load latency l1), a block reduction
(5 warp shuffles, 2 shared-memory rounds behind barriers, a broadcast: `NORM_REDUCE_STEPS` on-SM round trips of
latency s = `shared_memory_latency`), and a pass that re-reads x and the weight (from L2) and writes y (latency
l2 per iteration). Each iteration also waits one on-SM round trip for its dependent arithmetic:

    norm:       t_row = i (l1 + s) + NORM_REDUCE_STEPS s + i (l2 + s)
                t = max(waves x t_row + bytes / B_L2, pass)        waves over NORM_CTAS_PER_SM CTAs per SM

PyTorch's vectorised SiLU kernel evaluates expf and an IEEE division per element (`activation` elements):

    silu:       t = max(pass, latency + n ACT_OPS / (min(SMs, n / 1024) x 128 x f)) + 8 ACT_CHAIN / f

A framework's generic elementwise kernel (PyTorch's `elementwise_kernel` / `unrolled_elementwise_kernel`, taken
when an operand is strided, broadcast or cast) computes every operand's offset per element and loads scalars,
so it is bound by instructions, not bytes, and starts slower (its offset calculators are kernel parameters):

    strided:    t = setup + max(t_map, latency + n / (min(SMs, n / 512) x r x f))

n elements, r elements per SM clock (`strided_elements_per_clock_per_sm`), f the light-load SM clock, 512
elements per 128-thread CTA (4 per thread), setup = `strided_kernel_setup`. Measurements behind the constants:
tests/data/gpu_h100/smallops.csv (docs/gpu.md).
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
REDUCE_STEPS = 3       # on-SM steps per iteration of the generic reduction's loop besides its load (bounds check,
                       # index update, the adds); REDUCE_TAIL: its block and warp combine. smallops.csv and the step
REDUCE_TAIL = 32       # traces: HF RMSNorm's mean over 16-1024 rows of 4096 (32 iterations) takes 8.9 us CUPTI =
                       # 32 x (150 + 3 x 25 ns) + 32 x 25 ns + 0.85 us start; 8 rows (16 iterations) 5.1 us
GENERIC_CTA_ELEMENTS = 512  # elements per CTA of a generic elementwise kernel (128 threads x 4)
NORM_THREADS = 128     # PyTorch's vectorized_layer_norm_kernel: a 32 x 4 block per row
NORM_VECTOR = 4        # elements per load of that kernel (aligned_vector<T, 4>)
ACT_OPS = 28           # instructions per element of PyTorch's SiLU kernel beyond moving it; ACT_CHAIN: dependent
ACT_CHAIN = 175        # cycles per element (expf's MUFU.EX2 and FMA chain, MUFU.RCP and Newton steps of the
                       # division): smallops.csv, F.silu vs a copy over 11008 x 256 (+1.18 us) and one row (+0.77)
ACT_THREAD_ELEMENTS = 8  # elements per thread of PyTorch's vectorised kernel (one 16-byte bf16 vector)
ACT_CTA_ELEMENTS = 1024  # its 128-thread CTA's elements
SOFTMAX_OPS = 73       # lane instructions per element of PyTorch's softmax (two expf, three passes): smallops.csv,
                       # a row of 32000 takes 9.2 us on its SM after launch, bf16 and fp32 alike, two rows 18.4
NORM_CTAS_PER_SM = 8   # its resident CTAs per SM: smallops.csv, 4096 rows of 4096 take 28.5 us = 4 waves of 1056
NORM_REDUCE_STEPS = 16  # its block reduction: 5 shuffles, 2 x (store, barrier, load, barrier), store-barrier-load,
                        # plus the rsqrt and the stats store: on-SM round trips in one dependent chain


@dataclass(frozen=True)
class Kernel:
    """One kernel of an op: bytes it reads and writes, and, for a row kernel, its rows and columns."""

    read: float
    write: float
    rows: int = 0
    cols: int = 0
    elem_bytes: float = 2.0
    intermediate: bool = False      # reads what the previous kernel of the same op wrote
    row_threads: int = 0            # threads per row of a row-per-CTA kernel; 0 = PyTorch's generic reduction
    strided: float = 0.0            # elements, when the kernel takes the generic (non-vectorised) path
    norm: bool = False              # PyTorch's two-pass row norm kernel (see the module docstring)
    activation: float = 0.0         # elements of PyTorch's precise-math SiLU (expf and an IEEE division)
    row_ops: float = 0.0            # instructions per element of a row-per-CTA kernel bound by one SM's lanes

    @property
    def bytes(self) -> float:
        return self.read + self.write


def kernel_time(m: Machine, k: Kernel) -> float:
    """Work time of one kernel (launch overhead excluded): its operands in L2 for the fraction `residency` of
    calls, in DRAM for the rest."""
    h = residency(m, k)
    if h in (0.0, 1.0):
        return _kernel_time(m, k, h == 1.0)
    return h * _kernel_time(m, k, True) + (1.0 - h) * _kernel_time(m, k, False)


def residency(m: Machine, k: Kernel) -> float:
    """Fraction of a kernel's operands in L2 (`Machine.residency`): its working set is its own bytes when it reads
    what the kernel or op before it just wrote, else the benchmark's rotated input sets plus its outputs."""
    footprint = k.bytes if k.intermediate else max(m.rotation, k.read) + k.write
    return m.residency(footprint)


def dram_bytes(m: Machine, k: Kernel) -> float:
    """Bytes a kernel moves across DRAM (what an op writes for a later kernel of the same op stays in L2)."""
    h = residency(m, k)
    if k.intermediate and h == 1.0:
        return 0.0
    return h * m.dram_bytes(k.read, k.write, True) + (1.0 - h) * m.dram_bytes(k.read, k.write, False)


def _kernel_time(m: Machine, k: Kernel, in_l2: bool) -> float:
    if k.norm:
        return norm_kernel_time(m, k, in_l2)
    if k.rows and not k.row_threads:
        return reduce_kernel_time(m, k, in_l2)
    if k.rows and k.row_ops:
        return compute_row_time(m, k, in_l2)
    if k.rows:
        lat = m.spec.memory_latency
        vec = max(1.0, VECTOR_BYTES / k.elem_bytes)
        threads = min(k.row_threads, max(32, 32 * math.ceil(k.cols / vec / 32)))
        iters = math.ceil(k.cols / (threads * vec))
        t_row = iters * lat
        per_sm = max(1, m.spec.max_threads_per_sm // threads)
        waves = math.ceil(k.rows / (m.sms * per_sm))
        t_bw = lat + transfer(m, k, in_l2)
        return max(waves * t_row, t_bw) + (t_bw - lat if waves == 1 else 0.0)
    t = m.stream_time(k.read, k.write, _ctas(k), in_l2)
    if k.activation:
        f = m.spec.light_clock
        lanes = min(m.sms, math.ceil(k.activation / ACT_CTA_ELEMENTS)) * m.spec.cuda_flops_per_clock_per_sm / 2
        t = max(t, m.latency(in_l2) + k.activation * ACT_OPS / (lanes * f)) + ACT_THREAD_ELEMENTS * ACT_CHAIN / f
    r = m.spec.strided_elements_per_clock_per_sm
    if k.strided and r:
        lat = m.latency(in_l2)
        rate = min(m.sms, max(1.0, k.strided / GENERIC_CTA_ELEMENTS)) * r * m.spec.light_clock
        t = m.spec.strided_kernel_setup + max(t, lat + k.strided / rate)
    return t


def compute_row_time(m: Machine, k: Kernel, in_l2: bool) -> float:
    """A row-per-CTA kernel whose row's work binds one SM's lanes (PyTorch's softmax): each SM takes its rows in
    turn; a row costs its instructions and its first pass's chain of loads (L2, or DRAM under load):

        t = max(ceil(rows / SMs) x (cols x row_ops / (128 f) + iterations x latency), pass)"""
    s = m.spec
    vec = max(1.0, VECTOR_BYTES / k.elem_bytes)
    iters = math.ceil(k.cols / (min(k.row_threads, s.max_threads_per_sm) * vec))
    lanes = s.cuda_flops_per_clock_per_sm / 2
    row = k.cols * k.row_ops / (lanes * s.light_clock) + iters * (s.l2_latency if in_l2 else s.memory_latency)
    return max(math.ceil(k.rows / m.sms) * row, m.stream_time(k.read, k.write, k.rows, in_l2))


def norm_kernel_time(m: Machine, k: Kernel, in_l2: bool) -> float:
    """PyTorch's row-per-CTA norm kernel: two dependent load chains around a block reduction, then the stream;
    `in_l2`: x is in L2 (just written, and it fits)."""
    s = m.spec
    iters = math.ceil(k.cols / (NORM_THREADS * NORM_VECTOR))
    first = m.latency(in_l2)
    step = s.shared_memory_latency
    t_row = iters * (first + step) + NORM_REDUCE_STEPS * step + iters * (s.l2_latency + step)
    waves = math.ceil(k.rows / (m.sms * NORM_CTAS_PER_SM))
    return max(waves * t_row + k.bytes / m.l2_bw, m.stream_time(k.read, k.write, _ctas(k), in_l2))


def _ctas(k: Kernel) -> float:
    """CTAs of a grid-stride streaming kernel (THREADS threads, one VECTOR_BYTES load each, two iterations)."""
    return max(1.0, k.bytes / (THREADS * VECTOR_BYTES * 2))


def transfer(m: Machine, k: Kernel, in_l2: bool) -> float:
    """The bandwidth part of a kernel's streaming pass (its first-load latency excluded)."""
    return m.stream_time(k.read, k.write, _ctas(k), in_l2) - m.latency(in_l2)


def reduce_config(rows: int, cols: int, sms: int, max_threads: int) -> tuple[int, int, int, int]:
    """PyTorch's launch rule for a reduction over the last, contiguous dimension (Reduce.cuh, setReduceConfig):
    (threads per block, rows per block, CTAs per row, vector loads per thread). Rows of more than 128 elements
    are read as 4-element vectors; a block is up to 512 threads, a warp wide along the row and up to 16 rows
    tall; its warps share one row instead when a thread would hold at least 16 values per row of the block (or
    256 or more), and CTAs share a row when a thread would still hold 256 or more."""
    vec = 4 if cols > 128 else 1
    dim0 = 1 << (max(1, cols // vec).bit_length() - 1)
    dim1 = 1 << (max(1, rows).bit_length() - 1)
    width = min(dim0, GENERIC_BLOCK, 32)
    height = min(dim1, GENERIC_BLOCK, GENERIC_BLOCK // width)
    width = min(dim0, GENERIC_BLOCK, GENERIC_BLOCK // height)
    step, per_block, ctas = width, height, 1
    values = math.ceil(cols / step)                          # per thread
    if values >= height * 16 or values >= 256:
        step, per_block = step * height, 1
        values = math.ceil(cols / step)
        if values >= 256:
            target = sms * (max_threads // (width * height))     # blocks the GPU holds at once
            ctas = max(min(math.ceil(target / rows), math.ceil(values / 16)), math.ceil(values / 256))
            step *= ctas
    return width * height, per_block, ctas, math.ceil(cols / (step * vec))


def reduce_kernel_time(m: Machine, k: Kernel, in_l2: bool) -> float:
    """PyTorch's generic reduction (`reduce_kernel`): each thread walks its share of a row one vector load at a
    time (the vectorised loop does not overlap its loads), then the block combines the partial sums:

        t = waves x (iterations x (latency + REDUCE_STEPS s) + REDUCE_TAIL s),   at least the stream

    latency the L2 hit, or `memory_latency` from DRAM (the loaded figure: every thread has a load out)."""
    s = m.spec
    threads, per_block, ctas, iters = reduce_config(k.rows, k.cols, m.sms, s.max_threads_per_sm)
    blocks = math.ceil(k.rows / per_block) * ctas
    per_sm = min(s.max_ctas_per_sm, max(1, s.max_threads_per_sm // threads))
    waves = math.ceil(blocks / (m.sms * per_sm))
    lat = s.l2_latency if in_l2 else s.memory_latency
    step = s.shared_memory_latency
    chain = iters * (lat + REDUCE_STEPS * step) + REDUCE_TAIL * step
    return max(waves * chain, m.stream_time(k.read, k.write, blocks, in_l2))


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
        return [Kernel(n * b + w, n * b, rows=tokens, cols=hidden, elem_bytes=b, row_threads=ROW_THREADS)]
    if kernels == 2:                        # HBM: x once, the weight, y and the per-row statistics (mean, rstd)
        return [Kernel(n * b + w, n * b + tokens * 8.0, rows=tokens, cols=hidden, elem_bytes=b, norm=True)]
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


def split_kernels(read: float, write: float, kernels: int, strided: int = 0, elements: float = 0.0,
                  activation: float = 0.0) -> list[Kernel]:
    """An op of `kernels` unfused kernels whose total traffic (intermediates included) is read + write bytes:
    an even share per kernel; every kernel after the first reads what an earlier one wrote. The first `strided`
    kernels take the generic elementwise path over `elements` elements each; the first kernel evaluates
    `activation` elements of PyTorch's SiLU."""
    k = max(1, kernels)
    return [Kernel(read / k, write / k, intermediate=i > 0, strided=elements if i < strided else 0.0,
                   activation=activation if i == 0 else 0.0) for i in range(k)]


def softmax_kernels(rows: int, cols: int, dtype: str, out_dtype: str | None = None) -> list[Kernel]:
    """Row softmax (PyTorch's `cunn_SoftMaxForward`, one CTA per row): max, sum of exp, normalise and write, bound
    by one SM's lanes per row. A wider output dtype (torch.softmax(x, dtype=float32)) first casts the input on the
    generic elementwise path, then runs the softmax in the output dtype (two kernels: smallops.csv)."""
    b = DTYPE_BYTES[dtype]
    ob = DTYPE_BYTES[out_dtype or dtype]
    n = float(rows) * cols
    wide = ob > b
    e = max(b, ob)                          # the softmax reads its input in the wider dtype after the cast
    softmax = Kernel(n * e, n * ob, rows=rows, cols=cols, elem_bytes=e, row_threads=ROW_THREADS, intermediate=wide,
                     row_ops=SOFTMAX_OPS)
    return [Kernel(n * b, n * ob, strided=n), softmax] if wide else [softmax]
