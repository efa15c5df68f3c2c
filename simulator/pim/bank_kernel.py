"""The command-level PIM state machine (numba kernels), one command per event: what bank_machine.py
expands a channel program into is issued here (its readiness helpers, the G_ACT's included, in bank_ready.py).
PARAMS names the entries of the parameter vector P in order, COUNT_KEYS those of the counts vector.

The channel issues at most one command per cycle on its command bus, the refresh first, then PIM (in program
order), then normal reads in the free slots. Rules it enforces (cycles of tCK, all from PimTiming, i.e. the
memory's JEDEC table):

    PIM_PRE(b)      >= last COMP + tRTP (pim_to_precharge), the last COMP being the COMPS_READRES issue itself
                    unless row_release is last-comp; a bank already closed is skipped. all-bank: one command
                    for the rank's banks (skipped when all are closed), >= their G_ACT + tRAS
    G_ACT(rank, g)  >= P_HEADER + 1; >= PIM_PRE / PRE of each of its banks + tRP; >= its last G_ACT + tRC;
                    a rank's tFAW window of four activations, a G_ACT taking banks_per_group of them (four: so
                    G_ACT -> G_ACT in a rank is tFAW, as commands.py has it); bank groups in order within a
                    rank, the ranks interleaved (whichever is ready first); >= REF + tRFC of its rank.
                    all-bank: one for the rank's banks, no tFAW slot, >= the rank's last single ACT + tRRD_L
    COMPS_READRES   >= last G_ACT of the row + act_to_comp; the next one >= comps_readres(n) after it; its
                    READRES data returns comps_readres(n) + read_latency after issue (the end of the op)
    GWRITE          >= last COMP + max(tBURST, tCCD_S); the PIM queue is busy GWRITE cycles and issues
                    its next command on the cycle after; its source row (bank 0 of rank 0) stays open in its own
                    buffer except across a refresh of rank 0, after which it needs an ACT and tRCD again.
                    gw_evict (one row buffer, Newton's commands): a G_ACT's row evicts it, so a GWRITE after a
                    row precharges bank 0 (>= last COMP + tRTP), ACTs (tRP, >= its G_ACT + tRC, tFAW), then
                    tRCD; the next row's precharge of bank 0 closes the GWRITE row (>= its end, ACT + tRAS)
    refresh         rank-staggered all-bank REF every tREFI / ranks, once the op at the head of the PIM queue
                    is held (or the program is done): the rank's open row buffers are precharged one per cycle
                    (its PIM rows by one command in all-bank mode; the GWRITE row tRAS after its ACT, once its
                    GWRITE is done), REF after tRP, the rank activates again after tRFC.
                    Guard: when an op reaches the head of the PIM queue (the cycle after the previous row's last
                    COMP, or after a GWRITE's busy time) and head + row_estimate (GWRITE: its time)
                    reaches the next refresh, the op is held until the REF has issued; an op that passes the
                    guard runs to its end, a refresh falling due meanwhile waits for the next op's check
                    (without the guard: the next op reaching the head at or after the refresh is held).
    normal reads    (`reads`: arrival, bank, row; 64 B each, per-bank FIFO): ACT >= PRE + tRP, ACT -> ACT tRC,
                    one tFAW slot, >= REF + tRFC, >= an all-bank G_ACT + tRRD_L; RD >= ACT + tRCD, tCCD_L in a
                    bank group, tCCD_S otherwise; PRE >= ACT + tRAS and RD + tRTP. Read data takes the data bus
                    around the READRES data (fixed when its COMPS_READRES issues; GWRITE moves its row inside
                    the channel).
                    Row-buffer modes (`row_buffer`):
                    dual     the normal row buffer is separate: ACT <-> G_ACT in one bank tRRD_L, RD after a PIM
                             column command 0 apart, open page
                    blocked  one row buffer: a read to a bank PIM holds waits until the PIM row is done there
                             (its last COMP), the bank is precharged, ACT, the reads, PRE (close page);
                             the bank group's next G_ACT waits for that PRE + tRP and for reads already arrived
PIM rows get no tRAS in per-bank-group mode (as in the artifact's timing table and the transaction level): a
G_ACT to PIM_PRE of an S.V row is 32 cycles on NeuPIMs, tRAS 34. A refresh precharge of a PIM row buffer counts
as a PIM_PRE (the next row skips the banks it finds closed), so the counts of a PIM-only program equal
mapping.counts, unless refreshes close PIM rows after its last row (a program ending in GWRITEs): those
precharges count in addition. The loop is event-driven: each
iteration issues the command that is ready first and jumps the clock to it, so its cost is O(commands), not
O(cycles).
"""

from __future__ import annotations

import numpy as np

from simulator.memory.dram._jit import kernel
from simulator.pim.bank_ready import (
    INF,
    NEG,
    _any_open,
    _arrival,
    _clear_of,
    _faw_push,
    _gact_ready,
)

C_GWRITE, C_HEADER, C_PRE, C_GACT, C_CR = 0, 1, 2, 3, 4
COUNT_KEYS = ("cmd.GWRITE", "cmd.P_HEADER", "cmd.G_ACT", "cmd.COMP", "cmd.READRES", "cmd.PIM_PRE", "cmd.REF",
              "cmd.ACT", "cmd.PRE", "cmd.RD")
PARAMS = ("banks", "ranks", "bank_groups", "banks_per_group", "rtp", "rp", "rcd", "ras", "rc", "faw", "rfc",
          "interval", "gwrite", "comp_spacing", "fill", "read_latency", "burst", "ccd_s", "ccd_l", "blocked",
          "guard", "refresh", "start", "faw_per_gact", "pim_act_to_act", "normal_after_pim", "all_bank",
          "act_to_comp", "last_comp", "rrd_l", "pre_banks", "act_banks", "gw_evict")


@kernel
def run_program(ctype, carg, cop, olast, oest, r_arr, r_op, r_row, qstart, qend, P, r_issue, otime, counts, out):
    """The event loop: issue the expanded commands (and the reads) one by one; results into the last four."""
    banks, ranks, bgs, bpg = P[0], P[1], P[2], P[3]
    rtp, rp, rcd, ras, rc, faw, rfc, interval = P[4], P[5], P[6], P[7], P[8], P[9], P[10], P[11]
    gwrite, cs, fill, rl, burst, ccd_s, ccd_l = P[12], P[13], P[14], P[15], P[16], P[17], P[18]
    blocked, guard, refresh, start, fk, pim_act, after_pim = P[19], P[20], P[21], P[22], P[23], P[24], P[25]
    all_bank, act_comp, hold_row, rrd_l, pre_banks, act_banks = P[26], P[27], P[28], P[29], P[30], P[31]
    evict = P[32]                            # the GWRITE row shares bank 0's only row buffer with PIM rows
    pim_ras = ras if all_bank != 0 else 0    # all-bank rows: PRE >= their G_ACT + tRAS
    bpr = banks // ranks
    ncmd = ctype.shape[0]
    nops = olast.shape[0]
    nreads = r_arr.shape[0]

    prow = np.ones(banks, np.int64)          # PIM row buffer open (all open on another row at the start)
    p_done = np.ones(banks, np.int64)        # its op has issued all its COMPS_READRES
    p_pre = np.full(banks, NEG, np.int64)
    p_act = np.full(banks, NEG, np.int64)
    nrow = np.full(banks, -1, np.int64)      # normal row buffer: open row or -1
    n_act = np.full(banks, NEG, np.int64)
    n_rd = np.full(banks, NEG, np.int64)
    n_pre = np.full(banks, NEG, np.int64)
    g_act = np.full(ranks * bgs, NEG, np.int64)
    g_rd = np.full(ranks * bgs, NEG, np.int64)
    ring = np.full((ranks, 4), NEG, np.int64)
    ref_done = np.full(ranks, NEG, np.int64)
    qptr = qstart.copy()
    issued = np.zeros(ncmd, np.int8)
    seen = np.zeros(ranks, np.int64)

    last_comp = start - max(rtp, cs)         # the last PIM column command (COMP) issued
    next_cr = start
    row_act = NEG
    last_rd = NEG
    n_end = NEG                              # end of the last normal read's data on the data bus
    rr0 = NEG                                # data-bus windows of the last two READRES (start cycles)
    rr1 = NEG
    gw_open = 1
    gw_act = NEG
    gw_done = NEG
    gw_pre = NEG
    bus = start
    end = start
    pc = 0
    op = 0
    admitted = 0                             # the op at the head of the PIM queue passed the guard
    pim_min = start
    hold = 0
    held = 0
    ref_idx = start // interval + 1
    B = ref_idx * interval if refresh != 0 else INF
    one = np.int64(1)                        # (typed ints: one compiled signature per helper)
    ref_phase = one - 1
    ref_rank = (ref_idx - 1) % ranks
    ref_slot = 0
    pending = nreads
    if nops > 0 and start + oest[0] * guard >= B:
        hold = 1
        held += 1
    else:
        admitted = 1
    steps = 0
    while True:
        while pc < ncmd and (issued[pc] != 0 or (ctype[pc] == C_PRE and not _any_open(prow, carg[pc], pre_banks)
                                                  and not (evict != 0 and carg[pc] == 0 and gw_open != 0))):
            pc += 1
        if pc >= ncmd and pending == 0:
            break
        steps += 1
        best = INF
        who = -1                  # 0 refresh PRE, 1 REF, 2 PIM, 3 GWRITE-row ACT, 4 normal, 5 bank 0's PRE (evict)
        sel = -1
        sub = 0

        # ---- refresh: from the boundary B on, once the PIM op at the head is held (or the program is done)
        if B < INF and (admitted == 0 or pc >= ncmd):
            s = ref_slot if ref_phase > 0 else 0
            while s <= 2 * bpr:
                if s < 2 * bpr:
                    b = ref_rank * bpr + s // 2
                    if (s % 2 == 0 and prow[b] != 0) or (s % 2 == 1 and nrow[b] >= 0):
                        break
                elif ref_rank == 0 and gw_open != 0:
                    break
                s += 1
            ref_slot = s
            if s <= 2 * bpr:
                if s == 2 * bpr:
                    ready = max(gw_done, gw_act + ras)
                elif s % 2 == 0:
                    ready = max(last_comp + rtp, p_act[ref_rank * bpr + s // 2] + pim_ras)
                else:
                    b = ref_rank * bpr + s // 2
                    ready = max(n_act[b] + ras, n_rd[b] + rtp)
                best = max(bus, B, ready)
                who = 0
                sel = s
            else:
                ready = max(bus, B)
                for b in range(ref_rank * bpr, ref_rank * bpr + bpr):
                    ready = max(ready, p_pre[b] + rp, n_pre[b] + rp)
                if ref_rank == 0:
                    ready = max(ready, gw_pre + rp)
                best = ready
                who = 1

        # ---- PIM queue
        if pc < ncmd and hold == 0:
            base = max(bus, pim_min)
            typ = ctype[pc]
            t = INF
            kind = 2
            j = pc
            if typ == C_GWRITE:
                if gw_open == 0 and evict != 0 and prow[0] != 0:
                    kind = 5                     # bank 0's PIM row goes first (one row buffer)
                    if not (ref_phase > 0 and ref_rank == 0):
                        t = max(base, last_comp + rtp, p_act[0] + pim_ras)
                elif gw_open == 0:
                    kind = 3
                    if not (ref_phase > 0 and ref_rank == 0):
                        t = max(base, gw_pre + rp, ref_done[0] + rfc, ring[0, 0] + faw)
                        if all_bank != 0:
                            t = max(t, g_act[0] + rrd_l)
                        if evict != 0:
                            t = max(t, p_pre[0] + rp, g_act[0] + rc)
                else:
                    t = max(base, gw_act + rcd, last_comp + cs)
            elif typ == C_HEADER:
                t = base
            elif typ == C_PRE:
                t = max(base, last_comp + rtp, p_act[carg[pc]] + pim_ras)
                if evict != 0 and carg[pc] == 0 and gw_open != 0:   # it closes the GWRITE row
                    t = max(base, gw_done, gw_act + ras)
                    if prow[0] != 0:
                        t = max(t, last_comp + rtp, p_act[0] + pim_ras)
            elif typ == C_GACT:
                for r in range(ranks):
                    seen[r] = 0
                k = pc
                while k < ncmd and ctype[k] == C_GACT and cop[k] == op:
                    if issued[k] == 0:
                        r = carg[k] // bgs
                        if seen[r] == 0:
                            seen[r] = 1
                            tk = _gact_ready(k, carg, base, P, prow, p_pre, n_pre, n_act, nrow, g_act, ring,
                                             ref_done, ref_phase, ref_rank, qptr, qend, r_arr, r_op, otime)
                            if tk < t:
                                t = tk
                                j = k
                    k += 1
            else:
                t = max(base, row_act + act_comp, next_cr)
            if t < best:
                best = t
                who = kind
                sel = j

        # ---- normal reads in the free slots
        if nreads > 0:
            for b in range(banks):
                r = b // bpr
                if ref_phase > 0 and ref_rank == r:
                    continue
                has = qptr[b] < qend[b]
                if not has and (blocked == 0 or nrow[b] < 0):
                    continue
                i = qptr[b]
                arr = _arrival(i, r_arr, r_op, otime) if has else INF
                gi = r * bgs + (b % bpr) // bpg
                t = INF
                what = 0                       # 0 ACT, 1 RD, 2 PRE, 3 PRE of a PIM row
                if nrow[b] >= 0:
                    close = max(bus, n_act[b] + ras, n_rd[b] + rtp)
                    if has and r_row[i] == nrow[b] and not (blocked != 0 and arr > close):
                        t = max(bus, arr, n_act[b] + rcd, g_rd[gi] + ccd_l, last_rd + ccd_s,
                                last_comp + after_pim, n_end - rl + burst)
                        t = _clear_of(t + rl - burst, rr0, rr1, burst) - rl + burst
                        what = 1
                    elif has and r_row[i] != nrow[b]:
                        t = max(close, arr)
                        what = 2
                    elif blocked != 0:
                        t = close
                        what = 2
                elif blocked != 0 and prow[b] != 0:
                    if p_done[b] != 0:
                        t = max(bus, arr, last_comp + rtp, p_act[b] + pim_ras)
                        what = 3
                else:
                    t = max(bus, arr, n_pre[b] + rp, n_act[b] + rc, p_act[b] + pim_act, ref_done[r] + rfc,
                            ring[r, 0] + faw)
                    if all_bank != 0:
                        t = max(t, g_act[r * bgs] + rrd_l)
                    if blocked != 0:
                        t = max(t, p_pre[b] + rp)
                if t < best:
                    best = t
                    who = 4
                    sel = b
                    sub = what

        if best >= INF:
            raise RuntimeError("PIM bank machine: no command can issue (deadlock)")
        now = best
        bus = now + 1

        if who == 0:
            ref_phase = one
            if sel == 2 * bpr:
                gw_open = 0
                gw_pre = now
                counts[8] += 1
            else:
                b = ref_rank * bpr + sel // 2
                if sel % 2 == 0:
                    for c in range(b, (ref_rank + 1) * bpr if all_bank != 0 else b + 1):
                        if prow[c] != 0:
                            prow[c] = 0
                            p_pre[c] = now
                    counts[5] += 1
                else:
                    nrow[b] = -1
                    n_pre[b] = now
                    counts[8] += 1
            ref_slot = sel + 1
        elif who == 1:
            ref_done[ref_rank] = now
            counts[6] += 1
            ref_phase = one - 1
            ref_slot = 0
            ref_idx += 1
            B = ref_idx * interval
            ref_rank = (ref_idx - 1) % ranks
            if hold != 0:
                hold = 0
                admitted = 1
                pim_min = max(pim_min, now + 1)
        elif who == 5:
            prow[0] = 0
            p_pre[0] = now
            counts[5] += 1
        elif who == 3:
            gw_open = 1
            gw_act = now
            if evict != 0:
                n_act[0] = now                   # the bank's G_ACT: tRC after it
            _faw_push(ring, one - 1, one, now)
            counts[7] += 1
        elif who == 2:
            typ = ctype[sel]
            last = False
            h = now
            if typ == C_GWRITE:
                gw_done = now + gwrite
                end = max(end, now + gwrite)
                otime[op] = now
                counts[0] += 1
                last = True
                h = now + gwrite + 1
            elif typ == C_HEADER:
                row_act = NEG
                counts[1] += 1
            elif typ == C_PRE:
                pim_pre = _any_open(prow, carg[sel], pre_banks)
                for b in range(carg[sel], carg[sel] + pre_banks):
                    if prow[b] != 0:
                        prow[b] = 0
                        p_pre[b] = now
                if evict != 0 and carg[sel] == 0 and gw_open != 0:
                    gw_open = 0
                    gw_pre = now
                    n_pre[0] = now
                    if not pim_pre:
                        counts[8] += 1
                if pim_pre:
                    counts[5] += 1
            elif typ == C_GACT:
                gi = carg[sel]
                r = gi // bgs
                b0 = r * bpr + (gi % bgs) * bpg
                for b in range(b0, b0 + act_banks):
                    prow[b] = 1
                    p_done[b] = 0
                    p_act[b] = now
                g_act[gi] = now
                _faw_push(ring, r, fk, now)
                row_act = max(row_act, now)
                counts[2] += 1
            else:
                n = carg[sel]
                span = cs * (max(n, fill) + 1)
                if hold_row == 2:                # released by its READRES (Newton's separate commands)
                    last_comp = now + max(cs * n, fill * ccd_s)
                else:
                    last_comp = now + cs * (max(n, 1) - 1) * hold_row
                next_cr = now + span
                rr0 = rr1
                rr1 = now + span + rl - burst
                end = max(end, now + span + rl)
                if otime[op] == NEG:
                    otime[op] = now
                counts[3] += n
                counts[4] += 1
                if sel == olast[op]:
                    last = True
                    h = last_comp + 1
                    for b in range(banks):
                        p_done[b] = 1
            issued[sel] = 1
            if last:
                op += 1
                admitted = 0
                if op < nops:
                    pim_min = h
                    if h + oest[op] * guard >= B:
                        hold = 1
                        held += 1
                    else:
                        admitted = 1
        else:
            b = sel
            r = b // bpr
            if sub == 0:
                nrow[b] = r_row[qptr[b]]
                n_act[b] = now
                _faw_push(ring, r, one, now)
                counts[7] += 1
            elif sub == 1:
                i = qptr[b]
                r_issue[i] = now
                r_arr[i] = _arrival(i, r_arr, r_op, otime)
                r_op[i] = -1
                n_rd[b] = now
                g_rd[r * bgs + (b % bpr) // bpg] = now
                last_rd = now
                n_end = now + rl
                qptr[b] += 1
                pending -= 1
                counts[9] += 1
            elif sub == 2:
                nrow[b] = -1
                n_pre[b] = now
                counts[8] += 1
            else:
                prow[b] = 0
                p_pre[b] = now
                counts[5] += 1
    out[0] = end
    out[1] = held
    out[2] = steps
