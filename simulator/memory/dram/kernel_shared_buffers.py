"""Command-level kernel of the `shared-buffers` controller (the architecture Ramulator 2.1 uses), event-driven.

Per controller (one per channel; HBM pseudo-channels are bank groups of the same controller, each with its
own data bus): a read and a write buffer, an active buffer of requests whose row is being opened, and a
priority buffer for refresh. A write to an address already in the write buffer is absorbed; a read of such an
address is answered from it (1 cycle). Requests offered at cycle t are scheduled from cycle t + 1.

Single issue (DDR): each cycle at most one command, from the first source that has a ready one:
1. the active buffer (FR-FCFS: ready first, then oldest);
2. the head of the priority buffer (precharge-all, then REF);
3. only when no refresh is pending: the write buffer in write mode, else the read buffer (FR-FCFS).
Write mode starts above the high watermark (or with no reads) and ends below the low one (with reads).
A closing command (PRE) is not a candidate while an active-buffer request targets its bank.

Dual issue (HBM, `dual_command`): a column slot then a row slot each cycle. The column slot takes a column
command from the active buffer, else (no refresh pending) from the read/write buffer; the row slot takes the
refresh command, else (no refresh pending) an ACT or PRE from the read/write buffer.
Half ticks (HBM3, `half_tick`): the clock is half a CK; column commands, ACT and REF issue on rising edges
(odd cycles) only, a falling edge may carry a PRE, except to the bank (or, after an all-bank command, the
pseudo-channel) of the row command of the rising edge it pairs with (the next edge; the third for an ACT).

Like the bank-queues kernel, the loop jumps from one possible event to the next instead of ticking.
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
def _win_ready(win, win_n, c, u, faw):
    # sliding window of the last 4 ACT times of a unit (ring, oldest at index win_n % 4)
    if win_n[c, u] < 4:
        return 0
    return win[c, u, win_n[c, u] % 4] + faw


@kernel
def _cmd_ready(nxt, win, win_n, c, b, cmd, faw_of, faw, half):
    t = nxt[c, b, cmd]
    if cmd == 0:
        f = _win_ready(win, win_n, c, faw_of[b], faw)
        t = max(t, f)
    if half == 1 and cmd != 5 and cmd != 7 and t % 2 == 0:
        t += 1          # rising edges only
    return t


@kernel
def _best(buf, n_buf, c, clk, orow, nxt, win, win_n, bank, row, is_w, arrive, faw_of, faw, half, page, fcfs,
          slot, active_bank, pair_clk, pair_pc, pair_bank, pc_of):
    """The scheduler's pick over a buffer among requests whose next command fits `slot` (0 any, 1 column,
    2 row) and would not close a bank with an active request: FR-FCFS (ready first, then oldest) or FCFS
    (oldest). Returns (position, ready, earliest ready time of the candidates)."""
    best = -1
    best_ready = False
    best_t = INF
    tmin = INF
    falling = half == 1 and clk % 2 == 0
    for pos in range(n_buf[c]):
        i = buf[c, pos]
        if arrive[i] >= clk:        # offered this cycle: a candidate from the next one
            tmin = min(tmin, clk + 1)
            continue
        b = bank[i]
        rq = _required(orow, c, b, row[i], is_w[i], page)
        column = 1 <= rq <= 4
        if slot == 1 and not column:
            continue
        if slot == 2 and column:
            continue
        if (rq == 5 or rq == 3 or rq == 4) and active_bank[c, b] > 0:
            continue
        t = _cmd_ready(nxt, win, win_n, c, b, rq, faw_of, faw, half)
        if falling and rq == 5 and clk == pair_clk[c] and pc_of[b] == pair_pc[c] and \
                (pair_bank[c] < 0 or pair_bank[c] == b):
            t = max(t, clk + 1)
        tmin = min(tmin, t)
        rdy = t <= clk
        if best < 0:
            best, best_ready, best_t = pos, rdy, t
        elif fcfs == 1:
            if arrive[i] < arrive[buf[c, best]]:
                best, best_ready, best_t = pos, rdy, t
        elif (rdy and not best_ready) or (rdy == best_ready and arrive[i] < arrive[buf[c, best]]):
            best, best_ready, best_t = pos, rdy, t
    if fcfs == 1:
        tmin = best_t
    return best, best_ready, tmin


@kernel
def _remove(buf, n_buf, c, pos):
    for k in range(pos, n_buf[c] - 1):
        buf[c, k] = buf[c, k + 1]
    n_buf[c] -= 1


@kernel
def _is_open_write(st, prevw, i):
    # the latest earlier write to the address, past writes that were absorbed into a buffered one
    while i >= 0 and st[i] == 4:
        i = prevw[i]
    return i >= 0 and st[i] == 1


@kernel
def run(inject, is_w, ctl, bank, row, prevr, prevw, scope, ref_unit, faw_of, pc_of, nq, n_units,
        T, R, P, arrive, issue_t, done_t, kind, counts, bgc):
    n = inject.shape[0]
    C = P[0]
    nb = P[1]
    cap_r = P[2]
    cap_w = P[3]
    rl = P[5]
    faw = P[6]
    interval = P[7]
    dual = P[8]
    page = P[9]
    fcfs = P[11]
    offers_max = P[13]
    refresh = P[14]
    low_mark = P[15]
    high_mark = P[16]
    half = P[17]
    cap_a = nb + 1

    rb = np.zeros((C, cap_r), np.int64)
    rb_n = np.zeros(C, np.int64)
    wb = np.zeros((C, cap_w), np.int64)
    wb_n = np.zeros(C, np.int64)
    ab = np.zeros((C, cap_a), np.int64)
    ab_n = np.zeros(C, np.int64)
    active_bank = np.zeros((C, nb), np.int64)
    orow = np.full((C, nb), -1, np.int64)
    hits = np.zeros((C, nb), np.int64)
    confl = np.zeros((C, nb), np.int64)
    nxt = np.zeros((C, nb, 8), np.int64)
    win = np.zeros((C, nb, 4), np.int64)
    win_n = np.zeros((C, nb), np.int64)
    wmode = np.zeros(C, np.int64)
    refq = np.zeros((C, 256), np.int64)
    ref_n = np.zeros(C, np.int64)
    next_ref = np.full(C, interval if (refresh > 0 and interval > 0) else INF, np.int64)
    next_unit = np.zeros(C, np.int64)
    nopen = np.zeros((C, n_units), np.int64)
    bg_last = np.zeros(C, np.int64)
    pair_clk = np.full(C, -1, np.int64)
    pair_pc = np.full(C, -1, np.int64)
    pair_bank = np.full(C, -1, np.int64)
    wake = next_ref.copy()
    st = np.zeros(n, np.int8)     # 0 not offered, 1 buffered, 6 active, 2 issued, 4 absorbed, 5 forwarded

    outstanding = 0
    for i in range(n):
        if is_w[i] == 0:
            outstanding += 1
    nxt_req = 0
    clk = np.int64(0)
    while True:
        offers = 0
        blocked = -1
        while nxt_req < n and offers < offers_max and inject[nxt_req] <= clk:
            i = nxt_req
            c = ctl[i]
            if is_w[i]:
                if _is_open_write(st, prevw, prevw[i]):
                    st[i] = 4                         # coalesced with the buffered write
                else:
                    if wb_n[c] >= cap_w:
                        blocked = c
                        break
                    wb[c, wb_n[c]] = i
                    wb_n[c] += 1
                    st[i] = 1
                arrive[i] = clk
                issue_t[i] = clk
                done_t[i] = clk + 1
            else:
                if _is_open_write(st, prevw, prevw[i]):
                    st[i] = 5                         # forwarded from the write buffer
                    arrive[i] = clk
                    issue_t[i] = clk
                    done_t[i] = clk + 1
                    kind[i] = 3
                    outstanding -= 1
                else:
                    if rb_n[c] >= cap_r:
                        blocked = c
                        break
                    rb[c, rb_n[c]] = i
                    rb_n[c] += 1
                    st[i] = 1
                    arrive[i] = clk
            wake[c] = min(wake[c], clk + 1)
            nxt_req += 1
            offers += 1

        for c in range(C):
            if wake[c] > clk:
                continue
            account_background(bgc, bg_last, nopen, c, clk, n_units)
            refresh_due(next_ref, refq, ref_n, next_unit, c, clk, refresh, n_units, interval)
            issued = False
            w_next = INF
            rising = half == 0 or clk % 2 == 1
            nslots = 2 if dual == 1 else 1
            for sl in range(nslots):
                slot = 0 if dual == 0 else (1 if sl == 0 else 2)
                if slot == 1 and not rising:
                    if ab_n[c] + rb_n[c] + wb_n[c] > 0:
                        w_next = min(w_next, clk + 1)     # column commands wait for the rising edge
                    continue
                cmd = -1
                src = -1        # 0 active, 1 read, 2 write, 3 priority
                spos = -1
                # 1. active buffer (column commands)
                if slot != 2 and ab_n[c] > 0:
                    pos, rdy, tmin = _best(ab, ab_n, c, clk, orow, nxt, win, win_n, bank, row, is_w, arrive,
                                           faw_of, faw, half, page, fcfs, slot, active_bank, pair_clk, pair_pc,
                                           pair_bank, pc_of)
                    w_next = min(w_next, tmin)
                    if pos >= 0 and rdy:
                        i = ab[c, pos]
                        cmd = _required(orow, c, bank[i], row[i], is_w[i], page)
                        src = 0
                        spos = pos
                # 2. refresh: precharge-all of the unit, then REF (row commands)
                if cmd < 0 and ref_n[c] > 0 and slot != 1:
                    u = refq[c, 0]
                    anyopen = False
                    tpre = np.int64(0)
                    tref = np.int64(0)
                    for b in range(nb):
                        if ref_unit[b] != u:
                            continue
                        if orow[c, b] >= 0:
                            anyopen = True
                        tpre = max(tpre, nxt[c, b, 7])
                        tref = max(tref, nxt[c, b, 6])
                    want = 7 if anyopen else 6
                    tw = tpre if anyopen else tref
                    if half == 1:
                        if want == 6 and tw % 2 == 0:
                            tw += 1
                        if want == 7 and tw % 2 == 0 and tw == pair_clk[c]:
                            # a falling-edge precharge-all pairs with no row command of the same unit
                            for b in range(nb):
                                if ref_unit[b] == u and pc_of[b] == pair_pc[c]:
                                    tw += 1
                                    break
                    closing_active = False
                    if want == 7:
                        for b in range(nb):
                            if ref_unit[b] == u and active_bank[c, b] > 0:
                                closing_active = True
                                break
                    if tw <= clk and not closing_active:
                        cmd = want
                        src = 3
                    elif not closing_active:
                        w_next = min(w_next, tw)
                # 3. read / write buffers, only while no refresh is pending
                if cmd < 0 and ref_n[c] == 0:
                    if wmode[c] == 0:
                        if wb_n[c] * 10 > high_mark or rb_n[c] == 0:
                            wmode[c] = 1
                    elif wb_n[c] * 10 < low_mark and rb_n[c] != 0:
                        wmode[c] = 0
                    if wmode[c] == 1:
                        pos, rdy, tmin = _best(wb, wb_n, c, clk, orow, nxt, win, win_n, bank, row, is_w, arrive,
                                               faw_of, faw, half, page, fcfs, slot, active_bank, pair_clk,
                                               pair_pc, pair_bank, pc_of)
                        src = 2
                    else:
                        pos, rdy, tmin = _best(rb, rb_n, c, clk, orow, nxt, win, win_n, bank, row, is_w, arrive,
                                               faw_of, faw, half, page, fcfs, slot, active_bank, pair_clk,
                                               pair_pc, pair_bank, pc_of)
                        src = 1
                    w_next = min(w_next, tmin)
                    if pos >= 0 and rdy:
                        i = wb[c, pos] if src == 2 else rb[c, pos]
                        cmd = _required(orow, c, bank[i], row[i], is_w[i], page)
                        spos = pos
                    else:
                        src = -1
                if cmd < 0:
                    continue
                # ---- issue
                issued = True
                counts[c, cmd] += 1
                if src == 3:
                    u = refq[c, 0]
                    _rank_update(nxt, c, u, cmd, clk, ref_unit, R, nb)
                    if cmd == 7:
                        for b in range(nb):
                            if ref_unit[b] == u and orow[c, b] >= 0:
                                _timing_update(nxt, c, b, 5, clk, scope, T, nb)
                                orow[c, b] = -1
                                hits[c, b] = 0
                                confl[c, b] = 0
                        nopen[c, u] = 0
                    else:
                        for m in range(ref_n[c] - 1):
                            refq[c, m] = refq[c, m + 1]
                        ref_n[c] -= 1
                    if half == 1 and rising:
                        pair_clk[c] = clk + 1
                        pair_bank[c] = -1
                        for b in range(nb):
                            if ref_unit[b] == u:
                                pair_pc[c] = pc_of[b]
                                break
                    continue
                i = rb[c, spos] if src == 1 else (wb[c, spos] if src == 2 else ab[c, spos])
                cb = bank[i]
                if cmd == 5:
                    _timing_update(nxt, c, cb, 5, clk, scope, T, nb)
                    orow[c, cb] = -1
                    hits[c, cb] = 0
                    confl[c, cb] = 1
                    nopen[c, ref_unit[cb]] -= 1
                    if half == 1 and rising:
                        pair_clk[c] = clk + 1
                        pair_pc[c] = pc_of[cb]
                        pair_bank[c] = cb
                elif cmd == 0:
                    _timing_update(nxt, c, cb, 0, clk, scope, T, nb)
                    u = faw_of[cb]
                    win[c, u, win_n[c, u] % 4] = clk
                    win_n[c, u] += 1
                    orow[c, cb] = row[i]
                    hits[c, cb] = 0
                    nopen[c, ref_unit[cb]] += 1
                    if half == 1:
                        pair_clk[c] = clk + 3
                        pair_pc[c] = pc_of[cb]
                        pair_bank[c] = cb
                    if src != 0 and ab_n[c] < cap_a:
                        if src == 1:
                            _remove(rb, rb_n, c, spos)
                        else:
                            _remove(wb, wb_n, c, spos)
                        ab[c, ab_n[c]] = i
                        ab_n[c] += 1
                        active_bank[c, cb] += 1
                        st[i] = 6
                else:
                    if src == 1:
                        _remove(rb, rb_n, c, spos)
                    elif src == 2:
                        _remove(wb, wb_n, c, spos)
                    else:
                        _remove(ab, ab_n, c, spos)
                        active_bank[c, cb] -= 1
                    if hits[c, cb] > 0:
                        kind[i] = 0
                    elif confl[c, cb] == 1:
                        kind[i] = 2
                    else:
                        kind[i] = 1
                    _timing_update(nxt, c, cb, cmd, clk, scope, T, nb)
                    hits[c, cb] += 1
                    if cmd == 3 or cmd == 4:
                        orow[c, cb] = -1
                        hits[c, cb] = 0
                        confl[c, cb] = 0
                        nopen[c, ref_unit[cb]] -= 1
                    st[i] = 2
                    issue_t[i] = clk
                    if is_w[i] == 0:
                        done_t[i] = clk + rl
                        outstanding -= 1
                    else:
                        done_t[i] = clk
            if issued:
                w = clk + 1
            else:
                w = min(w_next, next_ref[c])
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
