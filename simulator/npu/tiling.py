"""Scratchpad tiling search for a GEMM: the tile (Tm, Tn, Tk) and loop order that fit and move fewest bytes.

Candidates are multiples of the array dimensions by powers of two, plus the full dimensions; all are scored at
once with numpy. Loop orders: with Tk = K one operand panel can stay resident while the other streams
(`m-outer`: an A panel of Tm x K stays while all of B passes; `n-outer`: a B panel K x Tn stays); otherwise
partial sums stay on chip across the k loop and both operands are re-read per output tile:

    A bytes = M K (m-outer, Tk = K)  or  M K ceil(N / Tn)
    B bytes = K N (n-outer, Tk = K)  or  K N ceil(M / Tm)
    C bytes = M N (written once, accumulated on chip)

Footprint: double-buffered operand tiles plus the accumulator tile (fp32 by default); a resident panel is held
once plus its double-buffered successor. With SCALE-Sim-style partitions each operand has its own budget.
The search minimises off-chip bytes plus the first tile's load (the one transfer compute cannot hide).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from simulator.npu.spec import Scratchpad


@dataclass(frozen=True)
class Tiling:
    tm: int
    tn: int
    tk: int
    order: str                 # "m-outer" | "n-outer" | "k-inner"
    a_bytes: float             # off-chip traffic per operand (whole GEMM)
    b_bytes: float
    c_bytes: float
    footprint: float
    fits: bool

    @property
    def dram_bytes(self) -> float:
        return self.a_bytes + self.b_bytes + self.c_bytes

    def as_dict(self) -> dict:
        return asdict(self)


def _candidates(dim: int, base: int) -> np.ndarray:
    vals = {dim}
    t = base
    while t < dim:
        vals.add(t)
        t *= 2
    return np.array(sorted(vals), dtype=np.int64)


def search(M: int, N: int, K: int, *, rows: int, cols: int, scratchpad: Scratchpad, in_bytes: float,
           out_bytes: float, acc_bytes: float, a_resident: bool = False) -> Tiling:
    """Best tiling of an M x N x K GEMM. `a_resident` marks the A operand as already on chip (no DMA)."""
    tm, tn, tk = np.meshgrid(_candidates(M, rows), _candidates(N, cols), _candidates(K, rows), indexing="ij")
    tm, tn, tk = tm.ravel(), tn.ravel(), tk.ravel()
    db = 2 if scratchpad.double_buffer else 1
    fm, fn = -(-M // tm), -(-N // tn)
    full_k = tk == K
    results = []
    for order in ("m-outer", "n-outer", "k-inner"):
        if order == "m-outer":
            a = np.full(tm.shape, M * K * in_bytes, dtype=float)
            b = K * N * in_bytes * fm
            a_buf, b_buf = tm * K * in_bytes * db, db * tk * tn * in_bytes
            valid = full_k
        elif order == "n-outer":
            a = M * K * in_bytes * fn
            b = np.full(tm.shape, K * N * in_bytes, dtype=float)
            a_buf, b_buf = db * tm * tk * in_bytes, K * tn * in_bytes * db
            valid = full_k
        else:
            a = M * K * in_bytes * fn
            b = K * N * in_bytes * fm
            a_buf, b_buf = db * tm * tk * in_bytes, db * tk * tn * in_bytes
            valid = np.ones(tm.shape, dtype=bool)
        c_buf = tm * tn * acc_bytes + (db - 1) * tm * tn * out_bytes
        if a_resident:
            a = np.zeros(tm.shape)
        if scratchpad.partitions is not None:
            p = scratchpad.partitions
            fit = (a_buf <= p.ifmap) & (b_buf <= p.filter) & (c_buf <= p.ofmap)
        else:
            fit = a_buf + b_buf + c_buf <= scratchpad.size
        traffic = a + b + M * N * out_bytes
        results.append((order, valid, fit, traffic, a, b, a_buf + b_buf + c_buf))
    best = None
    for order, valid, fit, traffic, a, b, foot in results:
        ok = valid & fit
        if not ok.any():
            continue
        # tie-break on the first load, which no compute can hide (smaller is better, but not below reuse)
        first = (tm * tk + tk * tn) * in_bytes
        key = np.where(ok, traffic + first, np.inf)
        i = int(np.argmin(key))
        cand = (float(key[i]), order, i, a, b, foot)
        if best is None or cand[0] < best[0]:
            best = cand
    if best is None:           # nothing fits: array-sized tiles, reported as not fitting
        t_m, t_n, t_k = min(M, rows), min(N, cols), min(K, rows)
        a = 0.0 if a_resident else M * K * in_bytes * math.ceil(N / t_n)
        return Tiling(t_m, t_n, t_k, "k-inner", a, K * N * in_bytes * math.ceil(M / t_m), M * N * out_bytes,
                      float(db * (t_m * t_k + t_k * t_n) * in_bytes + t_m * t_n * acc_bytes), False)
    _, order, i, a, b, foot = best
    return Tiling(int(tm[i]), int(tn[i]), int(tk[i]), order, float(a[i]), float(b[i]), float(M * N * out_bytes),
                  float(foot[i]), True)


def traffic(m, n, k, tm, tn, tk, order: str, *, in_bytes: float, out_bytes: float, acc_bytes: float,
            scratchpad: Scratchpad):
    """Off-chip bytes per operand, footprint and fit of given tiles in one loop order (element-wise over
    numpy arrays of tiles; the equations of the module docstring)."""
    db = 2 if scratchpad.double_buffer else 1
    fm, fn = -(-m // tm), -(-n // tn)
    if order == "m-outer":
        a, b = m * k * in_bytes + 0 * fm, k * n * in_bytes * fm
        a_buf, b_buf = tm * k * in_bytes * db, db * tk * tn * in_bytes
    elif order == "n-outer":
        a, b = m * k * in_bytes * fn, k * n * in_bytes + 0 * fn
        a_buf, b_buf = db * tm * tk * in_bytes, k * tn * in_bytes * db
    else:
        a, b = m * k * in_bytes * fn, k * n * in_bytes * fm
        a_buf, b_buf = db * tm * tk * in_bytes, db * tk * tn * in_bytes
    c_buf = tm * tn * acc_bytes + (db - 1) * tm * tn * out_bytes
    if scratchpad.partitions is not None:
        p = scratchpad.partitions
        fit = (a_buf <= p.ifmap) & (b_buf <= p.filter) & (c_buf <= p.ofmap)
    else:
        fit = a_buf + b_buf + c_buf <= scratchpad.size
    if order != "k-inner":
        fit = fit & (tk == k)
    return a, b, a_buf + b_buf + c_buf, fit


def fixed(m: int, n: int, k: int, tm: int, tn: int, tk: int, order: str, *, in_bytes: float, out_bytes: float,
          acc_bytes: float, scratchpad: Scratchpad) -> Tiling:
    """The Tiling of given tiles (clipped to the GEMM) in a given loop order."""
    tm, tn, tk = min(tm, m), min(tn, n), min(tk, k)
    a, b, foot, fit = traffic(m, n, k, tm, tn, tk, order, in_bytes=in_bytes, out_bytes=out_bytes,
                              acc_bytes=acc_bytes, scratchpad=scratchpad)
    return Tiling(tm, tn, tk, order, float(a), float(b), float(m * n * out_bytes), float(foot), bool(fit))
