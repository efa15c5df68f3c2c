"""Systolic-array compute cycles in closed form, for any GEMM shape and array shape (no per-cycle loop).

A GEMM C[M,N] = A[M,K] @ B[K,N] is cut into *folds*: array-sized pieces of the stationary operand.

SCALE-Sim convention (scalesim v3, `compute/systolic_compute_{os,ws,is}.py`; A = ifmap M x K, B = N filters
of length K). Each fold streams T operand rows through an R x C array, skewed on entry and drained before the
next fold starts, so one fold takes T + R + C - 2 (os) or 2R + C + T - 2 (ws, is: R extra cycles to load the
stationary tile) cycles; the report counts from cycle 0, hence the final -1:

    os: folds = ceil(M/R) ceil(N/C),  T = K,  cycles = folds (K + R + C - 2) - 1
    ws: folds = ceil(K/R) ceil(N/C),  T = M,  cycles = folds (2R + C + M - 2) - 1
    is: folds = ceil(K/R) ceil(M/C),  T = N,  cycles = folds (2R + C + N - 2) - 1

ONNXim/NeuPIMs convention (weight-stationary, ../shared/reference/neupims/README.md): a GEMM instruction
over `t` input rows has latency R + C - 2 + max(t, 4); back-to-back instructions issue every max(t, 4)
cycles; a weight preload adds R cycles of latency, overlapped with the previous instruction except into an
empty pipeline (2R - 1). So a GEMM takes (2R - 1) + sum of max(t, 4) over instructions + (R + C - 2).
For dataflows other than ws the same pipeline is applied with the operand roles of the table above.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def cdiv(a, b):
    return -(-a // b)


@dataclass(frozen=True)
class Folding:
    """How a GEMM maps onto the array: the stationary dims, the streamed length T, the number of folds."""

    folds: int
    stream: int            # T: operand rows streamed per fold
    used_rows: float       # average array rows in use over the folds
    used_cols: float


def _roles(M, N, K, dataflow: str):
    """(dim on array rows, dim on array cols, streamed dim) for a dataflow."""
    if dataflow == "os":
        return M, N, K
    if dataflow == "ws":
        return K, N, M
    if dataflow == "is":
        return K, M, N
    raise ValueError(f"unknown dataflow {dataflow!r}; allowed: is, os, ws")


def folding(M: int, N: int, K: int, rows: int, cols: int, dataflow: str) -> Folding:
    a, b, t = _roles(M, N, K, dataflow)
    fr, fc = cdiv(a, rows), cdiv(b, cols)
    return Folding(folds=fr * fc, stream=t, used_rows=a / fr, used_cols=b / fc)


def scalesim_cycles(M, N, K, rows: int, cols: int, dataflow: str):
    """Stall-free cycles as SCALE-Sim v3 reports them ('Total Cycles' with estimated bandwidth).

    Works element-wise on numpy arrays of shapes."""
    a, b, t = _roles(M, N, K, dataflow)
    folds = cdiv(a, rows) * cdiv(b, cols)
    per_fold = t + rows + cols - 2 if dataflow == "os" else 2 * rows + cols + t - 2
    return folds * per_fold - 1


def onnxim_issue_cycles(M, N, K, rows: int, cols: int, dataflow: str = "ws", *, min_rows: int = 4,
                        instr_rows: int | None = None, arrays: int = 1):
    """Steady-state cycles of an ONNXim-style GEMM: the sum of the instruction issue intervals.

    One instruction per (stationary tile, chunk of streamed rows); it occupies the arrays for
    max(ceil(t / arrays), 4) cycles (the core's `arrays` share the streamed rows, as the NeuPIMs NPU's eight
    do). Weight preloads overlap the previous tile's streaming (they add latency, not issue slots: the NeuPIMs
    calibration, stage A at 90.7 % DRAM utilisation, is only reachable that way). Element-wise."""
    a, b, t = _roles(M, N, K, dataflow)
    tiles = cdiv(a, rows) * cdiv(b, cols)
    chunk = t if instr_rows is None else np.minimum(t, instr_rows)
    full, rest = t // chunk, t % chunk
    issue = full * np.maximum(cdiv(chunk, arrays), min_rows) + np.where(rest > 0, np.maximum(cdiv(rest, arrays),
                                                                                             min_rows), 0)
    return tiles * issue


def onnxim_fill_cycles(rows: int, cols: int) -> int:
    """Latency an op pays once: the first preload into an empty pipe (2R - 1) and the drain of the last
    instruction beyond its issue interval (R + C - 2)."""
    return (2 * rows - 1) + (rows + cols - 2)


def onnxim_cycles(M, N, K, rows: int, cols: int, dataflow: str = "ws", *, min_rows: int = 4,
                  instr_rows: int | None = None):
    """Cycles of a whole GEMM from an empty pipe in the ONNXim/NeuPIMs convention. Element-wise."""
    return onnxim_fill_cycles(rows, cols) + onnxim_issue_cycles(M, N, K, rows, cols, dataflow,
                                                               min_rows=min_rows, instr_rows=instr_rows)


def compute_cycles(M, N, K, rows: int, cols: int, dataflow: str, timing: str, *, min_rows: int = 4):
    """Stall-free cycles of a whole GEMM in either convention."""
    if timing == "scalesim":
        return scalesim_cycles(M, N, K, rows, cols, dataflow)
    return onnxim_cycles(M, N, K, rows, cols, dataflow, min_rows=min_rows)


def pe_utilisation(M, N, K, rows: int, cols: int, cycles) -> float:
    """Fraction of PE-cycles doing a MAC."""
    return float(M * N * K / (rows * cols * np.maximum(cycles, 1)))


def operand_reads(M, N, K, rows: int, cols: int, dataflow: str) -> dict[str, float]:
    """Elements the array reads from the scratchpad (SRAM) and writes back, per operand.

    The stationary operand is read once per fold; the streamed operand once per fold of the other array
    dimension; in os the outputs are written once, in ws/is partial sums are read and written per K fold."""
    fr_m, fc_n, fr_k = cdiv(M, rows), cdiv(N, cols), cdiv(K, rows)
    if dataflow == "os":
        return {"a": M * K * fc_n, "b": K * N * cdiv(M, rows), "c_read": 0, "c_write": M * N}
    if dataflow == "ws":
        return {"a": M * K * fc_n, "b": K * N, "c_read": M * N * (fr_k - 1), "c_write": M * N * fr_k}
    fc_m = cdiv(M, cols)
    del fr_m
    return {"a": M * K, "b": K * N * fc_m, "c_read": M * N * (fr_k - 1), "c_write": M * N * fr_k}
