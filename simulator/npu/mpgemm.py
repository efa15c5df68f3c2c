"""Mixed-precision GEMM (low-bit weights, wider activations) on three PE kinds: dequantise-then-MAC, bit-serial
and LUT-based (LUT Tensor Core, Mo et al., ISCA 2025, arXiv 2408.06003).

All three run on the array geometry of the NPU, as a GEMM whose reduction length is what one PE steps through:

    mac (dequantise):  K_eff = K              at the activation format's MAC rate; the weights are converted
                                              (convert + scale: 2 vector ops per weight) on every pass
    bitserial:         K_eff = K b_w          one weight bit per PE per cycle (cycles scale with the bits)
    lut:               K_eff = ceil(K/g) b_w  one lookup-and-add per PE per cycle; a lookup covers g weights' bits

LUT tables: for each activation row and group of g activations, the 2^(g-1) signed sums of the group (LUT Tensor
Core's symmetrisation halves 2^g), built by one add each on the vector units (incremental order); a table stays
in the scratchpad for all N columns of the core (the table is broadcast along N: the elongated tile), so

    precompute adds = used cores x M x ceil(K/g) x 2^(g-1),   table bytes per core = Tm x ceil(K/g) x 2^(g-1) x a
    table reuse (lookups per built entry) = n b_w / 2^(g-1)

Traffic: an A panel of Tm rows (and, for lut, its tables) stays on chip while the weights stream in tiles of
k_c x C (k_c: the largest multiple of the array rows whose double-buffered tile takes at most a quarter of the
scratchpad), so the weights are read ceil(m / Tm) times; weights move at their storage size (b_w / 8 bytes per element, MX scales included).
Time: T = latency + first load + exposed first table + max(array, vector, DMA). Equations: docs/npu.md.
"""

from __future__ import annotations

import math

from simulator.errors import ConfigError
from simulator.lowering.ops import DTYPE_BYTES, Op
from simulator.npu import dma as dma_mod
from simulator.npu import systolic
from simulator.npu.formats import bits

DEQUANT_OPS = 2          # vector ops per dequantised weight: integer/minifloat -> activation format, scale multiply


def operands(op: Op | None) -> tuple[str, str] | None:
    """(weight dtype, activation dtype) of a GEMM op: its resident input and its other input."""
    if op is None:
        return None
    w = next((t.dtype for t in op.inputs if t.resident), None)
    a = next((t.dtype for t in op.inputs if not t.resident), None)
    return (w, a) if w and a else None


def array_cycles(spec, M: int, N: int, K: int) -> float:
    """Stall-free array cycles of an M x N x K GEMM of PE steps on one core (either timing convention)."""
    arr = spec.systolic
    if arr.timing == "scalesim":
        return float(systolic.scalesim_cycles(M, N, K, arr.rows, arr.cols, arr.dataflow))
    return float(systolic.onnxim_fill_cycles(arr.rows, arr.cols) + systolic.onnxim_issue_cycles(
        M, N, K, arr.rows, arr.cols, arr.dataflow, min_rows=arr.min_tile_rows, arrays=arr.arrays))


def plan(model, M: int, N: int, K: int, w: str, a: str, *, batch: int = 1, pe: str | None = None) -> dict:
    """Plan (for `NpuModel._finish`) of `batch` M x N x K GEMMs with `w` weights and `a` activations."""
    s, arr = model.spec, model.spec.systolic
    pe = pe or s.pe
    if a not in s.macs_per_pe and pe == "mac":
        raise ConfigError(f"this NPU has no {a} MACs for the activations; supported: "
                          f"{', '.join(sorted(s.macs_per_pe))}", key=f"{model.name}.macs_per_pe")
    bw, g = bits(w), s.lut_group
    a_b, w_b, acc = DTYPE_BYTES[a], DTYPE_BYTES[w], arr.accumulator_bytes
    m, n, used = model._core_split(M, N)
    groups = math.ceil(K / g)
    entries = 2 ** (g - 1)
    k_eff = {"mac": K, "bitserial": K * bw, "lut": groups * bw}[pe]
    rate = s.macs_per_pe[a] if pe == "mac" else 1.0
    array = array_cycles(s, m, n, k_eff) / rate * batch
    db = 2 if s.scratchpad.double_buffer else 1
    dequant = pe == "mac" and w != a
    per_k = db * arr.cols * (w_b + (a_b if dequant else 0))              # weight tile (+ its dequantised copy)
    kc = min(K, max(arr.rows, int(s.scratchpad.size / 4 // per_k) // arr.rows * arr.rows))   # K chunk: <= 1/4 SRAM
    fixed = per_k * kc
    per_row = K * a_b * db + arr.cols * acc + (groups * entries * a_b if pe == "lut" else 0)
    tm = max(1, min(m, int((s.scratchpad.size - fixed) // per_row)))
    passes = math.ceil(m / tm)
    lanes = s.vector.lanes * s.vector.units
    vector_ops = 0.0
    detail: dict = {"pe": pe, "weight_bits": bw, "k_eff": k_eff, "a_rows_resident": tm, "weight_passes": passes,
                    "fits": fixed + per_row * tm <= s.scratchpad.size}
    if dequant:
        vector_ops = DEQUANT_OPS * K * n * passes * batch
    if pe == "lut":
        vector_ops = m * groups * entries * batch
        detail.update({"lut_group": g, "table_entries": m * groups * entries * used * batch,
                       "table_bytes": tm * groups * entries * a_b, "table_reuse": n * bw / entries,
                       "table_precompute_adds": vector_ops * used})
    vector = vector_ops / lanes
    exposed = vector / passes if pe == "lut" else 0.0                      # the first M tile's tables
    weights = K * n * w_b * passes * batch
    per_core = weights + (m * K + m * n) * a_b * batch
    dma = model._dma_cycles(per_core, used)
    first = model._dma_cycles(tm * K * a_b + kc * min(n, arr.cols) * w_b, used)
    ov = dma_mod.stream(max(array, vector), dma, first=first + exposed, latency=s.dma.latency)
    pe_ops = float(M) * N * k_eff * batch
    action = {"mac": f"mac.{a}", "bitserial": f"bitserial.step.{a}", "lut": f"lut.lookup.{a}"}[pe]
    detail.update({"bytes_weights": weights * used, "array_cycles": array, "vector_cycles": vector,
                   "per_core_shape": [m, n, K], "batch": batch})
    return {
        "mapping": f"{pe}[{w}x{a}]-{arr.dataflow}", "cycles": ov.cycles, "compute_cycles": ov.compute,
        "memory_stall_cycles": ov.memory_stall, "idle_cycles": ov.idle, "cores_used": used,
        "dram_bytes": per_core * used, "sram_read_bytes": (per_core + vector_ops * a_b) * used,
        "sram_write_bytes": (per_core + (vector_ops * a_b if pe == "lut" else 0)) * used,
        "macs": pe_ops, "mac_action": action, "vector_ops": vector_ops * used,
        # PE-local registers: operands and the partial sum pass from PE to PE as in a MAC array (energy.py)
        "reg_bytes": pe_ops * ((2 * a_b if pe == "mac" else a_b) + acc),
        "pe_cycles": ov.cycles * arr.pes * s.cores, "tiling": detail, "dtype": a,
    }
