"""Transaction-level timing of a channel program: closed forms per op, cumulative sums, and one step per refresh.

Without refresh every op is anchored to the previous one (`anchor` = issue of the row's last COMPS_READRES, or
of the GWRITE; `drain` = the lag of the command that releases the row (its last COMP under row_release last-comp,
its READRES under readres) behind that issue, else 0):

    row after row       anchor += max(tRTP + drain + open_row, previous comps_readres, tRC - previous tail)
                                  + (readres - 1) x comps_readres(comps)        (all-bank: PRE >= ACT + tRAS)
    row after GWRITE    anchor += max(GWRITE + 1 + open_row, the same bounds from the latest row, less the GWRITEs)
                                  + (readres - 1) x comps_readres(comps)
    GWRITE after row    anchor += drain + gwrite_after_row   (max(tBURST, tCCD_S); evicting: tRTP + tRP + tRCD)
    GWRITE after GWRITE anchor += GWRITE + 1

open_row = banks precharges + P_HEADER + (bank_groups - 1) tFAW + (ranks - 1) + tRCD  (138 on NeuPIMs HBM2), the
first G_ACT no earlier than tRP after its banks' precharges; all-bank (AiM): tRP + act_to_comp
(PimTiming.open_row). When the previous COMPS_READRES's span sets a row's first COMP, its G_ACTs ran `early`
cycles ahead, which the next row's tRAS / tRC bounds count: a clamped recurrence, solved by a log-depth scan.
The program ends when the latest op's data is back (a long row's READRES can outlast the GWRITEs after it).

Refresh (rank-staggered, one rank every tREFI / ranks): the controller checks each row's (and GWRITE's) latency
estimate against the time left to the next refresh when the op reaches the head of its queue; if it does not
fit, PIM idles until the refresh, whose rank is precharged bank by bank and refreshed after tRP; the held op
then restarts with that rank closed, and the rank may not activate before tRFC; the first row after the refresh
(after any GWRITEs) skips the closed ranks' precharges. A refresh of rank 0 also closes the GWRITE row (bank 0 of
rank 0): the next GWRITE re-opens it (ACT, tRCD). Each refresh is one step (a forward search for the first op
whose check + estimate reaches it, and the restarted row's few G_ACTs), so the cost is O(ops + refreshes), not
O(cycles).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from simulator.pim.commands import PimTiming
from simulator.pim.mapping import GWRITE, ROW

_NONE = -1e18        # a bound that does not apply


@dataclass(frozen=True)
class ChannelTime:
    start: float
    end: float
    busy: float          # cycles with PIM work queued (NeuPIMs' pim_cycles)
    refreshes: int       # refreshes that fell inside [start, end)
    held: int            # refreshes that held a PIM op back


class _Schedule(NamedTuple):
    """Refresh-free timing of a program, one entry per op."""

    anchor: np.ndarray       # issue of the row's last COMPS_READRES, or of the GWRITE
    check: np.ndarray        # cycle the op reaches the head of the PIM queue (the refresh guard's check)
    first_comp: np.ndarray   # issue of the row's first COMPS_READRES (GWRITE: its issue)
    early: np.ndarray        # cycles the row's G_ACTs ran ahead of first_comp - act_to_comp (GWRITE: the last row's)
    est: np.ndarray          # the guard's latency estimate
    finish: np.ndarray       # its last data back (row) or its end (GWRITE)
    drain: np.ndarray        # row: its last COMP's lag behind its last COMPS_READRES issue
    entry: np.ndarray        # row: first COMPS_READRES >= the previous op's anchor + entry (GWRITE: its end + open_row)
    span: np.ndarray         # ... >= it + span: the latest earlier row's COMPS_READRES span
    free: np.ndarray         # ... >= it + free: that row's switch (tRTP after its last COMP, open_row)
    tied: np.ndarray         # ... >= it + tied - that row's early: tRAS / tRC from its G_ACTs


def _schedule(p: dict[str, np.ndarray], t: PimTiming, start: float) -> _Schedule:
    """The ops of a program placed from `start` without refresh (closed forms and one cumulative sum)."""
    kind, rr, comps = p["kind"], p["readres"], p["comps"]
    row = kind == ROW
    prev = np.r_[-1, kind[:-1]]
    cc = t.comps_readres(comps)
    tail = (np.maximum(rr, 1) - 1) * cc
    drain = np.where(row, t.drain(comps), 0)
    entry = np.where(prev == GWRITE, t.gwrite + 1 + t.open_row(), np.where(prev < 0, t.open_row(), _NONE))
    span, free, tied = _row_bounds(kind, cc, drain, tail, t)
    early = _clamp_scan(np.where(row, 0.0, -np.inf),
                        np.where(row, np.maximum(span - np.maximum(free, entry), 0.0), np.inf),
                        np.where(row, span - tied, 0.0))
    first = np.maximum(np.maximum(np.maximum(free, tied - np.r_[0.0, early[:-1]]), span), entry)
    delta = np.where(row, first + tail, np.where(prev == GWRITE, t.gwrite + 1,
                                                 np.where(prev == ROW, np.r_[0, drain[:-1]] + t.gwrite_after_row, 0)))
    anchor = start + np.cumsum(delta)
    prev_anchor = np.r_[start, anchor[:-1]]
    check = np.where(prev == ROW, prev_anchor + np.r_[0, drain[:-1]] + 1,
                     np.where(prev == GWRITE, prev_anchor + t.gwrite + 1, start))
    est = np.where(row, t.row_estimate(p["header"], np.maximum(rr, 1)), t.gwrite_estimate(prev == ROW))
    finish = anchor + np.where(row, cc + t.read_latency, t.gwrite)
    return _Schedule(anchor, check, anchor - tail, early, est, finish, drain, entry, span, free, tied)


def _row_bounds(kind: np.ndarray, cc: np.ndarray, drain: np.ndarray, tail: np.ndarray, t: PimTiming
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row, the least cycles from the previous op's anchor to its first COMPS_READRES that the latest earlier
    row sets, across the GWRITEs between them: (its COMPS_READRES span; the row switch that does not depend on
    when its G_ACTs issued; the tRAS / tRC bound from those G_ACTs, to lower by how early they ran)."""
    n = len(kind)
    last_row = np.maximum.accumulate(np.where(kind == ROW, np.arange(n), -1))
    r = np.r_[-1, last_row[:-1]]                 # the latest row before each op
    has, rr = r >= 0, np.maximum(r, 0)
    gwrites = np.arange(n) - 1 - r               # GWRITEs between it and the op
    since = np.where(gwrites > 0, drain[rr] + t.gwrite_after_row + (gwrites - 1) * (t.gwrite + 1), 0)
    free, tied = t.switch_bounds(drain[rr], tail[rr])
    return tuple(np.where(has, bound - since, _NONE) for bound in (cc[rr], free, tied))


def _clamp_scan(lo: np.ndarray, hi: np.ndarray, step: np.ndarray) -> np.ndarray:
    """x_i = max(lo_i, min(hi_i, x_{i-1} + step_i)) from x_{-1} = 0, by composing the clamps in log2(n)
    vectorised doubling rounds (a clamp of a shifted clamp is a clamp)."""
    lo, hi, step = lo.astype(float), np.maximum(hi, lo).astype(float), step.astype(float)
    d = 1
    while d < len(step):
        lo[d:], hi[d:], step[d:] = (np.clip(lo[:-d] + step[d:], lo[d:], hi[d:]),
                                    np.clip(hi[:-d] + step[d:], lo[d:], hi[d:]), step[:-d] + step[d:])
        d *= 2
    return np.clip(step, lo, hi)


def channel_time(p: dict[str, np.ndarray], t: PimTiming, start: float = 0.0, refresh: bool = True) -> ChannelTime:
    """Start and end cycle of one channel's program beginning at absolute cycle `start`."""
    if len(p["kind"]) == 0:
        return ChannelTime(start, start, 0.0, 0, 0)
    s = _schedule(p, t, start)
    if not refresh:
        end = float(s.finish.max())
        return ChannelTime(start, end, end - start, 0, 0)
    return _refreshed(p["kind"], s, t, start)


def _refreshed(kind: np.ndarray, s: _Schedule, t: PimTiming, start: float) -> ChannelTime:
    """The schedule with the refreshes inserted, one step per refresh: the op it holds and where that op and the
    rest (moved by one shift) restart, and the few ops whose start a refresh changed beyond that shift."""
    n, interval = len(kind), t.refresh_interval
    reach = s.check + s.est if t.refresh_guard else s.check
    peak = np.maximum.accumulate(reach)
    rows, gwrites = np.flatnonzero(kind == ROW).tolist(), np.flatnonzero(kind == GWRITE).tolist()
    finish, s, kind = s.finish, _Schedule(*(a.tolist() for a in s)), kind.tolist()   # scalar steps on lists
    st = _State(t, s.first_comp, n)
    index = int(start // interval) + 1           # refresh insertions so far at the next boundary
    held = refreshes = 0
    end = None
    while True:
        boundary = index * interval
        k = _first_at_least(reach, peak, st.k0, boundary - st.shift)
        j = min(st.reopen, st.redo)
        if j < k:                                # an op placed apart that runs before the boundary
            if j == st.reopen:
                st.place(j, _reopened(s, j, st))
                st.gw_act, st.reopen, after = st.at(j) - t.rcd, n, _next(rows, j, n)
                if after < n and s.first_comp[after] - s.anchor[after - 1] > s.entry[after]:
                    st.redo = after              # an earlier row's bound, not the GWRITE, set the next row
            else:
                st.place_row(s, rows, j, s.anchor[j - 1] + st.shift + t.gwrite + 1)
            continue
        if k >= n:
            end = _shifted_end(finish, st.marks) if end is None else end
            if boundary >= end:
                break                            # (an op whose estimate crosses the boundary is held even so)
        refreshes += 1
        rank = (index - 1) % t.ranks
        index += 1
        if k >= n:
            continue
        held += 1
        done = _refresh_done(s, kind, rows, k, boundary, rank, st)
        st.closed[rank] = done
        reopen = st.gw_act is None or rank == 0  # the GWRITE row needs an ACT again
        head = max(done + 1, s.check[k] + (st.shift_at(k - 1) if k else 0.0))   # PIM may issue again
        if kind[k] == ROW:
            st.gw_act = None if reopen and not t.gwrite_evicts else st.gw_act
            st.place_row(s, rows, k, head)
            st.reopen = _next(gwrites, k, n) if reopen and not t.gwrite_evicts else n
        elif t.gwrite_evicts and k > 0 and kind[k - 1] == ROW:   # bank 0 holds a PIM row (or the REF closed it)
            release = s.anchor[k - 1] + st.shift_at(k - 1) + s.drain[k - 1] + t.rtp
            st.gw_act = max(head, done + t.rfc) if rank == 0 else max(head, release) + t.rp
            st.place(k, st.gw_act + t.rcd)
            st.reopen, st.redo, st.gw_reopened = n, _next(rows, k, n), True
        else:
            st.gw_act = max(head, done + t.rfc if rank == 0 else 0) if reopen else st.gw_act
            st.place(k, st.gw_act + t.rcd if reopen else head)
            st.reopen, st.redo = n, _next(rows, k, n)
            st.gw_reopened = st.gw_reopened or t.gwrite_evicts
    return ChannelTime(start, end, end - start, refreshes, held)


class _State:
    """What the refreshes changed so far: per run of ops their shift, the ranks a refresh closed with no row
    since, the GWRITE row, rows whose G_ACTs ran early by other than the schedule's cycles, and the next ops to
    place apart: the GWRITE that re-opens the GWRITE row, and the next row whose bounds moved (after held
    GWRITEs, a re-opened GWRITE, or a row placed apart)."""

    def __init__(self, t: PimTiming, first_comp: list[float], n: int):
        self.t, self.first_comp, self.n = t, first_comp, n
        self.marks: tuple[list[int], list[float]] = ([0], [0.0])   # first op and shift of each run
        self.shift, self.k0 = 0.0, 0
        self.closed: dict[int, float] = {}       # rank -> its REF cycle
        self.gw_act: float | None = _NONE        # ACT of the GWRITE row (bank 0 of rank 0), None: closed
        self.early: dict[int, float] = {}
        self.restarted = (-1, 0.0)               # the last row restarted after a refresh, its rank 0's last G_ACT
        self.reopen = self.redo = n
        self.gw_reopened = False                 # a GWRITE re-opened its row in bank 0 since the refreshes (evict)

    def shift_at(self, i: int) -> float:
        """The shift of op i."""
        return self.marks[1][bisect_right(self.marks[0], i) - 1]

    def at(self, i: int) -> float:
        """Where op i was placed: its first COMPS_READRES, or the GWRITE's issue (ops up to the last placed)."""
        return self.first_comp[i] + self.shift_at(i)

    def early_of(self, s: _Schedule, r: int) -> float:
        """Cycles row r's G_ACTs ran ahead of its first COMP - act_to_comp."""
        return self.early.get(r, s.early[r])

    def place(self, k: int, first: float) -> None:
        """Op k (and, until placed apart, the ops after it) starts at `first`."""
        self.shift = first - self.first_comp[k]
        self.marks[0].append(k)
        self.marks[1].append(self.shift)
        self.k0 = k + 1

    def place_row(self, s: _Schedule, rows: list[int], k: int, p0: float) -> None:
        """Row k, whose commands may start at p0, from its bounds: a restart with the ranks refreshes closed (or
        its entry after the op before), the latest earlier row's span, switch and tRAS / tRC where that row was
        placed; the next row is placed apart too when this one's G_ACTs ran early by other than the schedule's."""
        t, r = self.t, _latest(rows, k)
        if self.closed:
            act, act0 = _restart(t, p0, self.closed, self.gw_reopened and 0 in self.closed)
            self.closed, self.restarted, self.gw_reopened = {}, (k, act0), False
        else:
            act = s.anchor[k - 1] + self.shift + s.entry[k]
        if r >= 0:                               # (the bounds are _NONE without an earlier row)
            base = s.anchor[k - 1] + self.shift_at(r)
            act = max(act, base + s.free[k], base + s.tied[k] - self.early_of(s, r))
            first = max(act, base + s.span[k])
        else:
            first = act
        self.place(k, first)
        self.early[k] = first - act
        self.redo = _next(rows, k, self.n) if first - act != s.early[k] else self.n


def _first_at_least(v: np.ndarray, peak: np.ndarray, k0: int, x: float) -> int:
    """The first index from k0 on where v >= x (len(v) if none): a binary search of v's prefix maximum `peak`,
    unless an op before k0 reaches x there; then a scan in vectorised chunks that double."""
    if k0 == 0 or peak[k0 - 1] < x:
        return max(int(np.searchsorted(peak, x, side="left")), k0)
    width = 64
    while k0 < len(v):
        hit = v[k0:k0 + width] >= x
        if hit.any():
            return k0 + int(hit.argmax())
        k0, width = k0 + width, 2 * width
    return len(v)


def _next(ops: list[int], k: int, n: int) -> int:
    """The first of `ops` (sorted op indices) after op k, or n."""
    i = bisect_right(ops, k)
    return ops[i] if i < len(ops) else n


def _shifted_end(finish: np.ndarray, marks: tuple[list[int], list[float]]) -> float:
    """Last cycle of the program: the latest op end, each op moved by the shift of its run."""
    per_op = np.asarray(marks[1])[np.searchsorted(marks[0], np.arange(len(finish)), side="right") - 1]
    return float(np.max(finish + per_op))


def _latest(rows: list[int], k: int) -> int:
    """The latest row before op k, or -1."""
    i = bisect_left(rows, k)
    return rows[i - 1] if i > 0 else -1


def _refresh_done(s: _Schedule, kind: list[int], rows: list[int], k: int, boundary: int, rank: int, st: _State
                  ) -> float:
    """REF issue cycle of the refresh that holds op k: from the boundary, once the previous op issued, its rank's
    open PIM rows precharged one per cycle (all-bank: one command; tRTP after the latest row's last COMP, tRAS
    after its G_ACTs), then (rank 0) the GWRITE row once its GWRITE is done (and tRAS after its ACT); REF tRP
    after the last."""
    t = st.t
    bus = boundary if k == 0 else max(boundary, s.anchor[k - 1] + st.shift_at(k - 1) + 1)
    r = _latest(rows, k)
    pres = 0 if rank in st.closed else t.rank_precharges
    gw_open = not (t.gwrite_evicts and r >= 0 and kind[k - 1] == ROW)   # (one row buffer: a row evicted it)
    if pres and rank == 0 and t.gwrite_evicts and r >= 0 and gw_open:
        pres -= 1                                # bank 0 holds the GWRITE row, not a PIM row
    last = _NONE
    if pres:
        first = bus
        if r >= 0:
            lead = s.anchor[r] - s.first_comp[r] + st.early_of(s, r)
            first = max(bus, s.anchor[r] + st.shift_at(r) + t.release(s.drain[r], lead))
        last, bus = first + pres - 1, first + pres
    if rank == 0 and st.gw_act is not None and gw_open:
        gw_done = s.finish[k - 1] + st.shift_at(k - 1) if k > 0 and kind[k - 1] == GWRITE else _NONE
        last = max(bus, gw_done, st.gw_act + t.ras)
    return max(bus, last + t.rp)


def _restart(t: PimTiming, p0: float, closed: dict[int, float], gw_row: bool = False) -> tuple[float, float]:
    """A row whose commands start at p0 after refreshes closed the ranks in `closed` (their REF cycle): the other
    ranks' PIM precharges one per cycle, P_HEADER, then the G_ACTs, a closed rank's first tRFC after its REF, an
    open rank's tRP after its first bank group's precharges. `gw_row`: a GWRITE re-opened its row in bank 0 of the
    closed rank 0 (one row buffer), which is precharged first (rank 0's G_ACTs tRP after it). Returns its first
    COMP as the G_ACTs allow (act_to_comp after the last) and rank 0's last G_ACT."""
    first, first0 = _restart_offsets(t, tuple((r, closed[r] - p0) for r in sorted(closed)), gw_row)
    return p0 + first, p0 + first0


@lru_cache(maxsize=4096)
def _restart_offsets(t: PimTiming, closed: tuple[tuple[int, float], ...], gw_row: bool) -> tuple[float, float]:
    """_restart from p0 = 0 (`closed`: rank and REF cycle). The G_ACTs go in the command level's order (bank groups
    in order within a rank, tFAW apart; ranks whichever is ready first, a tie to the earlier command), one per
    cycle: a loop over the row's few G_ACTs, cached, as restarts repeat a few patterns."""
    done = dict(closed)
    opened = [r for r in range(t.ranks) if r not in done]
    lead = int(gw_row)                                    # bank 0's precharge of the GWRITE row
    bus = lead + len(opened) * t.rank_precharges + 1      # after the P_HEADER
    ready = [done[r] + t.rfc if r in done else 0.0 for r in range(t.ranks)]
    if gw_row:
        ready[0] = max(ready[0], t.rp)
    for i, r in enumerate(opened):
        ready[r] = lead + i * t.rank_precharges + t.group_closing + t.rp
    groups = 1 if t.all_bank else t.bank_groups
    issued, last = [0] * t.ranks, [0.0] * t.ranks
    for _ in range(t.ranks * groups):
        r = min((r for r in range(t.ranks) if issued[r] < groups),
                key=lambda r: (max(ready[r], bus), issued[r] * t.ranks + r))
        last[r] = max(ready[r], bus)
        bus, ready[r] = last[r] + 1, last[r] + t.faw
        issued[r] += 1
    return max(last) + t.act_to_comp, last[0]


def _reopened(s: _Schedule, j: int, st: _State) -> float:
    """Issue of GWRITE j, which re-opens the GWRITE row a refresh of rank 0 closed: an ACT on the cycle after the
    previous row's last COMP and act_after_row after rank 0's last G_ACT of that row, then tRCD (never sooner
    than a GWRITE with its row open)."""
    t, shift = st.t, st.shift
    last_comp = s.anchor[j - 1] + shift + s.drain[j - 1]
    act0 = (st.restarted[1] if st.restarted[0] == j - 1
            else s.first_comp[j - 1] + shift - st.early_of(s, j - 1) - t.act_to_comp - t.rank_lag)
    return max(max(last_comp + 1, act0 + t.act_after_row) + t.rcd, last_comp + t.comp_spacing)


def expected_cycles(p: dict[str, np.ndarray], t: PimTiming) -> float:
    """Closed-form estimate for schedulers: the refresh-free span inflated by the expected cost of a refresh
    (mean hold-back of est - period / 2 plus the restart after tRFC) per refresh interval."""
    if len(p["kind"]) == 0:
        return 0.0
    s = _schedule(p, t, 0.0)
    base = float(s.finish.max())
    period = np.diff(np.r_[0.0, s.check])
    rows = p["kind"] == ROW
    hold = float(np.mean(np.clip(s.est[rows] - period[rows] / 2, 0, None))) if rows.any() else 0.0
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
