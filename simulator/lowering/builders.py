"""Constructors of single ops with their FLOPs and tensors; the transformer lowering and `simulate op` share them.

FLOPs: a linear layer is 2 M N K; attention is 2 x 2 x heads x head_dim per (query, key) pair, counting only
unmasked pairs under a causal mask; vector ops cost VECTOR_FLOPS per element.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from simulator.lowering.ops import DTYPE_BYTES, Op, Tensor, shape
from simulator.lowering.profiles import PROFILES, Profile

VECTOR_FLOPS = {"rmsnorm": 4, "layernorm": 7, "rotary": 3, "silu_mul": 5, "gelu": 8, "relu": 1, "add": 1,
                "softmax": 5, "sampling": 5, "moe_router": 5, "copy": 0}


def compute_dtype(weights: str, act: str) -> str:
    """The matrix units' dtype when none is given: the wider of the two operands (activations on a tie), so
    int4 weights with bf16 activations are weight-only quantisation computed in bf16."""
    return weights if DTYPE_BYTES[weights] > DTYPE_BYTES[act] else act


def weight_scales(n: int, k: int, weights: str, compute: str, group_size: int | None) -> Tensor | None:
    """Quantisation scales of a [n, k] weight: fp8 one fp32 per tensor; integer weights computed wider
    (weight-only) one fp16 per `group_size` weights of a row (None: per row); int8 x int8 one fp32 per row."""
    if weights == "fp8":
        return Tensor("w_scale", 1, "fp32", resident=True)
    if weights not in ("int8", "int4"):
        return None
    if DTYPE_BYTES[weights] < DTYPE_BYTES[compute]:
        groups = 1 if group_size is None else -(-k // group_size)
        return Tensor("w_scale", n * groups, "fp16", resident=True)
    return Tensor("w_scale", n, "fp32", resident=True)


def gemm(name: str, m: int, n: int, k: int, *, weights: str, act: str, bias: bool = False,
         compute: str | None = None, group_size: int | None = 128, legacy_mma: bool = False) -> Op:
    """y[M,N] = x[M,K] W[N,K]^T (+ bias): a linear layer whose weights are resident in memory, stored in
    `weights`, computed in `compute` (default: `compute_dtype`); quantised weights carry their scales.
    `legacy_mma`: the framework runs it on the previous tensor-core generation's kernels."""
    compute = compute or compute_dtype(weights, act)
    inputs = [Tensor("x", m * k, act), Tensor("w", n * k, weights, resident=True)]
    scales = weight_scales(n, k, weights, compute, group_size)
    if scales is not None:
        inputs.append(scales)
    if bias:
        inputs.append(Tensor("bias", n, act, resident=True))
    return Op(name, "gemm", shape(M=m, N=n, K=k), 2.0 * m * n * k, tuple(inputs), (Tensor("y", m * n, act),),
              dtype=compute, legacy_mma=legacy_mma)


def eager_dequant_gemm(name: str, m: int, n: int, k: int, *, weights: str, act: str, compute: str,
                       bias: bool = False) -> tuple[Op, Op, Op]:
    """Weight-only quantisation in eager PyTorch, `F.linear(x, w.to(compute)) * scale`: a cast of the whole
    weight on the generic elementwise path into a transient copy in the compute dtype, a GEMM streaming that
    copy, then the per-channel scale (broadcast: generic for more than one row)."""
    cast = Op(f"{name}.dequant", "copy", shape(elements=n * k), 0.0, (Tensor("w", n * k, weights, resident=True),),
              (Tensor("w_wide", n * k, compute),), dtype=compute, strided=1)
    wide = gemm(name, m, n, k, weights=compute, act=act, bias=bias, compute=compute)
    wide = replace(wide, inputs=tuple(replace(t, resident=False) if t.name == "w" else t for t in wide.inputs))
    scale = vector(f"{name}.scale", "add", m * n, act=act, weight=n, weight_dtype=compute,
                   strided=1 if m > 1 else 0)
    return cast, wide, scale


def vector(name: str, kind: str, elements: int, *, act: str, profile: Profile = PROFILES["fused"],
           weight: int = 0, weight_dtype: str | None = None, extra_in: int = 0, dims: dict | None = None,
           strided: int = 0) -> Op:
    """An elementwise/reduction op over `elements` activations with the profile's kernels and memory passes."""
    passes = profile.passes(kind)
    inputs = [Tensor("x", int(elements * (passes - 1) + extra_in), act)]
    if weight:
        inputs.append(Tensor("w", weight, weight_dtype or act, resident=True))
    return Op(name, kind, shape(elements=elements, **(dims or {})), float(VECTOR_FLOPS.get(kind, 1) * elements),
              tuple(inputs), (Tensor("y", int(elements), act),), dtype=act, kernels=profile.kernels(kind),
              strided=strided)


def norm(name: str, kind: str, tokens: int, hidden: int, *, act: str, weights: str,
         profile: Profile = PROFILES["fused"]) -> Op:
    return vector(name, kind, tokens * hidden, act=act, profile=profile,
                  weight=hidden * (2 if kind == "layernorm" else 1), weight_dtype=weights,
                  dims={"tokens": tokens, "hidden": hidden},
                  strided=profile.strided_kernels(kind, tokens, False))


def softmax(name: str, rows: int, cols: int, *, act: str, request: int | None = None) -> Op:
    n = rows * cols
    return Op(name, "softmax", shape(rows=rows, cols=cols), float(VECTOR_FLOPS["softmax"] * n),
              (Tensor("s", n, act),), (Tensor("p", n, act),), dtype=act, request=request)


def attention_pairs(kv: np.ndarray, q: int, causal: bool) -> np.ndarray:
    """(query, key) pairs per request: q x kv, less the masked ones when the q queries are the last kv keys."""
    kv = np.asarray(kv, dtype=np.float64)
    return kv * q - (q * (q - 1) / 2 if causal else 0.0)


def attention(name: str, kv_lens: np.ndarray, q: int, causal: bool, *, heads: int, kv_heads: int, head_dim: int,
              act: str, kv: str) -> Op:
    """Fused flash-style attention over a batch of requests with per-request KV lengths."""
    kv_lens = np.asarray(kv_lens, dtype=np.int64)
    n, kv_sum = len(kv_lens), int(kv_lens.sum())
    flops = 4.0 * heads * head_dim * float(attention_pairs(kv_lens, q, causal).sum())
    return Op(name, "attention",
              shape(batch=n, heads=heads, kv_heads=kv_heads, head_dim=head_dim, q_len=q, kv_len=int(kv_lens.max()),
                    kv_sum=kv_sum, causal=int(causal)),
              flops,
              (Tensor("q", n * q * heads * head_dim, act),
               Tensor("kv_cache", 2 * kv_sum * kv_heads * head_dim, kv, resident=True)),
              (Tensor("o", n * q * heads * head_dim, act),), dtype=act)


def attention_request(name: str, request: int, kv_len: int, q: int, causal: bool, *, heads: int, kv_heads: int,
                      head_dim: int, act: str, kv: str) -> tuple[Op, Op, Op]:
    """Unfused attention of one request: Q.K^T, softmax, S.V (GEMVs in decode)."""
    dims = shape(heads=heads, kv_heads=kv_heads, head_dim=head_dim, q_len=q, kv_len=kv_len, causal=int(causal))
    pairs = float(attention_pairs(np.array([kv_len]), q, causal)[0])
    scores = heads * q * kv_len
    qk = Op(f"{name}.qk[{request}]", "attention_qk", dims, 2.0 * heads * head_dim * pairs,
            (Tensor("q", q * heads * head_dim, act), Tensor("k_cache", kv_len * kv_heads * head_dim, kv, resident=True)),
            (Tensor("s", scores, act),), dtype=act, request=request)
    sm = softmax(f"{name}.softmax[{request}]", heads * q, kv_len, act=act, request=request)
    sv = Op(f"{name}.sv[{request}]", "attention_sv", dims, 2.0 * heads * head_dim * pairs,
            (Tensor("p", scores, act), Tensor("v_cache", kv_len * kv_heads * head_dim, kv, resident=True)),
            (Tensor("o", q * heads * head_dim, act),), dtype=act, request=request)
    return qk, sm, sv


def collective(name: str, kind: str, nbytes: float, devices: int, *, act: str) -> Op:
    return Op(name, kind, shape(bytes=int(nbytes), devices=devices), 0.0, dtype=act)
