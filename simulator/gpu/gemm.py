"""GEMM as a CUTLASS-like tiled kernel: CTA tiles, split-K, waves over SMs, a load/MMA pipeline, L2 reuse.

out[M, N] = x[M, K] . W[N, K]^T. For every candidate (BM, BN) tile and split-K factor S (numpy, vectorised):

    tiles   = ceil(M/BM) ceil(N/BN);  CTAs = tiles S;  waves = ceil(CTAs / SMs)
    k-iterations per CTA  I = ceil(ceil(K/S) / BK)
    one iteration of c concurrent CTAs:
        t_it(c) = max( 2 BM BN BK / (F_sm f eff)               tensor cores (a padded tile costs in full)
                       c (m + n/cl) BK b / B_L2                  L2 -> SM traffic (m = min(BM, M); a cluster of
                                                                 cl CTAs along M multicasts one B tile)
                       latency / (stages - 1) )                  pipeline cannot run ahead further
    main loop  T_waves = (waves - 1) I t_it(SMs) + I t_it(CTAs in the last wave)
    HBM        T_hbm = (A r_A + B r_B + C + split-K partials) / B_hbm,
               r = 1 when the operand stays in L2, else how often the wave raster re-reads it
    kernel     T = max(T_waves, T_hbm) + T_dq + DRAM latency (pipeline fill) + epilogue + split-K reduce kernel

Number formats: A (activations, a bytes) and B (weights, w bytes) stream at their storage widths; the tensor
cores run at the compute dtype's rate. Weight-only quantisation (weights narrower than the compute dtype, e.g.
int4 weights with bf16 activations) adds, per k-iteration of a CTA, the dequantisation of its B tile on the
CUDA cores (q instructions per element at the FMA-lane rate L x f: unpack, convert, scale). The mixed-input
kernels measured (gpt-fast int8 / int4 on A100) behave as if that work does not overlap their weight stream,
so it adds in series, per SM over the CTAs it runs:

        T_dq = waves x I x n BK q / (L f)          (stream-K: its k-iterations per SM)
        BK = gemm.bk x c / w                          (a stage holds the bytes of a full-width stage)
        B bytes = N K w + scales (one per quantisation group),  scale reads ride along the B stream

The tile choice is cuBLAS-like: the candidate with the least modelled time (cuBLAS's heuristic ranks kernels
by a performance model of the same kind). Power cap: the tensor clock is the mean clock over the kernel's
duration (`GpuSpec.tensor_clock`). N not a multiple of 8 (a row of the output not 16-byte aligned) falls back to
an alignment-1 kernel whose operand loads are element-wise: t_it >= (m + n) BK / (unaligned rate x f); a
single-row GEMM (M = 1) is a GEMV and keeps the vector path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.errors import ConfigError, allowed
from simulator.gpu import power
from simulator.gpu.machine import Machine
from simulator.lowering.ops import DTYPE_BYTES


@dataclass(frozen=True)
class GemmPlan:
    """The chosen kernel and its time split (seconds)."""

    bm: int
    bn: int
    split_k: int
    ctas: int
    waves: int
    stages: int
    clock: float
    time_s: float          # kernel time without launch overhead
    t_mainloop: float
    t_hbm: float
    t_fill: float
    t_epilogue: float
    t_reduce: float        # split-K reduce kernel work (its launch is counted in `kernels`)
    hbm_bytes: float
    l2_bytes: float
    kernels: int
    bound: str
    slow_path: bool


def _candidates(m: Machine, mixed: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(BM, BN, S) of every candidate kernel; S = 0 marks the stream-K (persistent, even K-split) variant. Mixed-
    input (weight-only) kernels also tile M by `gemm.weight_only_bm` rows (m16 MMA fragments)."""
    g = m.spec.gemm
    tiles = list(g.tiles)
    if mixed:
        tiles += [(g.weight_only_bm, bn) for bn in sorted({bn for _, bn in g.tiles})]
    tiles = np.array(tiles, dtype=float)
    splits = np.array(list(g.split_k) + ([0] if g.stream_k else []), dtype=float)
    bm = np.repeat(tiles[:, 0], len(splits))
    bn = np.repeat(tiles[:, 1], len(splits))
    s = np.tile(splits, len(tiles))
    return bm, bn, s


@dataclass(frozen=True)
class Formats:
    """Storage widths of a GEMM's operands and the dequantisation its weights need (bytes per element)."""

    a: float                   # activations (A operand)
    w: float                   # weights (B operand), storage
    scale_bytes: float = 0.0   # all the weights' quantisation scales
    dequant_ops: float = 0.0   # CUDA-core ops per weight element (0: the tensor cores take the weights as stored)
    k_depth: float = 1.0       # stage depth along K relative to `gemm.bk` (c / w for weight-only kernels)


def formats(m: Machine, compute: str, act: str | None = None, weights: str | None = None,
            scale_bytes: float = 0.0) -> Formats:
    """The operand formats of a GEMM computing in `compute` on `act` activations and `weights` weights."""
    c = DTYPE_BYTES[compute]
    a = DTYPE_BYTES[act or compute]
    w_name = weights or compute
    w = DTYPE_BYTES[w_name]
    if w_name == compute or w >= c:
        return Formats(a, w, scale_bytes)
    ops = m.spec.gemm.dequant_ops_per_element.get(w_name)
    if ops is None:
        raise ConfigError(f"no dequantisation cost for {w_name!r} weights computed in {compute!r} on this GPU; "
                          f"{allowed(m.spec.gemm.dequant_ops_per_element)}", key="gemm.dequant_ops_per_element")
    return Formats(a, w, scale_bytes, ops, c / w)


def _evaluate(m: Machine, M: int, N: int, K: int, dtype: str, out_dtype: str, clock: float,
              cand: tuple[np.ndarray, np.ndarray, np.ndarray], fmt: Formats | None = None,
              rate: float = 1.0) -> dict[str, np.ndarray]:
    spec, g = m.spec, m.spec.gemm
    bm, bn, s = cand
    fmt = fmt or Formats(DTYPE_BYTES[dtype], DTYPE_BYTES[dtype])
    ab, wb, ob = fmt.a, fmt.w, DTYPE_BYTES[out_dtype]
    bk = g.bk * fmt.k_depth                                # a stage holds as many weight bytes as at full width
    mt, nt = np.ceil(M / bm), np.ceil(N / bn)
    sk = s == 0                                            # stream-K candidates
    s = np.where(sk, 1.0, s)
    k_slice = np.ceil(K / s)
    valid = (s == 1) | (k_slice >= g.min_k_per_split)
    kit = np.ceil(k_slice / bk)
    ctas = mt * nt * s
    # stream-K: one persistent CTA per SM takes an even share of all tiles' k-iterations (no wave quantisation)
    sk_iters = np.ceil(mt * nt * kit / m.sms)
    valid &= ~sk | (mt * nt * kit > m.sms * 4)
    stage_bytes = (bm * ab + bn * wb) * bk
    stages = np.minimum(g.max_stages, np.floor(spec.shared_memory_per_sm / stage_bytes))
    valid &= stages >= 2
    stages = np.maximum(stages, 2)
    waves = np.ceil(ctas / m.sms)
    last = ctas - (waves - 1) * m.sms
    rows, cols = np.minimum(bm, M), np.minimum(bn, N)     # TMA does not fetch out-of-bounds rows

    flops_sm = spec.tensor_flops_per_clock_per_sm[dtype] * clock * spec.tensor_efficiency * rate
    t_mma = 2 * bm * bn * bk / flops_sm
    load = (rows * ab + cols * wb) * bk
    l2_load = (rows * ab + cols * wb / g.cluster) * bk    # TMA multicast: a cluster shares one B tile
    t_lat = spec.memory_latency / (stages - 1)
    slow = (N % 8 != 0) and M > 1
    if slow:
        t_mma = np.maximum(t_mma, (rows + cols) * bk / (spec.unaligned_elements_per_clock_per_sm * clock))

    def t_it(c: np.ndarray) -> np.ndarray:
        return np.maximum(np.maximum(t_mma, c * l2_load / m.l2_bw), t_lat)

    t_waves = (waves - 1) * kit * t_it(np.minimum(ctas, m.sms)) + kit * t_it(last)
    # weight-only quantisation: each SM widens its CTAs' B tiles on the CUDA cores, in series with the stream
    t_dq = cols * bk * fmt.dequant_ops / (spec.cuda_flops_per_clock_per_sm / 2 * clock)
    t_dq = np.where(sk, sk_iters, waves * kit) * t_dq
    l2_bytes = ctas * kit * l2_load                        # every CTA's k-iterations (before stream-K's fold)
    t_waves = np.where(sk, sk_iters * t_it(np.full_like(ctas, m.sms)), t_waves)
    waves = np.where(sk, 1.0, waves)
    ctas = np.where(sk, np.minimum(ctas, m.sms), ctas)

    # HBM traffic with L2 reuse: a wave covers about wm x wn output tiles (swizzled raster)
    a_bytes, b_bytes = M * K * ab, N * K * wb + fmt.scale_bytes
    per_wave = np.minimum(ctas, m.sms) / s
    wm = np.clip(np.round(np.sqrt(per_wave)), 1, mt)
    wn = np.clip(np.floor(per_wave / wm), 1, nt)
    r_a = 1.0 if m.fits_l2(a_bytes) else np.ceil(nt / wn)
    r_b = 1.0 if m.fits_l2(b_bytes) else np.ceil(mt / wm)
    partials = np.where(s > 1, s * M * N * 4.0, 0.0)      # split-K partial sums in fp32
    partials_l2 = partials + M * N * ob <= 0.5 * spec.l2_size
    c_bytes = np.where(s > 1, 0.0, M * N * ob)
    hbm_main = a_bytes * r_a + b_bytes * r_b + c_bytes + np.where(partials_l2, 0.0, partials)
    t_hbm = hbm_main / (m.hbm_bw * g.tile_access_efficiency)

    t_fill = g.cta_setup + spec.memory_latency + load / m.cta_stream_bw()
    tile_out = bm * bn * np.where(s > 1, 4.0, ob)
    t_epi = spec.l2_latency + tile_out / (m.l2_bw / m.sms)
    t_epi = np.where(sk, 3 * t_epi, t_epi)                 # stream-K fix-up: partial tiles through the workspace
    # split-K: a separate reduce kernel reads the S partials (from L2 when they fit) and writes C
    red_bw = np.where(partials_l2, m.l2_bw, m.hbm_bw)
    red_lat = np.where(partials_l2, spec.l2_latency, spec.memory_latency)
    t_red = np.where(s > 1, red_lat + (partials + M * N * ob) / red_bw, 0.0)
    hbm = hbm_main + np.where(s > 1, M * N * ob + np.where(partials_l2, 0.0, partials), 0.0)
    total = np.maximum(t_waves, t_hbm) + t_dq + t_fill + t_epi + t_red
    rank = np.where(valid, total + np.where(s > 1, spec.launch_overhead, 0.0), np.inf)
    return dict(bm=bm, bn=bn, s=np.where(sk, 0.0, s), ctas=ctas, waves=waves, stages=stages, total=total,
                rank=rank, t_waves=t_waves, t_hbm=t_hbm, t_fill=np.broadcast_to(t_fill, total.shape), t_epi=t_epi,
                t_red=t_red, hbm=hbm, l2=l2_bytes, slow=np.full(total.shape, slow))


def _limit_clock(m: Machine, M: int, N: int, K: int, dtype: str, r: dict[str, np.ndarray], i: int) -> float | None:
    """SM clock at which candidate i's board power meets the power limit (None: no limit or no energies)."""
    spec = m.spec
    e = spec.energy
    if spec.power_limit is None or f"mac.{dtype}" not in e:
        return None
    t = float(max(r["t_waves"][i], r["t_hbm"][i]))
    sm_w = power.dynamic_power(e, {f"mac.{dtype}": float(M) * N * K, "sram.byte": float(r["l2"][i])}, t)
    mem_w = float(r["hbm"][i]) * 8 * m.hbm_j_per_bit / t
    return power.limit_clock(spec.power_limit, spec.static_power, sm_w, mem_w, spec.clock)


def plan_gemm(m: Machine, M: int, N: int, K: int, dtype: str = "bf16", out_dtype: str | None = None,
              fmt: Formats | None = None, legacy: bool = False) -> GemmPlan:
    """The fastest candidate kernel for x[M,K] . W[N,K]^T computed in `dtype` and its modelled time (no launch
    overhead); `fmt` gives the operands' storage formats when they differ from the compute dtype; `legacy`: the
    kernel is the previous tensor-core generation's (`legacy_mma_fraction` of the rate)."""
    rate = m.spec.legacy_mma_fraction if legacy else 1.0
    if min(M, N, K) <= 0:
        raise ValueError(f"GEMM dims must be positive, got M={M} N={N} K={K}")
    if dtype not in m.spec.tensor_flops_per_clock_per_sm:
        raise ConfigError(f"no tensor-core rate for dtype {dtype!r} on this GPU; "
                          f"{allowed(m.spec.tensor_flops_per_clock_per_sm)}", key="dtype")
    out_dtype = out_dtype or ("bf16" if DTYPE_BYTES[dtype] < 2 else dtype)
    cand = _candidates(m, fmt is not None and fmt.dequant_ops > 0)
    clock = m.spec.clock
    r = _evaluate(m, M, N, K, dtype, out_dtype, clock, cand, fmt, rate)
    if m.spec.power_cap is not None or m.spec.power_limit is not None:
        i = int(np.argmin(r["rank"]))
        clock = m.spec.tensor_clock(float(r["t_waves"][i]), _limit_clock(m, M, N, K, dtype, r, i))
        r = _evaluate(m, M, N, K, dtype, out_dtype, clock, cand, fmt, rate)
    i = int(np.argmin(r["rank"]))
    t_main = max(r["t_waves"][i], r["t_hbm"][i])
    s = int(r["s"][i])                  # 0 = stream-K
    bound = "memory" if r["t_hbm"][i] >= r["t_waves"][i] else "compute"
    return GemmPlan(bm=int(r["bm"][i]), bn=int(r["bn"][i]), split_k=s, ctas=int(r["ctas"][i]),
                    waves=int(r["waves"][i]), stages=int(r["stages"][i]), clock=clock,
                    time_s=float(r["total"][i]), t_mainloop=float(t_main), t_hbm=float(r["t_hbm"][i]),
                    t_fill=float(r["t_fill"][i]), t_epilogue=float(r["t_epi"][i]), t_reduce=float(r["t_red"][i]),
                    hbm_bytes=float(r["hbm"][i]), l2_bytes=float(r["l2"][i]), kernels=2 if s > 1 else 1,
                    bound=bound, slow_path=bool(r["slow"][i]))
