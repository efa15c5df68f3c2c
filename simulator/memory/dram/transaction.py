"""Transaction level: whole tile transfers timed per channel and bank from the same rules, in vectorised form.

API for the NPU / PIM / GPU models (all cycles are controller cycles of `spec.tck`; seconds = cycles x tck):

    transfer(spec, base, nbytes, *, rows=1, stride=None, write=False, start_cycle=0) -> TransferTiming
        `rows` pieces of `nbytes` contiguous bytes, `stride` bytes apart (contiguous when stride is None),
        starting at byte address `base`, issued together (saturating the controllers) at `start_cycle`
        (refresh deadlines fall at multiples of tREFI from cycle 0).
    transfer_addresses(spec, addr, *, write=False, start_cycle=0) -> TransferTiming
        any set of byte addresses, issued together in the given order.
    TransactionMemory(env, *, spec, time_unit=1e-12).transfer(...) -> simpy event
        SimPy component: channels are busy until their share of earlier transfers is done; the event fires when
        the transfer's last channel finishes (env time in `time_unit` seconds, default integer picoseconds).

Model. The requests are decoded (numpy) and counted per controller: requests n, row activations A (row
changes per bank in stream order), activations of the busiest bank, and bank-group spread of the data-bus
stream. A controller's time is the largest of its bounds, stretched by refresh, plus the pipeline latency:

    T_bus  = sum over windows of the queue size of  m x max(tBURST, tCCD_S, tCCD_L / k)   (k bank groups in it)
    T_act  = A_faw x max(tRRD_S, tFAW / 4)             per four-activation-window unit (rank or pseudo-channel)
    T_bank = A_bank x tRC                              busiest bank
    T_cmd  = n + A (dual issue: max(n, 2A)), + A more for 2-cycle HBM row commands (single issue)
    T0     = max(T_bus, T_act, T_bank, T_cmd) / e
    T      = T0 + tRFC x (refresh deadlines in [start, start + T]) + tRCD + CL + tBURST

    with e = e_stream^h x e_random^(1-h), h = 1 - A/n the channel's row-hit fraction.

e_stream and e_random are the controller's scheduling efficiencies relative to these bounds at the two ends
(all row hits, no row hits). They are measured once per memory spec by running the command level on one controller with a
stream and a random pattern spanning several refresh intervals (memoised), so the two levels share the rules
and the controller. Large
contiguous or strided transfers are counted on a prefix that spans whole address-mapping periods and scaled,
so a 1 GiB transfer costs about as much as a 1 MiB one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from simulator.cache import calibration
from simulator.memory.dram import mapping, timing
from simulator.memory.dram.energy import energy_breakdown
from simulator.memory.spec import MemorySpec

ENUMERATE_LIMIT = 1 << 17       # lines counted exactly; larger transfers are counted on a prefix and scaled
CALIBRATION_REQUESTS = 60000   # at most, per calibration pattern
CALIBRATION_REFRESHES = 8       # refresh intervals a calibration pattern spans


@dataclass(frozen=True)
class TransferTiming:
    """Timing of one transfer at the transaction level."""

    cycles: float
    seconds: float
    bytes: float
    requests: float
    activations: float
    per_channel_cycles: np.ndarray
    bound: str                  # which bound set the time of the slowest channel
    energy_j: float

    @property
    def bandwidth(self) -> float:
        """Bytes per second."""
        return self.bytes / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class _Counts:
    controllers: int
    n: np.ndarray               # requests per controller
    acts: np.ndarray            # activations per controller
    t_bus: np.ndarray           # cycles, per controller (max over its data buses)
    t_act: np.ndarray
    t_bank: np.ndarray
    t_cmd: np.ndarray


def _geometry(spec: MemorySpec):
    org, ctrl = spec.organisation, spec.controller
    shared = ctrl.architecture == "shared-buffers"
    return org, ctrl, shared


def _count(spec: MemorySpec, addr: np.ndarray, scale: float = 1.0) -> _Counts:
    """Per-controller bounds (in cycles) for the requests `addr`, in issue order, times `scale`."""
    org, ctrl, shared = _geometry(spec)
    tt = timing.build(spec)
    d = mapping.decode(spec, addr)
    if shared:
        ctl = d.channel
        nctl = org.channels
        bus = d.pc
        nbus = org.pseudo_channels
    else:
        ctl = d.channel * org.pseudo_channels + d.pc
        nctl = org.channels * org.pseudo_channels
        bus = np.zeros_like(ctl)
        nbus = 1
    faw_u = d.pc if (shared and org.pseudo_channels > 1) else d.rank
    bank = ((d.pc * org.ranks + d.rank) * org.bank_groups + d.bankgroup) * org.banks_per_group + d.bank
    nb = org.pseudo_channels * org.ranks * org.bank_groups * org.banks_per_group
    bg = (d.pc * org.ranks + d.rank) * org.bank_groups + d.bankgroup
    n = np.bincount(ctl, minlength=nctl).astype(float)
    # activations: a new row in a bank (stream order) opens it
    key = ctl * nb + bank
    order = np.argsort(key, kind="stable")
    k_s, r_s = key[order], d.row[order]
    new = np.r_[True, (k_s[1:] != k_s[:-1]) | (r_s[1:] != r_s[:-1])]
    act_bank = np.bincount(k_s[new], minlength=nctl * nb).reshape(nctl, nb).astype(float)
    acts = act_bank.sum(axis=1)
    nfaw = int(faw_u.max()) + 1 if faw_u.size else 1
    act_of = np.bincount((ctl * nfaw + faw_u)[order][new], minlength=nctl * nfaw).reshape(nctl, nfaw)
    t_act = act_of.max(axis=1) * max(tt.rrd_s, tt.faw / 4.0)
    t_bank = act_bank.max(axis=1) * tt.trc
    # data bus: windows of the queue size per (controller, bus); k bank groups in a window share tCCD_L
    qsize = ctrl.read_queue
    unit = ctl * nbus + bus
    o2 = np.argsort(unit, kind="stable")
    u_s, g_s = unit[o2], bg[o2]
    first = np.r_[0, np.flatnonzero(u_s[1:] != u_s[:-1]) + 1]
    rank_in_unit = np.arange(u_s.size) - np.repeat(first, np.diff(np.r_[first, u_s.size]))
    win = rank_in_unit // qsize
    wkey = u_s.astype(np.int64) * (int(win.max()) + 1 if win.size else 1) + win
    wk_order = np.lexsort((g_s, wkey))
    wk, gk = wkey[wk_order], g_s[wk_order]
    distinct = np.r_[True, (wk[1:] != wk[:-1]) | (gk[1:] != gk[:-1])]
    uw, inv = np.unique(wk, return_inverse=True)
    kbg = np.bincount(inv, weights=distinct).astype(float)
    m = np.bincount(inv).astype(float)
    spacing = np.maximum(max(tt.burst, tt.ccd_s), tt.ccd_l / np.maximum(kbg, 1.0))
    unit_of_w = uw // (int(win.max()) + 1 if win.size else 1)
    t_unit = np.bincount(unit_of_w, weights=m * spacing, minlength=nctl * nbus).reshape(nctl, nbus)
    t_bus = t_unit.max(axis=1)
    if ctrl.dual_command:
        t_cmd = np.maximum(n, 2 * acts)
    else:
        extra = acts if (ctrl.command_rules == "ramulator2" and spec.standard.upper().startswith("HBM")) else 0
        t_cmd = n + 2 * acts + extra
    return _Counts(nctl, n * scale, acts * scale, t_bus * scale, t_act * scale, t_bank * scale, t_cmd * scale)


def _refresh(spec: MemorySpec) -> tuple[float, float]:
    """(interval between refresh deadlines of a controller, cycles each one costs it)."""
    tt = timing.build(spec)
    ctrl = spec.controller
    if ctrl.refresh == "none":
        return float("inf"), 0.0
    if ctrl.refresh == "all-bank-staggered":
        units = max(1, spec.organisation.ranks)
        return tt.refi / units, tt.rfc / units
    return float(tt.refi), float(tt.rfc)


def _tail(spec: MemorySpec) -> float:
    tt = timing.build(spec)
    tm = spec.timing
    scale = 2 if spec.controller.half_tick else 1
    return tm.tRCD * scale + tt.read_latency


def _predict(spec: MemorySpec, cnt: _Counts, e_stream: float, e_random: float,
             start: float = 0.0) -> tuple[np.ndarray, str]:
    """Cycles per controller for a transfer starting at cycle `start` (refresh deadlines at multiples of the
    refresh interval, as the command level has them), and the bound that set the slowest one."""
    bounds = np.stack([cnt.t_bus, cnt.t_act, cnt.t_bank, cnt.t_cmd])
    hit = np.where(cnt.n > 0, 1.0 - cnt.acts / np.maximum(cnt.n, 1e-9), 1.0).clip(0.0, 1.0)
    eff = np.exp(hit * np.log(e_stream) + (1.0 - hit) * np.log(e_random))
    base = bounds.max(axis=0) / eff
    interval, cost = _refresh(spec)
    per = base.copy()
    if cost > 0:
        for _ in range(4):      # a refresh inside the transfer lengthens it, which may reach the next one
            k = np.floor((start + per) / interval) - np.floor(start / interval)
            per = base + k * cost
    busy = cnt.n > 0
    per = np.where(busy, per + _tail(spec), 0.0)
    slow = int(np.argmax(per)) if per.size else 0
    bound = ("bus", "activation", "bank", "command")[int(np.argmax(bounds[:, slow]))] if per.size else "bus"
    return per, bound


_EFFICIENCIES: dict[str, tuple[float, float]] = {}


def _measure(spec: MemorySpec) -> tuple[float, float]:
    """Efficiencies on one controller: a stream and a uniform random pattern long enough for several
    refresh intervals, both restricted to the addresses of controller 0 (controllers are independent)."""
    from simulator.memory.dram.command import layout, simulate_requests

    org = spec.organisation
    tt = timing.build(spec)
    lines = int(spec.capacity_bytes // org.tx_bytes)
    nctl = layout(spec, np.zeros(1, np.int64)).controllers
    rng = np.random.default_rng(12345)
    out = []
    for kind, per_request in (("stream", max(tt.burst, tt.ccd_s)), ("random", max(tt.rrd_s, tt.faw / 4.0))):
        want = int(np.clip(CALIBRATION_REFRESHES * tt.refi / per_request, 4000, CALIBRATION_REQUESTS))
        cand = want * nctl * 2
        idx = np.arange(min(cand, lines), dtype=np.int64) if kind == "stream" else rng.integers(0, lines, cand)
        addr = idx * org.tx_bytes
        addr = addr[layout(spec, addr).ctl == 0][:want]
        res = simulate_requests(spec, np.zeros(addr.size, np.int64), np.zeros(addr.size, np.int8), addr)
        raw, _ = _predict(spec, _count(spec, addr), 1.0, 1.0)
        tail = _tail(spec)
        ratio = (float(raw.max()) - tail) / max(res.end - tail, 1.0)
        out.append(float(np.clip(ratio, 0.2, 5.0)))
    return out[0], out[1]


def efficiencies(spec: MemorySpec) -> tuple[float, float]:
    """(e_stream, e_random) of `spec`'s controller, measured on the command level once per spec (memoised in the
    process and on disk, simulator/cache.py)."""
    key = spec.model_dump_json()
    if key not in _EFFICIENCIES:
        if len(_EFFICIENCIES) > 64:
            _EFFICIENCIES.clear()
        e_stream, e_random = calibration("dram-efficiency", key, lambda: _measure(spec))
        _EFFICIENCIES[key] = (float(e_stream), float(e_random))
    return _EFFICIENCIES[key]


def _timing_of(spec: MemorySpec, cnt: _Counts, nbytes: float, write: bool, start: float) -> TransferTiming:
    e_bus, e_act = efficiencies(spec)
    per, bound = _predict(spec, cnt, e_bus, e_act, start)
    cycles = float(per.max()) if per.size else 0.0
    seconds = cycles * spec.tck
    requests = float(cnt.n.sum())
    acts = float(cnt.acts.sum())
    counts = {"ACT": acts, "PRE": acts, ("WR" if write else "RD"): requests,
              "REF": cycles / max(timing.build(spec).refi, 1) * cnt.controllers}
    e = energy_breakdown(spec, counts, cycles * cnt.controllers, 0.0, nbytes * 8)
    return TransferTiming(cycles=cycles, seconds=seconds, bytes=nbytes, requests=requests, activations=acts,
                          per_channel_cycles=per, bound=bound, energy_j=e["total"])


def transfer_addresses(spec: MemorySpec, addr: np.ndarray, *, write: bool = False,
                       start_cycle: float = 0.0) -> TransferTiming:
    """Time the requests at byte addresses `addr` (issued together, in this order) from `start_cycle`."""
    addr = np.asarray(addr, np.int64)
    cnt = _count(spec, addr)
    return _timing_of(spec, cnt, float(addr.size * spec.organisation.tx_bytes), write, start_cycle)


def transfer(spec: MemorySpec, base: int, nbytes: int, *, rows: int = 1, stride: int | None = None,
             write: bool = False, start_cycle: float = 0.0) -> TransferTiming:
    """Time a tile transfer: `rows` pieces of `nbytes` contiguous bytes, `stride` bytes apart, from `base`,
    issued at controller cycle `start_cycle` (which decides the refresh deadlines it meets)."""
    tx = spec.organisation.tx_bytes
    if nbytes <= 0 or rows <= 0:
        raise ValueError(f"a transfer needs nbytes > 0 and rows > 0 (got {nbytes}, {rows})")
    contiguous = rows == 1 or stride is None or stride == nbytes
    if contiguous:
        total = -(-(base % tx + nbytes * rows) // tx)
        period = _period_lines(spec)
        take = total if total <= ENUMERATE_LIMIT else max(period, (ENUMERATE_LIMIT // period) * period)
        take = min(take, total)
        addr = (base // tx + np.arange(take, dtype=np.int64)) * tx
        cnt = _count(spec, addr, scale=total / take)
        return _timing_of(spec, cnt, float(nbytes * rows), write, start_cycle)
    per_row = -(-(base % tx + nbytes) // tx)
    keep = rows if rows * per_row <= ENUMERATE_LIMIT else max(1, ENUMERATE_LIMIT // per_row)
    starts = (base + np.arange(keep, dtype=np.int64) * stride) // tx
    addr = ((starts[:, None] + np.arange(per_row, dtype=np.int64)[None, :]) * tx).ravel()
    cnt = _count(spec, addr, scale=rows / keep)
    return _timing_of(spec, cnt, float(nbytes * rows), write, start_cycle)


def stream(spec: MemorySpec, nbytes: int) -> TransferTiming:
    """A contiguous read of `nbytes` from address 0: the stream that calibrates DMA bandwidth and activation rates.
    A channel count that is not a power of two (AttAcc's 80 HBM3 channels) has no bit-field address mapping; its
    channels each see the same interleaved stream, so it is timed on the largest power-of-two count below and its
    time scaled by that count over the real one (each channel's share of the bytes shrinks in proportion)."""
    n = spec.organisation.channels
    if n & (n - 1) == 0:
        return transfer(spec, 0, nbytes)
    p2 = 1 << (n.bit_length() - 1)
    org = spec.organisation.model_copy(update={"channels": p2})
    t = transfer(spec.model_copy(update={"organisation": org}), 0, nbytes)
    f = p2 / n
    return replace(t, cycles=t.cycles * f, seconds=t.seconds * f, per_channel_cycles=t.per_channel_cycles * f)


def _period_lines(spec: MemorySpec) -> int:
    """Lines after which the mapping's non-row fields repeat (rows being the most significant field)."""
    w = mapping.widths(spec)
    return 1 << (sum(w.values()) - w["ro"])


def trace_summary(spec: MemorySpec, inject: np.ndarray, is_write: np.ndarray, addr: np.ndarray) -> dict[str, Any]:
    """memtrace at the transaction level: the trace as one transfer, arrival-limited when it is paced."""
    org = spec.organisation
    tt = timing.build(spec)
    n = int(addr.size)
    cnt = _count(spec, addr)
    e_bus, e_act = efficiencies(spec)
    per, _ = _predict(spec, cnt, e_bus, e_act)
    unloaded = _tail(spec) + (spec.timing.tRP * (2 if spec.controller.half_tick else 1)) + 1
    cycles = max(float(per.max()), float(inject[-1]) + unloaded)
    seconds = cycles * spec.tck
    acts = float(cnt.acts.sum())
    reads = int((~is_write.astype(bool)).sum())
    saturated = float(per.max()) >= float(inject[-1]) + unloaded
    busy = np.maximum(cnt.n, 1)
    if saturated:
        queue = spec.controller.read_queue + (spec.controller.command_queue
                                              if spec.controller.architecture == "bank-queues" else 0)
        depth = np.minimum(queue, busy)
        lat = float(np.average(depth * (per / busy), weights=cnt.n)) if cnt.n.sum() else unloaded
        lat = max(lat, unloaded)
    else:
        lat = unloaded * (1.0 + tt.rfc * tt.rfc / (2.0 * tt.refi * unloaded))
    counts = {"ACT": acts, "PRE": acts, "RD": reads, "WR": n - reads,
              "REF": cycles / max(tt.refi, 1) * cnt.controllers}
    bits = n * org.tx_bytes * 8.0
    e = energy_breakdown(spec, counts, cycles * cnt.controllers, 0.0, bits)
    bw = n * org.tx_bytes / seconds
    ns = spec.tck * 1e9
    return {
        "memory": spec.name, "standard": spec.standard, "level": "transaction",
        "requests": n, "reads": reads, "writes": n - reads, "tx_bytes": org.tx_bytes,
        "sim_cycles": round(cycles), "tck_ns": ns, "sim_time_s": seconds,
        "bandwidth_gbps": bw / 1e9, "peak_bandwidth_gbps": spec.peak_bandwidth / 1e9,
        "utilisation": bw / spec.peak_bandwidth,
        "avg_read_latency_cycles": lat, "avg_read_latency_ns": lat * ns,
        "p50_read_latency_cycles": lat, "p50_read_latency_ns": lat * ns,
        "p99_read_latency_cycles": 2 * lat, "p99_read_latency_ns": 2 * lat * ns,
        "max_read_latency_cycles": 2 * lat, "max_read_latency_ns": 2 * lat * ns,
        "row_hit_rate": max(0.0, 1.0 - acts / n) if n else 0.0,
        "row_miss_rate": None, "row_conflict_rate": None,
        "commands": {k: round(v) for k, v in counts.items()},
        "energy_j": e["total"], "energy_breakdown_j": e,
        "energy_pj_per_bit": e["total"] / bits * 1e12 if bits else 0.0,
        "per_channel": [{"channel": c, "requests": int(cnt.n[c]), "bandwidth_gbps":
                         float(cnt.n[c]) * org.tx_bytes / seconds / 1e9, "cycles": float(per[c])}
                        for c in range(cnt.controllers)],
        "efficiencies": {"stream": e_bus, "random": e_act},
    }


class TransactionMemory:
    """A memory at the transaction level as a SimPy component (environment first, spec as a keyword).

    Each channel is busy until its share of the transfers given so far is done; `transfer(...)` returns an
    event that fires when the transfer's slowest channel finishes. Time in `time_unit` seconds per env unit.
    """

    def __init__(self, env, *, spec: MemorySpec, time_unit: float = 1e-12):
        if time_unit <= 0:
            raise ValueError(f"time_unit must be positive (got {time_unit!r})")
        self._env = env
        self._spec = spec
        self._unit = time_unit
        org = spec.organisation
        n = org.channels if spec.controller.architecture == "shared-buffers" else org.channels * org.pseudo_channels
        self._free = np.zeros(n)
        self._bytes = 0.0

    @property
    def spec(self) -> MemorySpec:
        return self._spec

    @property
    def bytes_moved(self) -> float:
        return self._bytes

    def transfer(self, base: int, nbytes: int, *, rows: int = 1, stride: int | None = None, write: bool = False):
        now = float(self._env.now)
        start = max(now, float(self._free.max()) if self._free.size else now)
        t = transfer(self._spec, base, nbytes, rows=rows, stride=stride, write=write,
                     start_cycle=start * self._unit / self._spec.tck)
        per = t.per_channel_cycles * self._spec.tck / self._unit
        start = np.maximum(self._free, now)
        finish = np.where(per > 0, start + per, self._free)
        self._free = finish
        self._bytes += t.bytes
        end = float(finish.max()) if finish.size else now
        return self._env.timeout(max(0, round(end - now)), value=t)
