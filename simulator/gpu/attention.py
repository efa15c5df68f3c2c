"""Fused attention kernels: split-KV decode (flash-decoding) and flash-style prefill, MHA and GQA.

Decode (few query rows per KV head): one CTA streams a chunk of one request's K and V for one KV head (all
query heads of its group ride along, so GQA reads each KV head once). With too few (request, KV head) pairs
to fill the SMs, the KV length is split and a reduce kernel combines the partial softmaxes:

    splits s = max(1, min(ceil(2 SMs / (B Hkv)), floor(L / chunk_min)))
    CTA time = 4 latency (Q; first K tile; first V tile, issued after the scores; O store) + chunk / b_cta
    kernel   = max(waves x CTA time, KV bytes / B_hbm + 4 latency) (+ reduce kernel when s > 1)

Prefill (flash-attention forward): CTAs of BM query rows per (request, head) loop over BN-key blocks (causal:
up to the diagonal). One block costs the two MMAs, 4 BM BN d FLOP, and BM BN exponentials on the SFUs, of which
the part the kernel does not overlap with the MMAs adds:

    t_block = t_mma + (1 - overlap) t_exp,   CTA = 2 memory latencies + l2 latency + kv blocks x t_block
    kernel = max(sum of CTA work / SMs, longest CTA, bytes / B_hbm) + a fixed call time (measured)

K and V stream at the KV cache's storage width (an fp8 cache: one byte per element), Q and O at the activation
width. A KV cache narrower than the compute dtype is widened in registers on the CUDA cores (q ops per element
at the FMA-lane rate, `gemm.dequant_ops_per_element`), in series with the CTA's MMAs or its stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.gpu.machine import Machine
from simulator.lowering.ops import DTYPE_BYTES

DECODE_CHUNK_MIN = 512     # smallest KV chunk per CTA worth a split (cuDNN: no split at kv 128, split at 2048)
PREFILL_BM = 128           # query rows per CTA (sm90 flash forward)
PREFILL_BN = 128           # keys per inner block
SOFTMAX_OVERLAP = 0.5      # fraction of exp time hidden under the MMAs (FA2 none, FA3 ping-pong nearly all)
PREFILL_CALL_S = 7.0e-6    # fixed time of a PyTorch SDPA (cuDNN) prefill call beyond one kernel's launch: least-squares
                           # intercept of tests/data/gpu_h100/kernels.csv (13 causal shapes, H100), not attributed


@dataclass(frozen=True)
class AttentionPlan:
    kind: str              # "decode" or "prefill"
    ctas: int
    splits: int
    time_s: float          # kernel work without launch overhead
    hbm_bytes: float
    flops: float
    kernels: int
    bound: str


def _dequant_s(m: Machine, kv_dtype: str, dtype: str, elements: float, clock: float) -> float:
    """CUDA-core time to widen `elements` stored KV elements to the compute dtype (0 when stored as computed)."""
    if kv_dtype == dtype or DTYPE_BYTES[kv_dtype] >= DTYPE_BYTES[dtype]:
        return 0.0
    ops = m.spec.gemm.dequant_ops_per_element.get(kv_dtype, 2.0)
    return elements * ops / (m.spec.cuda_flops_per_clock_per_sm / 2 * clock)


def decode(m: Machine, batch: int, heads: int, kv_heads: int, head_dim: int, kv_len: int, kv_sum: int,
           q_len: int = 1, dtype: str = "bf16", kv_dtype: str | None = None) -> AttentionPlan:
    """Split-KV decode attention over a batch whose longest request has `kv_len` keys (total `kv_sum`); Q and O
    in `dtype`, the KV cache stored in `kv_dtype` (default `dtype`)."""
    kv_dtype = kv_dtype or dtype
    b, kb = DTYPE_BYTES[dtype], DTYPE_BYTES[kv_dtype]
    spec = m.spec
    pairs = batch * kv_heads
    splits = max(1, min(math.ceil(2 * m.sms / pairs), kv_len // DECODE_CHUNK_MIN))
    ctas = pairs * splits
    kv_bytes = 2.0 * kv_sum * kv_heads * head_dim * kb
    qo_bytes = 2.0 * batch * heads * q_len * head_dim * b
    chunk = 2.0 * math.ceil(kv_len / splits) * head_dim
    lat = spec.memory_latency
    t_cta = 4 * lat + chunk * kb / m.cta_stream_bw() + _dequant_s(m, kv_dtype, dtype, chunk, spec.light_clock)
    waves = math.ceil(ctas / (m.sms * _decode_ctas_per_sm(m, head_dim, kb)))
    t_bw = 4 * lat + (kv_bytes + qo_bytes) / m.hbm_bw
    t = max(waves * t_cta, t_bw) if waves > 1 else max(t_cta, t_bw)
    flops = 4.0 * kv_sum * heads * q_len * head_dim
    kernels = 1
    if splits > 1:
        part = batch * heads * q_len * splits * (head_dim + 2) * 4.0
        t += spec.l2_latency + part / m.l2_bw + qo_bytes / 2 / m.hbm_bw
        kernels = 2
    bound = "memory" if t_bw >= t_cta else "latency"
    return AttentionPlan("decode", ctas, splits, t, kv_bytes + qo_bytes, flops, kernels, bound)


def _decode_ctas_per_sm(m: Machine, head_dim: int, b: float) -> int:
    """Resident decode CTAs per SM, limited by shared memory (double-buffered 64-key K and V tiles)."""
    smem = 2 * 2 * 64 * head_dim * b
    return max(1, min(m.spec.max_ctas_per_sm, int(m.spec.shared_memory_per_sm // smem)))


def prefill(m: Machine, batch: int, heads: int, kv_heads: int, head_dim: int, q_len: int, kv_len: int,
            causal: bool, dtype: str = "bf16", kv_dtype: str | None = None) -> AttentionPlan:
    """Flash-attention forward of `batch` requests with `q_len` new queries attending `kv_len` keys each; Q, O
    and the MMAs in `dtype`, the KV cache stored in `kv_dtype` (default `dtype`)."""
    kv_dtype = kv_dtype or dtype
    spec = m.spec
    b, kb = DTYPE_BYTES[dtype], DTYPE_BYTES[kv_dtype]
    f = spec.clock
    rate = spec.tensor_flops_per_clock_per_sm.get(dtype, spec.tensor_flops_per_clock_per_sm.get("bf16"))
    t_mma = 4.0 * PREFILL_BM * PREFILL_BN * head_dim / (rate * f * spec.tensor_efficiency)
    t_exp = PREFILL_BM * PREFILL_BN / (spec.sfu_ops_per_clock_per_sm * f)
    t_block = t_mma + (1 - SOFTMAX_OVERLAP) * t_exp + _dequant_s(m, kv_dtype, dtype, 2.0 * PREFILL_BN * head_dim, f)
    q_blocks = math.ceil(q_len / PREFILL_BM)
    offset = kv_len - q_len                                   # queries are the last q_len positions
    qi = np.arange(q_blocks)
    if causal:
        last_key = np.minimum(kv_len, offset + (qi + 1) * PREFILL_BM)
    else:
        last_key = np.full(q_blocks, kv_len)
    kv_blocks = np.ceil(last_key / PREFILL_BN)
    t_cta = 2 * spec.memory_latency + spec.l2_latency         # Q tile and first K/V in; O normalised and stored
    per_cta = t_cta + kv_blocks * t_block
    n_ctas = batch * heads * q_blocks
    total = batch * heads * float(per_cta.sum())
    t_compute = max(total / m.sms, float(per_cta.max()))
    hbm = (2.0 * batch * heads * q_len * b + 2.0 * batch * kv_heads * kv_len * kb) * head_dim
    t_mem = hbm / m.hbm_bw
    t = max(t_compute, t_mem) + PREFILL_CALL_S
    useful = 4.0 * batch * heads * head_dim * (q_len * kv_len if not causal else
                                                 _causal_pairs(q_len, kv_len))
    return AttentionPlan("prefill", n_ctas, 1, t, hbm, useful, 1, "compute" if t_compute >= t_mem else "memory")


def _causal_pairs(q_len: int, kv_len: int) -> float:
    """Query-key pairs under a causal mask when the queries are the last q_len of kv_len positions."""
    offset = kv_len - q_len
    return q_len * offset + q_len * (q_len + 1) / 2.0
