"""Attention mappings on an NPU beside today's flash model: unfused, FLAT-style and a FuseMax-style cascade.

Per request and KV head the work is QK = Q K^T (array), softmax (vector units; FuseMax may put part of the
exponent on the array) and SV = P V (array). The three mappings differ in what overlaps and what goes off chip:

- unfused: QK writes S to DRAM, softmax reads S and writes P, SV reads P; the three ops run one after another,
  each overlapping its own DMA: T = sum over ops of max(compute, DMA).
- FLAT (Kao et al., ASPLOS 2023): a block of Br query rows keeps its full score rows (Br x L) on chip, so S never
  leaves the chip, but the stages still run in sequence on the block (the array idles during the softmax):
  T = max(T_qk + T_softmax + T_sv, DMA). Br shrinks as L grows (its buffer scales with L), so K and V are re-read
  ceil(g q / Br) times; when not one score row fits, S spills to DRAM as in the unfused mapping.
- FuseMax (Nayak et al., MICRO 2024): a one-pass (online-softmax) cascade of einsums over K/V tiles, pipelined so
  that the array runs QK of tile j+1 and SV of tile j-1 while the vector units take the running max of tile j;
  the row sum l = P 1 is one more column of the SV einsum, the division moves to the end (once per output
  element, not per score), and the subtract-and-exponent of a fraction f of the scores runs on the array PEs
  (EXP_MACS + 1 MAC slots each) to balance the two engines (V_0: max, rescale, division; V_exp = 2 E / lanes):
      A = T_qk + T_sv (1 + 1/d) + f E (EXP_MACS + 1) / P,   V = V_0 + (1 - f) V_exp,   f balances A and V
      T = max(max(A, V) + (A + V) / tiles, DMA)     (one tile of each engine exposed at the pipeline ends)
  Its buffers are independent of L (one K/V tile beside a Q tile and its accumulator).
Equations and parameters: docs/npu.md.
"""

from __future__ import annotations

import math

from simulator.lowering.ops import DTYPE_BYTES, Op
from simulator.npu import dma as dma_mod
from simulator.npu.vector import vector_cycles

CASCADES = ("unfused", "flat", "fusemax")
# Array MAC slots per exponent when FuseMax computes exp on a PE: range reduction + a cubic polynomial in Horner
# form (4 multiply-adds) [assumption; FuseMax maps the exponent onto its 2-D array's PEs, MICRO 2024 Sec. 5]
EXP_MACS = 4
KV_TILE = 512            # keys per K/V tile, as the flash model (simulator/npu/model.py)


def _shape(op: Op) -> dict:
    d = op.dims
    heads, hd = d.get("heads", 1), d["head_dim"]
    kvh = d.get("kv_heads", heads)
    q, nreq = d.get("q_len", 1), d.get("batch", 1)
    kv_sum = d.get("kv_sum", d["kv_len"] * nreq)
    full = 4.0 * heads * hd * q * kv_sum
    return {"heads": heads, "kvh": kvh, "hd": hd, "q": q, "nreq": nreq, "kv_sum": kv_sum,
            "kv": max(1, round(kv_sum / nreq)), "g": max(1, heads // kvh),
            "causal": min(1.0, op.flops / full) if op.flops and full else 1.0, "full_flops": full}


def cascade(model, op: Op, kind: str) -> dict:
    """Plan (for `NpuModel._finish`) of fused attention `op` mapped as `kind` (unfused, flat or fusemax), with
    per-stage busy cycles and utilisations under `tiling.stages`."""
    if kind not in CASCADES:
        raise ValueError(f"unknown attention cascade {kind!r}; allowed: {', '.join(CASCADES)}")
    s, sh = model.spec, _shape(op)
    b = DTYPE_BYTES[op.dtype]
    acc = s.systolic.accumulator_bytes
    heads, hd, g, q, kv, c = sh["heads"], sh["hd"], sh["g"], sh["q"], sh["kv"], sh["causal"]
    groups = sh["kvh"] * sh["nreq"]
    qk = model.gemm(g * q, kv, hd, op.dtype, batch=groups, label="qk")
    sv = model.gemm(g * q, hd, kv, op.dtype, batch=groups, label="sv")
    t_qk, t_sv = qk.detail["compute_cycles"] * c, sv.detail["compute_cycles"] * c
    scores = heads * q * sh["kv_sum"] * c                     # E: unmasked scores over all requests
    rows = heads * q * sh["nreq"]
    lanes = s.vector.lanes * s.vector.units * s.cores         # vector elements per cycle
    pes = s.systolic.pes * s.cores
    macs = (qk.counts.get(f"mac.{op.dtype}", 0) + sv.counts.get(f"mac.{op.dtype}", 0)) * c
    q_bytes = sh["nreq"] * q * heads * hd * b
    kv_bytes = sum(t.bytes for t in op.inputs if t.resident) or 2 * sh["kv_sum"] * sh["kvh"] * hd * b
    kv_tile = 2 * 2 * min(kv, KV_TILE) * hd * b               # K and V tiles, double-buffered
    sram = s.scratchpad.size
    stages: dict[str, float] = {"qk": t_qk, "sv": t_sv}
    array_exp = 0.0
    if kind == "fusemax":
        tq = max(1, int((sram - kv_tile) // (hd * (b + acc))))
        rereads = math.ceil(g * q / tq)
        tiles = math.ceil(g * q / tq) * math.ceil(kv / KV_TILE) * groups
        v_exp = 2 * scores / lanes                            # subtract the running max, exponent
        v_max = scores / lanes                                # running max (a reduction: vector units only)
        v_rescale = rows * math.ceil(kv / KV_TILE) * (hd + 2) / lanes   # O, m and l rescaled per K/V tile
        v_div = rows * hd / lanes                             # O / l once at the end
        t_sum = t_sv / hd                                     # l = P 1: one more column of the SV einsum
        v0, a0 = v_max + v_rescale + v_div, t_qk + t_sv + t_sum
        per_exp = (EXP_MACS + 1) / pes
        f = min(1.0, max(0.0, (v0 + v_exp - a0) / (v_exp + scores * per_exp)))
        array_exp = f * scores * per_exp
        a, v = a0 + array_exp, v0 + (1 - f) * v_exp
        compute = max(a, v) + (a + v) / max(tiles, 1)
        stages.update({"exp": (1 - f) * v_exp + array_exp, "max": v_max, "sum": t_sum, "rescale": v_rescale,
                       "division": v_div})
        dram = q_bytes * 2 + kv_bytes * rereads
        detail = {"exp_on_array": f, "q_tile_rows": tq, "kv_rereads": rereads, "tiles": tiles,
                  "buffer_bytes": kv_tile + tq * hd * (b + acc)}
        vector_ops = scores * (1 + 2 * (1 - f)) + rows * math.ceil(kv / KV_TILE) * (hd + 2) + rows * hd
    else:
        sm = vector_cycles(s.vector, "softmax", scores, kv)
        t_sm = sm.cycles / s.cores
        stages["softmax"] = t_sm
        vector_ops = sm.lane_ops
        br = int((sram - kv_tile) // (kv * b + hd * (b + acc))) if kind == "flat" else 0
        spill = kind == "unfused" or br < 1
        s_bytes = 4 * scores * b if spill else 0.0            # S written and read, P written and read
        rereads = 1 if spill else math.ceil(g * q / br)
        dram = q_bytes * 2 + kv_bytes * rereads + s_bytes
        detail = {"q_tile_rows": br, "kv_rereads": rereads, "scores_spilled": spill,
                  "buffer_bytes": kv_tile + max(br, 0) * (kv * b + hd * (b + acc))}
        if kind == "unfused":
            parts = ((t_qk, q_bytes + kv_bytes / 2 + scores * b), (t_sm, 2 * scores * b),
                     (t_sv, scores * b + kv_bytes / 2 + q_bytes))
            compute = t_qk + t_sm + t_sv
            total = sum(max(cc, model._dma_cycles(nb, 1)) for cc, nb in parts) + s.dma.latency
        else:
            compute = t_qk + t_sm + t_sv
    dma = model._dma_cycles(dram, 1)
    first = model._dma_cycles(min(dram, kv_tile), 1)
    if kind == "unfused":
        ov = dma_mod.Overlap(total, compute, max(0.0, total - compute - s.dma.latency), s.dma.latency, dma)
    else:
        ov = dma_mod.stream(compute, dma, first=first, latency=s.dma.latency)
    util = {k: v / ov.cycles for k, v in stages.items()}
    util["array"] = (t_qk + t_sv + stages.get("sum", 0.0) + array_exp) / ov.cycles
    util["pe_macs"] = macs / (pes * max(s.macs_per_pe.values()) * ov.cycles)
    return {
        "mapping": f"{kind}[{qk.detail['mapping']}]", "cycles": ov.cycles, "compute_cycles": ov.compute,
        "memory_stall_cycles": ov.memory_stall, "idle_cycles": ov.idle, "cores_used": s.cores,
        "dram_bytes": dram, "sram_read_bytes": dram + vector_ops * b, "sram_write_bytes": dram,
        "macs": macs + array_exp * pes, "vector_ops": vector_ops, "pe_cycles": ov.cycles * pes,
        "tiling": {**detail, "kv_len_avg": kv, "requests": sh["nreq"], "stages": stages,
                   "stage_utilisation": util, "q_k_v_o_bytes": 2 * q_bytes + kv_bytes},
        "dtype": op.dtype,
    }
