"""Transaction-level timing of a channel program: closed forms per op, cumulative sums, and one step per refresh.

Without refresh every op is anchored to the previous one (`anchor` = issue of the row's last COMPS_READRES, or
of the GWRITE; `drain` = its last COMP's lag behind that issue under row_release last-comp, else 0):

    row after row       anchor += max(tRTP + drain + open_row, previous comps_readres, tRC - previous tail)
                                  + (readres - 1) x comps_readres(comps)        (all-bank: PRE >= ACT + tRAS)
    row after GWRITE    anchor += GWRITE + 1 + open_row + (readres - 1) x comps_readres(comps)
    GWRITE after row    anchor += drain + max(tBURST, tCCD_S)
    GWRITE after GWRITE anchor += GWRITE + 1

open_row = banks precharges + P_HEADER + (bank_groups - 1) tFAW + (ranks - 1) + tRCD  (138 on NeuPIMs HBM2), the
first G_ACT no earlier than tRP after its banks' precharges; all-bank (AiM): tRP + act_to_comp
(PimTiming.open_row).

Refresh (rank-staggered, one rank every tREFI / ranks): the controller checks each row's (and GWRITE's) latency
estimate against the time left to the next refresh when the op reaches the head of its queue; if it does not
fit, PIM idles until the refresh, whose rank is precharged bank by bank and refreshed after tRP; the held op
then restarts with that rank closed, and the rank may not activate before tRFC. A refresh of rank 0 also closes
the GWRITE row (bank 0 of rank 0): the next GWRITE re-opens it (ACT, tRCD). Each refresh is one step (a
searchsorted over the prefix maximum of check + estimate), so the cost is O(refreshes), not O(cycles).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.pim.commands import PimTiming
from simulator.pim.mapping import GWRITE, ROW


@dataclass(frozen=True)
class ChannelTime:
    start: float
    end: float
    busy: float          # cycles with PIM work queued (NeuPIMs' pim_cycles)
    refreshes: int       # refreshes that fell inside [start, end)
    held: int            # refreshes that held a PIM op back


def _anchors(p: dict[str, np.ndarray], t: PimTiming, start: float):
    kind, rr, comps = p["kind"], p["readres"], p["comps"]
    n = len(kind)
    prev = np.r_[-1, kind[:-1]]
    cc = t.comps_readres(comps)
    tail_rows = (np.maximum(rr, 1) - 1) * cc
    drain = np.where(kind == ROW, t.drain(comps), 0)
    prev_cc, prev_drain, prev_tail = (np.r_[0, a[:-1]] for a in (cc, drain, tail_rows))
    open_full = t.open_row()
    delta = np.where(
        kind == ROW,
        np.where(prev == ROW, t.row_after_row(prev_cc, prev_drain, prev_tail),
                 np.where(prev == GWRITE, t.gwrite + 1 + open_full, open_full))
        + tail_rows,
        np.where(prev == GWRITE, t.gwrite + 1, np.where(prev == ROW, prev_drain + t.comp_spacing, 0)))
    anchor = start + np.cumsum(delta)
    prev_anchor = np.r_[start, anchor[:-1]]
    check = np.where(prev == ROW, prev_anchor + prev_drain + 1,
                     np.where(prev == GWRITE, prev_anchor + t.gwrite + 1, start))
    first_comp = anchor - tail_rows
    est = np.where(kind == ROW, t.row_estimate(p["header"], np.maximum(rr, 1)), t.gwrite)
    if n:
        last = n - 1
        end_tail = (cc[last] + t.read_latency) if kind[last] == ROW else t.gwrite
    else:
        end_tail = 0
    return anchor, check, first_comp, est, end_tail


def channel_time(p: dict[str, np.ndarray], t: PimTiming, start: float = 0.0, refresh: bool = True) -> ChannelTime:
    """Start and end cycle of one channel's program beginning at absolute cycle `start`."""
    if len(p["kind"]) == 0:
        return ChannelTime(start, start, 0.0, 0, 0)
    anchor, check, first_comp, est, end_tail = _anchors(p, t, start)
    kind = p["kind"]
    if not refresh:
        end = float(anchor[-1] + end_tail)
        return ChannelTime(start, end, end - start, 0, 0)
    interval = t.refresh_interval
    reach = np.maximum.accumulate(check + est) if t.refresh_guard else check
    shift, k0, held = 0.0, 0, 0
    n = len(kind)
    index = int(start // interval) + 1           # refresh insertions so far at the next boundary
    chain = t.act_chain
    drain = t.drain(p["comps"])
    refreshes = 0
    gw_open, reopen, reopen_cost = True, n, 0.0  # GWRITE row (bank 0 of rank 0); the GWRITE that re-opens it
    while True:
        boundary = index * interval
        k = max(int(np.searchsorted(reach, boundary - shift, side="left")), k0)
        if reopen < k:                           # that GWRITE fits before the boundary: its ACT + tRCD
            shift, gw_open, k0, reopen = shift + reopen_cost, True, max(k0, reopen + 1), n
            continue
        if k >= n and boundary >= anchor[-1] + shift + end_tail:
            break                                # (an op whose estimate crosses the boundary is held even so)
        refreshes += 1
        rank = (index - 1) % t.ranks
        index += 1
        if k >= n:
            continue
        held += 1
        closing = boundary                       # its first precharge, once the previous row let go (tRAS)
        if k > 0 and kind[k - 1] == ROW:
            tail = anchor[k - 1] - first_comp[k - 1]
            closing = max(boundary, anchor[k - 1] + shift + t.release(drain[k - 1], tail))
        done = closing + t.rank_precharges + int(rank == 0 and gw_open) - 1 + t.rp       # REFRESH issue cycle
        gw_open = gw_open and rank != 0
        others = t.precharges - t.rank_precharges
        if kind[k] == ROW:
            new_first = max(done + 1 + others + 1 + chain + (t.ranks - 2 if t.ranks > 1 else 0),
                            done + t.rfc + chain)
            shift += new_first - (first_comp[k] + shift)
            k0 = k + 1
        else:
            g = done + 1 if gw_open else (done + t.rfc if rank == 0 else done + 1) + t.rcd
            gw_open = True
            if k + 1 < n and kind[k + 1] == ROW:
                p0 = g + t.gwrite + 1
                new_first = max(p0 + others + 1 + chain + (t.ranks - 1 if t.ranks > 1 else 0),
                                done + t.rfc + chain)
                shift += new_first - (first_comp[k + 1] + shift)
                k0 = k + 2
            else:
                shift += g - (anchor[k] + shift)
                k0 = k + 1
        if not gw_open:
            reopen, reopen_cost = _reopen(kind, p["comps"], anchor, first_comp, k0, t)
    end = float(anchor[-1] + shift + end_tail)
    return ChannelTime(start, end, end - start, refreshes, held)


def _reopen(kind: np.ndarray, comps: np.ndarray, anchor: np.ndarray, first_comp: np.ndarray, k0: int,
            t: PimTiming) -> tuple[int, float]:
    """The first GWRITE from op k0 on, after a refresh closed the GWRITE row, and its extra cycles: an ACT on the
    cycle after the previous row's last COMP (or act_after_row after rank 0's last G_ACT of that row), then
    tRCD, instead of max(tBURST, tCCD_S) after that COMP."""
    after = np.flatnonzero(kind[k0:] == GWRITE)
    if len(after) == 0:
        return len(kind), 0.0
    g = k0 + int(after[0])
    if g == 0 or kind[g - 1] != ROW:
        return g, 0.0
    last_comp = anchor[g - 1] + t.drain(comps[g - 1])
    rank0_last = first_comp[g - 1] - t.act_to_comp - t.rank_lag
    act = max(last_comp + 1, rank0_last + t.act_after_row)
    return g, float(act + t.rcd - last_comp - t.comp_spacing)


def expected_cycles(p: dict[str, np.ndarray], t: PimTiming) -> float:
    """Closed-form estimate for schedulers: the refresh-free span inflated by the expected cost of a refresh
    (mean hold-back of est - period / 2 plus the restart after tRFC) per refresh interval."""
    if len(p["kind"]) == 0:
        return 0.0
    anchor, check, first_comp, est, end_tail = _anchors(p, t, 0.0)
    base = float(anchor[-1] + end_tail)
    period = np.diff(np.r_[0.0, check])
    rows = p["kind"] == ROW
    hold = float(np.mean(np.clip(est[rows] - period[rows] / 2, 0, None))) if rows.any() else 0.0
    restart = t.rp + t.rank_precharges + t.rfc + t.act_chain - t.open_row() + 1
    per_refresh = hold + max(restart, 0)
    frac = min(per_refresh / t.refresh_interval, 0.9) if t.refresh_guard else 0.0
    return base / (1.0 - frac)


def mixed_cycles(p: dict[str, np.ndarray], t: PimTiming, reads_per_row: int) -> dict[str, float]:
    """A PIM program with `reads_per_row` normal 64 B reads (row hits in one bank of a rank's first bank group)
    arriving with every PIM row (at its first COMPS_READRES); bank_machine.mixed_run is the same experiment at
    command level.

    dual:    the reads use the normal row buffer, the command slots PIM leaves free (PIM goes first on the command
             bus) and the data bus around the READRES data, so PIM is never slower; reads beyond the free slots
             only wait.
    blocked: one row buffer, so a row's reads wait until it is done and are served at the next row switch: after
             the bank's precharge, ACT in the slot its bank group's G_ACT would have taken, the reads tCCD_L
             apart, PRE no earlier than tRAS after the ACT, tRP, then the G_ACT; the rank's later G_ACTs are tFAW
             behind it, so each row followed by a row is max(tRAS, tRCD + (r - 1) tCCD_L + tRTP) + tRP longer.
             A row followed by a GWRITE has its reads served during the GWRITE, which leaves the bank precharged:
             the next row switch has one precharge (cycle) less (all-bank: none less, the one all-bank
             precharge still closes the other banks).
    Returns both spans and the PIM-only span (cycles, refresh-free).
    """
    base = channel_time(p, t, refresh=False).end
    kind = p["kind"]
    r = max(0, int(reads_per_row))
    row_row = int(np.sum((kind[:-1] == ROW) & (kind[1:] == ROW)))
    row_gwrite_row = int(np.sum((kind[:-2] == ROW) & (kind[1:-1] == GWRITE) & (kind[2:] == ROW)))
    switch = max(t.ras, t.rcd + (r - 1) * t.readres_spacing + t.rtp) + t.rp
    saved = 0 if t.all_bank else row_gwrite_row
    blocked = base + (row_row * switch - saved if r else 0)
    return {"pim_only": base, "dual": base, "blocked": blocked}
