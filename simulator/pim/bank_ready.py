"""Readiness helpers of the command-level PIM kernel (bank_kernel.py): the tFAW window, open PIM rows, a normal
read's arrival, the data bus around READRES data, and when a G_ACT may issue. Numba kernels like the event loop that
calls them (simulator/memory/dram/_jit.py); P is bank_kernel.PARAMS' parameter vector.
"""

from __future__ import annotations

import numpy as np

from simulator.memory.dram._jit import kernel

INF = np.int64(1) << np.int64(62)
NEG = -(np.int64(1) << np.int64(40))


@kernel
def _faw_push(ring, r, k, t):
    """Record k activations at t in rank r's window of the last four (ascending)."""
    for _ in range(k):
        for j in range(3):
            ring[r, j] = ring[r, j + 1]
        ring[r, 3] = t


@kernel
def _any_open(prow, b0, n):
    """Whether any of banks b0 .. b0 + n - 1 holds an open PIM row."""
    for b in range(b0, b0 + n):
        if prow[b] != 0:
            return True
    return False


@kernel
def _arrival(i, r_arr, r_op, otime):
    """Arrival of normal read i: absolute, or (r_op >= 0) relative to that op's first issue (INF before it)."""
    k = r_op[i]
    if k < 0:
        return r_arr[i]
    if otime[k] == NEG:
        return INF
    return otime[k] + r_arr[i]


@kernel
def _clear_of(x, w0, w1, burst):
    """First data-bus start >= x whose burst overlaps neither READRES window [w, w + burst)."""
    for _ in range(2):
        if x < w0 + burst and x + burst > w0:
            x = w0 + burst
        if x < w1 + burst and x + burst > w1:
            x = w1 + burst
    return x


@kernel
def _gact_ready(j, carg, base, P, prow, p_pre, n_pre, n_act, nrow, g_act, ring, ref_done, ref_phase, ref_rank,
                qptr, qend, r_arr, r_op, otime):
    """Earliest issue cycle of the G_ACT command j (INF while a bank of its group is not free for PIM)."""
    bgs, bpg, rp, rc, faw, rfc = P[2], P[3], P[5], P[8], P[9], P[10]
    blocked, k, pim_act, all_bank, rrd_l, nb = P[19], P[23], P[24], P[26], P[29], P[31]
    gi = carg[j]
    r = gi // bgs
    if ref_phase > 0 and ref_rank == r:
        return INF
    t = max(base, g_act[gi] + rc, ref_done[r] + rfc)
    if k > 0:
        t = max(t, ring[r, k - 1] + faw)
    if all_bank != 0:
        t = max(t, ring[r, 3] + rrd_l)           # after the rank's last single ACT
    b0 = r * (P[0] // P[1]) + (gi % bgs) * bpg
    for b in range(b0, b0 + nb):
        if prow[b] != 0:
            return INF
        t = max(t, p_pre[b] + rp, n_pre[b] + rp, n_act[b] + pim_act)
        if blocked != 0 and nrow[b] >= 0:
            return INF
    if blocked != 0:
        for b in range(b0, b0 + nb):
            if qptr[b] < qend[b] and _arrival(qptr[b], r_arr, r_op, otime) <= t:
                return INF
    return t
