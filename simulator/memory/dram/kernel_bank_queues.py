"""Command-level kernel of the `bank-queues` controller (the architecture DRAMsim3 uses), event-driven.

Per controller: a read and a write transaction queue; each cycle at most one transaction moves to its bank's
command queue (writes while draining: from full until the drain count is done, or above the threshold when
the command queues are idle; a write waits for an older read of its address); a round-robin over the command
queues issues the first ready command of the first queue that has one (FR-FCFS inside a queue: a row hit
later in the queue goes before a conflicting older request, until `row_hit_cap` hits were served); with HBM
dual issue a second command of the other class (row vs column) may follow in the same cycle. Refresh: at
every interval a rank (unit) is marked; its queues stop, open banks are precharged, then REF, then tRFC.

The loop never wakes on an idle cycle: after each cycle a controller computes the earliest cycle at which any
of its commands can become ready (bank timing, tFAW window, refresh deadline, a transaction that can move),
and the system clock jumps to the earliest such cycle over controllers and the next trace arrival. The state
between those cycles is constant, so the result is the same as ticking every cycle.
"""

from __future__ import annotations

import numpy as np

from simulator.memory.dram._jit import kernel
from simulator.memory.dram.kernel_common import (
    INF,
    _rank_update,
    _required,
    _timing_update,
    account_background,
    finish,
    next_event,
    refresh_due,
)


@kernel
def _faw_ready(faw_t, faw_n, c, u):
    # DRAMsim3-style window: a list of (ACT time + tFAW) of at most 4 entries
    if faw_n[c, u] >= 4:
        return faw_t[c, u, 0]
    return 0


@kernel
def _faw_push(faw_t, faw_n, c, u, clk, faw):
    n = faw_n[c, u]
    if n > 0 and clk >= faw_t[c, u, 0]:
        for k in range(n - 1):
            faw_t[c, u, k] = faw_t[c, u, k + 1]
        n -= 1
    faw_t[c, u, n] = clk + faw
    faw_n[c, u] = n + 1


@kernel
def _ready_time(nxt, faw_t, faw_n, c, b, cmd, faw_of):
    t = nxt[c, b, cmd]
    if cmd == 0:
        f = _faw_ready(faw_t, faw_n, c, faw_of[b])
        t = max(t, f)
    return t


@kernel
def _pre_allowed(cq, cq_n, c, q, pos, bank, row, orow, hits, b, cap):
    # an earlier command of the same bank in this queue keeps the precharge back
    for k in range(pos):
        if bank[cq[c, q, k]] == b:
            return False
    if cap > 0 and hits[c, b] >= cap:
        return True
    o = orow[c, b]
    for k in range(pos, cq_n[c, q]):
        j = cq[c, q, k]
        if bank[j] == b and row[j] == o:
            return False
    return True


@kernel
def run(inject, is_w, ctl, bank, row, prevr, prevw, scope, ref_unit, faw_of, queue_of, nq, n_units,
        T, R, P, arrive, issue_t, done_t, kind, counts, bgc):
    n = inject.shape[0]
    C = P[0]
    nb = P[1]
    cap_r = P[2]
    cap_w = P[3]
    cap_q = P[4]
    rl = P[5]
    faw = P[6]
    interval = P[7]
    dual = P[8]
    page = P[9]
    hitcap = P[10]
    fcfs = P[11]
    drain_th = P[12]
    offers_max = P[13]
    refresh = P[14]

    tqr = np.zeros((C, cap_r), np.int64)
    tqr_n = np.zeros(C, np.int64)
    tqw = np.zeros((C, cap_w), np.int64)
    tqw_n = np.zeros(C, np.int64)
    cq = np.zeros((C, nq, cap_q), np.int64)
    cq_n = np.zeros((C, nq), np.int64)
    cq_tot = np.zeros(C, np.int64)
    orow = np.full((C, nb), -1, np.int64)
    hits = np.zeros((C, nb), np.int64)
    confl = np.zeros((C, nb), np.int64)
    nxt = np.zeros((C, nb, 8), np.int64)
    faw_t = np.zeros((C, nb, 4), np.int64)
    faw_n = np.zeros((C, nb), np.int64)
    qidx = np.zeros(C, np.int64)
    wdrain = np.zeros(C, np.int64)
    refq = np.zeros((C, 64), np.int64)
    ref_n = np.zeros(C, np.int64)
    in_ref = np.full(C, -1, np.int64)
    next_ref = np.full(C, interval if (refresh > 0 and interval > 0) else INF, np.int64)
    next_unit = np.zeros(C, np.int64)
    nopen = np.zeros((C, n_units), np.int64)
    bg_last = np.zeros(C, np.int64)
    wake = next_ref.copy()
    st = np.zeros(n, np.int8)
    root = np.full(n, -1, np.int64)
    mnext = np.full(n, -1, np.int64)

    outstanding = 0
    for i in range(n):
        if is_w[i] == 0:
            outstanding += 1
    nxt_req = 0
    clk = np.int64(0)
    while True:
        # ---- trace injection: in order, at most offers_max per cycle, stop at the first full queue
        offers = 0
        blocked = -1
        while nxt_req < n and offers < offers_max and inject[nxt_req] <= clk:
            i = nxt_req
            c = ctl[i]
            arrive[i] = clk
            if is_w[i]:
                if tqw_n[c] >= cap_w:
                    blocked = c
                    break
                w = prevw[i]
                while w >= 0 and st[w] == 4:
                    w = root[w]
                if w >= 0 and st[w] == 1:
                    st[i] = 4
                    root[i] = w
                else:
                    tqw[c, tqw_n[c]] = i
                    tqw_n[c] += 1
                    st[i] = 1
                issue_t[i] = clk
                done_t[i] = clk + 1
            else:
                if tqr_n[c] >= cap_r:
                    blocked = c
                    break
                w = prevw[i]
                while w >= 0 and st[w] == 4:
                    w = root[w]
                served = False
                if w >= 0 and st[w] == 1:
                    st[i] = 5
                    issue_t[i] = clk
                    done_t[i] = clk + 1
                    kind[i] = 3
                    outstanding -= 1
                    served = True
                if not served:
                    p = prevr[i]
                    if p >= 0 and st[p] == 3:
                        p = root[p]
                    if p >= 0 and st[p] == 1:
                        st[i] = 3
                        root[i] = p
                        mnext[i] = mnext[p]
                        mnext[p] = i
                    else:
                        tqr[c, tqr_n[c]] = i
                        tqr_n[c] += 1
                        st[i] = 1
            wake[c] = min(wake[c], clk)
            nxt_req += 1
            offers += 1

        # ---- controllers whose next event is now
        for c in range(C):
            if wake[c] > clk:
                continue
            account_background(bgc, bg_last, nopen, c, clk, n_units)
            refresh_due(next_ref, refq, ref_n, next_unit, c, clk, refresh, n_units, interval)
            cmd = -1
            cb = -1
            cqi = -1
            cpos = -1
            # refresh first: precharge the unit's open banks one at a time, then REF
            if ref_n[c] > 0:
                u = refq[c, 0]
                in_ref[c] = u
                all_ready = True
                for b in range(nb):
                    if ref_unit[b] != u:
                        continue
                    if orow[c, b] >= 0:
                        all_ready = False
                        if nxt[c, b, 5] <= clk:
                            cmd = 5
                            cb = b
                            break
                    elif nxt[c, b, 6] > clk:
                        all_ready = False
                if cmd < 0 and all_ready:
                    cmd = 6
                    cb = -1
            first_col = False
            tscan = INF          # earliest ready time seen by a full fruitless search of the queues
            scanned = False
            issued = False
            moved = False
            for attempt in range(2):
                if attempt == 1:
                    if cmd < 0 or dual == 0:
                        break
                    first_col = cmd >= 1 and cmd <= 4
                # ---- search the command queues (round robin) when nothing is chosen yet
                if (attempt == 0 and cmd < 0) or attempt == 1:
                    found = -1
                    fb = -1
                    fq = -1
                    fpos = -1
                    for k in range(nq):
                        q = qidx[c] + 1
                        if q == nq:
                            q = 0
                        qidx[c] = q
                        lim = cq_n[c, q]
                        if fcfs == 1 and lim > 1:
                            lim = 1
                        for pos in range(lim):
                            i = cq[c, q, pos]
                            b = bank[i]
                            if in_ref[c] >= 0 and ref_unit[b] == in_ref[c]:
                                continue
                            rq = _required(orow, c, b, row[i], is_w[i], page)
                            tr = _ready_time(nxt, faw_t, faw_n, c, b, rq, faw_of)
                            if tr > clk:
                                tscan = min(tscan, tr)
                                continue
                            if rq == 5 and not _pre_allowed(cq, cq_n, c, q, pos, bank, row, orow, hits, b, hitcap):
                                continue
                            found = rq
                            fb = b
                            fq = q
                            fpos = pos
                            break
                        if found >= 0:
                            break
                    if attempt == 0:
                        cmd = found
                        cb = fb
                        cqi = fq
                        cpos = fpos
                        scanned = found < 0
                    else:
                        second_col = found >= 1 and found <= 4
                        if found < 0 or second_col == first_col:
                            break
                        cmd = found
                        cb = fb
                        cqi = fq
                        cpos = fpos
                if cmd < 0:
                    break
                # ---- issue cmd
                issued = True
                counts[c, cmd] += 1
                if cmd == 6:
                    u = in_ref[c]
                    _rank_update(nxt, c, u, 6, clk, ref_unit, R, nb)
                    for m in range(ref_n[c] - 1):
                        refq[c, m] = refq[c, m + 1]
                    ref_n[c] -= 1
                    in_ref[c] = -1
                elif cmd == 5:
                    _timing_update(nxt, c, cb, 5, clk, scope, T, nb)
                    orow[c, cb] = -1
                    hits[c, cb] = 0
                    nopen[c, ref_unit[cb]] -= 1
                    confl[c, cb] = 1 if cqi >= 0 else 0
                elif cmd == 0:
                    i = cq[c, cqi, cpos]
                    _timing_update(nxt, c, cb, 0, clk, scope, T, nb)
                    _faw_push(faw_t, faw_n, c, faw_of[cb], clk, faw)
                    orow[c, cb] = row[i]
                    hits[c, cb] = 0
                    nopen[c, ref_unit[cb]] += 1
                else:
                    i = cq[c, cqi, cpos]
                    if hits[c, cb] > 0:
                        kind[i] = 0
                    elif confl[c, cb] == 1:
                        kind[i] = 2
                    else:
                        kind[i] = 1
                    # capped-open: close the row with this access when the cap is reached and no hit waits
                    if page == 2 and hitcap > 0 and hits[c, cb] + 1 >= hitcap:
                        more = False
                        for k in range(cq_n[c, cqi]):
                            j = cq[c, cqi, k]
                            if k != cpos and bank[j] == cb and row[j] == row[i]:
                                more = True
                        if not more:
                            counts[c, cmd] -= 1
                            cmd = 4 if is_w[i] else 3
                            counts[c, cmd] += 1
                    _timing_update(nxt, c, cb, cmd, clk, scope, T, nb)
                    hits[c, cb] += 1
                    if cmd == 3 or cmd == 4:
                        orow[c, cb] = -1
                        hits[c, cb] = 0
                        confl[c, cb] = 0
                        nopen[c, ref_unit[cb]] -= 1
                    for k in range(cpos, cq_n[c, cqi] - 1):
                        cq[c, cqi, k] = cq[c, cqi, k + 1]
                    cq_n[c, cqi] -= 1
                    cq_tot[c] -= 1
                    st[i] = 2
                    issue_t[i] = clk
                    if is_w[i] == 0:
                        done_t[i] = clk + rl
                        outstanding -= 1
                        j = mnext[i]
                        while j >= 0:
                            st[j] = 2
                            issue_t[j] = clk
                            done_t[j] = clk + rl
                            kind[j] = 3
                            outstanding -= 1
                            j = mnext[j]
                    else:
                        done_t[i] = clk
            # ---- move one transaction to its command queue
            if wdrain[c] == 0 and (tqw_n[c] >= cap_w or (tqw_n[c] > drain_th and cq_tot[c] == 0)):
                wdrain[c] = tqw_n[c]
            if wdrain[c] > 0:
                for pos in range(tqw_n[c]):
                    i = tqw[c, pos]
                    q = queue_of[bank[i]]
                    if cq_n[c, q] < cap_q:
                        p = prevr[i]
                        if p >= 0 and st[p] == 3:
                            p = root[p]
                        if p >= 0 and st[p] == 1:
                            wdrain[c] = 0
                            moved = True        # reads are scheduled from the next cycle on
                            break
                        wdrain[c] -= 1
                        moved = True
                        cq[c, q, cq_n[c, q]] = i
                        cq_n[c, q] += 1
                        cq_tot[c] += 1
                        for k in range(pos, tqw_n[c] - 1):
                            tqw[c, k] = tqw[c, k + 1]
                        tqw_n[c] -= 1
                        break
            else:
                for pos in range(tqr_n[c]):
                    i = tqr[c, pos]
                    q = queue_of[bank[i]]
                    if cq_n[c, q] < cap_q:
                        moved = True
                        cq[c, q, cq_n[c, q]] = i
                        cq_n[c, q] += 1
                        cq_tot[c] += 1
                        for k in range(pos, tqr_n[c] - 1):
                            tqr[c, k] = tqr[c, k + 1]
                        tqr_n[c] -= 1
                        break
            # ---- next cycle at which this controller can act. After a command or a move, look again next
            # cycle; otherwise nothing changes until the earliest ready time the fruitless search saw, the
            # refresh deadline, or a refresh step becoming ready (a transaction that could not move now cannot
            # move before a command frees its queue).
            if issued or moved:
                w = clk + 1
            else:
                w = next_ref[c]
                if scanned and tscan < w:
                    w = tscan
                if ref_n[c] > 0:
                    u = refq[c, 0]
                    allc = True
                    tmax = np.int64(0)
                    for b in range(nb):
                        if ref_unit[b] != u:
                            continue
                        if orow[c, b] >= 0:
                            allc = False
                            w = min(w, nxt[c, b, 5])
                        elif nxt[c, b, 6] > tmax:
                            tmax = nxt[c, b, 6]
                    if allc and tmax < w:
                        w = tmax
            if w <= clk:
                w = clk + 1
            wake[c] = w

        if nxt_req >= n and outstanding == 0:
            break
        t = next_event(wake, nxt_req, n, blocked, inject, clk)
        if t >= INF:
            break
        clk = t
    return finish(done_t, is_w, bgc, bg_last, nopen, n_units)
