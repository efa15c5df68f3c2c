"""Pieces both command-level DRAM kernels share (bank-queues, shared-buffers): timing-table updates, the
command a request needs next, the refresh deadline, background-state accounting and the jump to the next
event. Numba kernels like the controllers that call them (simulator/memory/dram/_jit.py).
"""

from __future__ import annotations

import numpy as np

from simulator.memory.dram._jit import kernel

INF = np.int64(1) << np.int64(62)


@kernel
def _timing_update(nxt, c, b, cmd, clk, scope, T, nb):
    for b2 in range(nb):
        s = scope[b, b2]
        for y in range(8):
            v = T[s, cmd, y]
            if v >= 0:
                t = clk + v
                nxt[c, b2, y] = max(nxt[c, b2, y], t)


@kernel
def _rank_update(nxt, c, unit, cmd, clk, ref_unit, R, nb):
    for b2 in range(nb):
        if ref_unit[b2] == unit:
            for y in range(8):
                v = R[cmd, y]
                if v >= 0:
                    t = clk + v
                    nxt[c, b2, y] = max(nxt[c, b2, y], t)


@kernel
def _required(orow, c, b, r, is_w, page):
    """Command the request needs next: ACT (closed), PRE (other row open), else its column command."""
    o = orow[c, b]
    if o < 0:
        return 0
    if o != r:
        return 5
    if page == 1:
        return 4 if is_w else 3
    return 2 if is_w else 1


@kernel
def account_background(bgc, bg_last, nopen, c, until, n_units):
    """Add the cycles since the controller's last event to its background state: column 0 while any unit
    (rank) has an open bank, else column 1 (for the IDD3N / IDD2N standby energy)."""
    dt = until - bg_last[c]
    if dt > 0:
        for u in range(n_units):
            if nopen[c, u] > 0:
                bgc[c, 0] += dt
            else:
                bgc[c, 1] += dt
        bg_last[c] = until


@kernel
def refresh_due(next_ref, refq, ref_n, next_unit, c, clk, refresh, n_units, interval):
    """At the refresh deadline queue the refresh: one unit (rank) in turn when staggered (refresh == 2), else
    every unit; the queue holds at most refq.shape[1] pending refreshes."""
    if clk < next_ref[c]:
        return
    cap = refq.shape[1]
    if refresh == 2:
        if ref_n[c] < cap:
            refq[c, ref_n[c]] = next_unit[c]
            ref_n[c] += 1
        next_unit[c] = (next_unit[c] + 1) % n_units
    else:
        for u in range(n_units):
            if ref_n[c] < cap:
                refq[c, ref_n[c]] = u
                ref_n[c] += 1
    next_ref[c] += interval


@kernel
def next_event(wake, nxt_req, n, blocked, inject, clk):
    """The next cycle anything can happen: the earliest controller wake-up, the next trace arrival (a blocked
    offer retries when its controller wakes), never the current cycle; INF when nothing is left."""
    t = INF
    for c in range(wake.shape[0]):
        t = min(t, wake[c])
    if nxt_req < n:
        if blocked >= 0:
            t = min(t, wake[blocked])
        elif inject[nxt_req] <= clk:
            t = clk + 1
        else:
            t = min(t, inject[nxt_req])
    if t <= clk:
        t = clk + 1
    return t


@kernel
def finish(done_t, is_w, bgc, bg_last, nopen, n_units):
    """End of the run (the last read's data back) with every controller's background counted up to it."""
    end = np.int64(0)
    for i in range(done_t.shape[0]):
        if is_w[i] == 0 and done_t[i] > end:
            end = done_t[i]
    for c in range(bg_last.shape[0]):
        account_background(bgc, bg_last, nopen, c, end, n_units)
    return end
