"""Transaction-level timing of a channel program: closed forms per op, cumulative sums, and one step per refresh.

Without refresh every op is anchored to the previous one (`anchor` = issue of the row's last COMPS_READRES, or
of the GWRITE):

    row after row       anchor += tRTP + open_row(banks) + (readres - 1) x comps_readres(comps)
    row after GWRITE    anchor += GWRITE + 1 + open_row(banks) + (readres - 1) x comps_readres(comps)
    GWRITE after row    anchor += max(tBURST, tCCD_S)
    GWRITE after GWRITE anchor += GWRITE + 1

open_row(p) = p precharges + P_HEADER + (bank_groups - 1) tFAW + (ranks - 1) + tRCD  (138 on NeuPIMs HBM2).

Refresh (rank-staggered, one rank every tREFI / ranks): the controller checks each row's (and GWRITE's) latency
estimate against the time left to the next refresh when the op reaches the head of its queue; if it does not
fit, PIM idles until the refresh, whose rank is precharged bank by bank and refreshed after tRP; the held op
then restarts with that rank closed, and the rank may not activate before tRFC. Each refresh is one step
(a searchsorted over the prefix maximum of check + estimate), so the cost is O(refreshes), not O(cycles).
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
    open_full = t.open_row(t.banks)
    delta = np.where(
        kind == ROW,
        np.where(prev == ROW, t.rtp + open_full, np.where(prev == GWRITE, t.gwrite + 1 + open_full, open_full))
        + tail_rows,
        np.where(prev == GWRITE, t.gwrite + 1, np.where(prev == ROW, t.comp_spacing, 0)))
    anchor = start + np.cumsum(delta)
    prev_anchor = np.r_[start, anchor[:-1]]
    check = np.where(prev == ROW, prev_anchor + 1, np.where(prev == GWRITE, prev_anchor + t.gwrite + 1, start))
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
    bpr = t.banks_per_rank
    chain = (t.bank_groups - 1) * t.faw + t.rcd
    refreshes = 0
    while True:
        boundary = index * interval
        if boundary >= anchor[-1] + shift + end_tail:
            break
        refreshes += 1
        rank = (index - 1) % t.ranks
        k = max(int(np.searchsorted(reach, boundary - shift, side="left")), k0)
        if k >= n:
            index += 1
            continue
        held += 1
        gw_row_open = rank == 0                  # the GWRITE row lives in bank 0 of rank 0
        done = boundary + bpr + int(gw_row_open) - 1 + t.rp       # REFRESH issue cycle
        others = t.banks - bpr
        if kind[k] == ROW:
            new_first = max(done + 1 + others + 1 + chain + (t.ranks - 2 if t.ranks > 1 else 0),
                            done + t.rfc + chain)
            shift += new_first - (first_comp[k] + shift)
            k0 = k + 1
        else:
            g = done + t.rfc + t.rcd if gw_row_open else done + 1
            if k + 1 < n and kind[k + 1] == ROW:
                p0 = g + t.gwrite + 1
                new_first = max(p0 + others + 1 + chain + (t.ranks - 1 if t.ranks > 1 else 0),
                                done + t.rfc + chain)
                shift += new_first - (first_comp[k + 1] + shift)
                k0 = k + 2
            else:
                shift += g - (anchor[k] + shift)
                k0 = k + 1
        index += 1
    end = float(anchor[-1] + shift + end_tail)
    return ChannelTime(start, end, end - start, refreshes, held)


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
    restart = t.rp + t.banks_per_rank + t.rfc + (t.bank_groups - 1) * t.faw + t.rcd - t.open_row(t.banks) + 1
    per_refresh = hold + max(restart, 0)
    frac = min(per_refresh / t.refresh_interval, 0.9) if t.refresh_guard else 0.0
    return base / (1.0 - frac)


def mixed_cycles(p: dict[str, np.ndarray], t: PimTiming, reads_per_row: int) -> dict[str, float]:
    """A PIM program with `reads_per_row` normal 64 B reads (row hits in one bank) arriving during every PIM row.

    dual:    the reads use the PIM row buffer's idle command slots (the row switch leaves open_row - precharges -
             G_ACTs slots free) and cost PIM nothing while they fit; reads beyond that stream on the data bus.
    blocked: the bank serialises: PIM precharge, tRP, ACT, tRCD, the reads tCCD_L apart, tRTP, then tRP before
             the next G_ACT: tRP + tRCD + (r - 1) tCCD_L + tRTP per PIM row on the critical path.
    Returns both spans (cycles, refresh-free) and the refresh-free PIM-only span.
    """
    base = channel_time(p, t, refresh=False).end
    rows = int((p["kind"] == ROW).sum())
    r = max(0, int(reads_per_row))
    free = t.open_row(t.banks) - t.banks - 1 - t.ranks * t.bank_groups
    dual = base + rows * max(0, r - free) * t.comp_spacing
    blocked = base + (rows * (t.rp + t.rcd + (r - 1) * t.readres_spacing + t.rtp) if r else 0)
    return {"pim_only": base, "dual": dual, "blocked": blocked}
