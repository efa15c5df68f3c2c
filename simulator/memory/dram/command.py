"""Command level: every request through the controller and the bank state machine (see the kernels).

`simulate_requests(spec, inject, is_write, addr)` replays requests (trace order, arrival cycles) and returns a
`CommandResult` with per-request issue/completion cycles and per-channel command and background counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.memory.dram import (
    kernel_bank_queues,
    kernel_shared_buffers,
    mapping,
    timing,
)
from simulator.memory.spec import MemorySpec

OFFERS_PER_CYCLE = 16   # trace injection of the references: at most 16 offers per memory clock


@dataclass
class Layout:
    """How flat bank indices of one controller relate: scopes, refresh units, tFAW units, queues."""

    controllers: int
    banks: int                  # banks per controller
    ctl: np.ndarray             # per request
    bank: np.ndarray            # per request
    row: np.ndarray
    scope: np.ndarray           # int64 [banks, banks]
    ref_unit: np.ndarray
    faw_unit: np.ndarray
    queue_of: np.ndarray
    pc_of: np.ndarray           # pseudo-channel of each bank (shared-buffers)
    queues: int
    units: int


def layout(spec: MemorySpec, addr: np.ndarray) -> Layout:
    org, ctrl = spec.organisation, spec.controller
    d = mapping.decode(spec, addr)
    shared = ctrl.architecture == "shared-buffers"
    pcs_in = org.pseudo_channels if shared else 1
    nb_rank = org.bank_groups * org.banks_per_group
    nb = pcs_in * org.ranks * nb_rank
    if shared:
        ctl = d.channel
        bank = ((d.pc * org.ranks + d.rank) * org.bank_groups + d.bankgroup) * org.banks_per_group + d.bank
        controllers = org.channels
    else:
        ctl = d.channel * org.pseudo_channels + d.pc
        bank = (d.rank * org.bank_groups + d.bankgroup) * org.banks_per_group + d.bank
        controllers = org.channels * org.pseudo_channels
    b = np.arange(nb)
    bpc = b // (org.ranks * nb_rank)
    brank = b // nb_rank
    bbg = b // org.banks_per_group
    scope = np.where(b[:, None] == b[None, :], 0,
                     np.where(bpc[:, None] != bpc[None, :], 4,
                              np.where(brank[:, None] != brank[None, :], 3,
                                       np.where(bbg[:, None] != bbg[None, :], 2, 1)))).astype(np.int64)
    if ctrl.refresh == "per-bank":
        ref_unit = b.copy()
    elif shared and org.pseudo_channels > 1:
        ref_unit = bpc.copy()
    else:
        ref_unit = brank.copy()
    faw_unit = bpc.copy() if (shared and org.pseudo_channels > 1) else brank.copy()
    if ctrl.queue_structure == "per-rank":
        queue_of, queues = brank.copy(), int(brank.max()) + 1
    else:
        queue_of, queues = b.copy(), nb
    return Layout(controllers=controllers, banks=nb, ctl=ctl.astype(np.int64), bank=bank.astype(np.int64),
                  row=d.row.astype(np.int64), scope=scope, ref_unit=ref_unit.astype(np.int64),
                  faw_unit=faw_unit.astype(np.int64), queue_of=queue_of.astype(np.int64),
                  pc_of=bpc.astype(np.int64), queues=queues,
                  units=int(ref_unit.max()) + 1)


def previous_same(addr: np.ndarray, is_write: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each request, the index of the latest earlier read and earlier write to the same address (-1)."""
    n = addr.shape[0]
    prevr = np.full(n, -1, np.int64)
    prevw = np.full(n, -1, np.int64)
    if n == 0:
        return prevr, prevw
    order = np.lexsort((np.arange(n), addr))
    a = addr[order]
    w = is_write[order].astype(bool)
    start = np.r_[True, a[1:] != a[:-1]]
    pos = np.arange(n)
    for flag, out in ((False, prevr), (True, prevw)):
        last = _segmented_max(np.where(w == flag, pos, -1), start)
        prev = np.r_[-1, last[:-1]]
        prev[start] = -1
        out[order] = np.where(prev >= 0, order[np.maximum(prev, 0)], -1)
    return prevr, prevw


def _segmented_max(values: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Running maximum of `values` that restarts where `start` is True (values are -1 or positions)."""
    seg = np.cumsum(start)
    # positions grow, so a running max over (segment, value) pairs encoded in one key stays inside a segment
    big = values.shape[0] + 1
    key = np.where(values >= 0, seg * big + values, seg * big - 1)
    run = np.maximum.accumulate(key)
    out = run - seg * big
    return np.where(out >= 0, out, -1)


@dataclass
class CommandResult:
    arrive: np.ndarray         # cycle each request entered the controller
    issue: np.ndarray          # cycle of the column command of each request (writes: acceptance)
    done: np.ndarray           # cycle each read returned its data
    kind: np.ndarray           # 0 row hit, 1 miss (bank closed), 2 conflict, 3 merged/forwarded
    counts: np.ndarray         # [controllers, NCMD]
    background: np.ndarray     # [controllers, 2] rank-cycles with a bank open / all precharged
    end: int                   # last read return cycle
    layout: Layout


def simulate_requests(spec: MemorySpec, inject: np.ndarray, is_write: np.ndarray, addr: np.ndarray,
                      *, offers_per_cycle: int = OFFERS_PER_CYCLE) -> CommandResult:
    """Replay requests through the command-level model of `spec`."""
    inject = np.ascontiguousarray(inject, np.int64)
    is_write = np.ascontiguousarray(is_write, np.int8)
    addr = np.ascontiguousarray(addr, np.int64)
    lay = layout(spec, addr)
    tt = timing.build(spec)
    ctrl = spec.controller
    n = inject.shape[0]
    prevr, prevw = previous_same(addr, is_write)
    R = tt.rank_table.copy()
    interval = tt.refi
    refresh_mode = {"none": 0, "all-bank": 1, "all-bank-staggered": 2, "per-bank": 2}[ctrl.refresh]
    if ctrl.refresh == "all-bank-staggered":
        interval = max(1, tt.refi // max(1, lay.units))
    elif ctrl.refresh == "per-bank":
        tm = spec.timing
        scale = 2 if ctrl.half_tick else 1
        interval = int(tm.tREFIpb * scale) if tm.tREFIpb else max(1, tt.refi // lay.banks)
        rfc_pb = int(tm.tRFCpb * scale) if tm.tRFCpb else max(1, tt.rfc // 4)
        R[timing.REF, timing.ACT] = R[timing.REF, timing.REF] = rfc_pb
    page = {"open": 0, "closed": 1, "capped-open": 2}[ctrl.page_policy]
    P = np.array([lay.controllers, lay.banks, ctrl.read_queue, ctrl.write_queue, ctrl.command_queue,
                  tt.read_latency, tt.faw, interval, int(ctrl.dual_command), page, ctrl.row_hit_cap or 0,
                  int(ctrl.scheduler == "fcfs"), ctrl.write_drain_threshold, offers_per_cycle, refresh_mode,
                  # write mode (x10 to compare in integers): enter above high x size, leave below low x size
                  round(ctrl.write_low_watermark * ctrl.write_queue * 10),
                  round(ctrl.write_high_watermark * ctrl.write_queue * 10), int(ctrl.half_tick)], np.int64)
    arrive = np.full(n, -1, np.int64)
    issue = np.full(n, -1, np.int64)
    done = np.full(n, -1, np.int64)
    kind = np.full(n, -1, np.int8)
    counts = np.zeros((lay.controllers, timing.NCMD), np.int64)
    bgc = np.zeros((lay.controllers, 2), np.int64)
    if ctrl.architecture == "bank-queues":
        run, per_bank = kernel_bank_queues.run, lay.queue_of
    else:
        run, per_bank = kernel_shared_buffers.run, lay.pc_of
    end = run(inject, is_write, lay.ctl, lay.bank, lay.row, prevr, prevw, lay.scope, lay.ref_unit,
              lay.faw_unit, per_bank, lay.queues, lay.units, tt.table, R, P, arrive, issue, done, kind, counts, bgc)
    return CommandResult(arrive=arrive, issue=issue, done=done, kind=kind, counts=counts, background=bgc, end=int(end),
                         layout=lay)
