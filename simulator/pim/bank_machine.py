"""Command-level PIM timing: a channel program expanded into single commands and issued one at a time through a
per-bank state machine, to cross-check the closed forms of timeline.py (the transaction level).

A row op becomes `banks` PIM_PRE (bank order), one P_HEADER, one G_ACT per bank group and rank, and its
COMPS_READRES (row_commands all-bank: one PIM_PRE and one G_ACT, each for all banks); a GWRITE op one GWRITE.
The per-bank rules and the event loop are in bank_kernel.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from simulator.pim.bank_kernel import C_CR, C_GACT, C_GWRITE, C_HEADER, C_PRE, COUNT_KEYS, NEG, PARAMS, run_program
from simulator.pim.commands import PimTiming
from simulator.pim.mapping import ROW
from simulator.pim.timeline import ChannelTime

PIM_KEYS = COUNT_KEYS[:6]


@dataclass(frozen=True)
class CommandTime(ChannelTime):
    """ChannelTime of the command level plus what the state machine counted and measured."""

    counts: dict[str, float]     # commands issued (cmd.<NAME>); a COMPS_READRES as its COMPs plus one READRES
    steps: int                   # event-loop iterations: one per command issued (PIM, refresh, normal)
    op_issue: np.ndarray         # per op: issue cycle of its GWRITE or first COMPS_READRES
    read_done: np.ndarray        # per normal read (input order): integer cycle its data has returned
    read_latency: float          # mean read_done - arrival (0 without reads)

    @property
    def pim_counts(self) -> dict[str, float]:
        return {k: self.counts[k] for k in PIM_KEYS}


def _per_row(t: PimTiming) -> int:
    """Commands of a row before its COMPS_READRES: the PIM precharges, P_HEADER, the G_ACTs."""
    return t.precharges + 1 + t.activates


def expand(program: dict[str, np.ndarray], t: PimTiming) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Commands of a program: (type, argument, op index). Arguments: PIM_PRE the first bank it closes, G_ACT
    rank x bank_groups + group (bank groups outer, ranks inner: r0g0, r1g0, r0g1, ...; all-bank: rank x
    bank_groups), COMPS_READRES its COMP count."""
    kind = program["kind"]
    per_row = _per_row(t)
    n_cmd = np.where(kind == ROW, per_row + program["readres"], 1)
    first = np.r_[0, np.cumsum(n_cmd)[:-1]]
    cop = np.repeat(np.arange(len(kind), dtype=np.int64), n_cmd)
    pos = np.arange(int(n_cmd.sum()), dtype=np.int64) - first[cop]
    row = kind[cop] == ROW
    j = pos - t.precharges - 1
    ctype = np.select([~row, pos < t.precharges, pos == t.precharges, pos < per_row],
                      [C_GWRITE, C_PRE, C_HEADER, C_GACT], C_CR).astype(np.int64)
    carg = np.select([ctype == C_PRE, ctype == C_GACT, ctype == C_CR],
                     [pos * t.pre_banks, (j % t.ranks) * t.bank_groups + j // t.ranks,
                      program["comps"][cop]], 0).astype(np.int64)
    return ctype, carg, cop


def _params(t: PimTiming, start: int, refresh: bool) -> np.ndarray:
    bpg = t.banks_per_group
    values = {
        "banks": t.banks, "ranks": t.ranks, "bank_groups": t.bank_groups, "banks_per_group": bpg, "rtp": t.rtp,
        "rp": t.rp, "rcd": t.rcd, "ras": t.ras, "rc": t.rc, "faw": t.faw, "rfc": t.rfc,
        "interval": t.refresh_interval, "gwrite": t.gwrite, "comp_spacing": t.comp_spacing, "fill": t.fill,
        "read_latency": t.read_latency, "burst": t.burst, "ccd_s": t.ccd_s, "ccd_l": t.ccd_l,
        "blocked": int(t.row_buffer == "blocked"), "guard": int(t.refresh_guard), "refresh": int(refresh),
        "start": start, "faw_per_gact": 0 if t.all_bank else min(bpg, 4), "pim_act_to_act": t.pim_act_to_act(),
        "normal_after_pim": t.normal_after_pim(), "all_bank": int(t.all_bank), "act_to_comp": t.act_to_comp,
        "last_comp": {"issue": 0, "last-comp": 1, "readres": 2}[t.row_release], "rrd_l": t.rrd_l,
        "pre_banks": t.pre_banks, "act_banks": t.act_banks, "gw_evict": int(t.gwrite_evicts),
    }
    return np.array([values[k] for k in PARAMS], dtype=np.int64)


def run_channel(program: dict[str, np.ndarray], t: PimTiming, start: float = 0.0, refresh: bool = True,
                reads: dict[str, np.ndarray] | None = None) -> CommandTime:
    """Issue one channel's program command by command from absolute cycle `start`; same span fields as
    timeline.channel_time. `reads`: normal 64 B reads, arrays `arrival` (cycle), `bank`, `row`, and optionally
    `op`: when >= 0 the arrival is relative to that op's first issue (GWRITE or first COMPS_READRES), so reads can
    follow the PIM program's own progress; a bank serves its reads in (op, arrival) order."""
    base = int(math.floor(start))
    frac = start - base
    kind = program["kind"]
    ctype, carg, cop = expand(program, t)
    ends = np.cumsum(np.where(kind == ROW, _per_row(t) + program["readres"], 1)) - 1
    after_row = np.r_[False, kind[:-1] == ROW]
    est = np.where(kind == ROW, t.row_estimate(program["header"], np.maximum(program["readres"], 1)),
                   t.gwrite_estimate(after_row))
    reads = reads or {"arrival": [], "bank": [], "row": []}
    bank = np.asarray(reads["bank"], dtype=np.int64)
    op = np.asarray(reads.get("op", np.full(len(bank), -1)), dtype=np.int64)
    order = np.lexsort((np.asarray(reads["arrival"], dtype=np.int64), op, bank))
    r_arr = np.asarray(reads["arrival"], dtype=np.int64)[order]
    sorted_bank = bank[order]
    qstart = np.searchsorted(sorted_bank, np.arange(t.banks), side="left").astype(np.int64)
    qend = np.searchsorted(sorted_bank, np.arange(t.banks), side="right").astype(np.int64)
    r_issue = np.zeros(len(order), dtype=np.int64)
    otime = np.full(len(kind), NEG, dtype=np.int64)
    counts = np.zeros(len(COUNT_KEYS), dtype=np.int64)
    out = np.zeros(3, dtype=np.int64)
    run_program(ctype, carg, cop, ends.astype(np.int64), est.astype(np.int64), r_arr, op[order],
         np.asarray(reads["row"], dtype=np.int64)[order], qstart, qend, _params(t, base, refresh), r_issue, otime,
         counts, out)
    end = float(out[0]) + frac
    done = np.empty(len(order), dtype=np.int64)
    done[order] = r_issue + t.read_latency
    interval = t.refresh_interval
    refreshes = max(0, math.ceil(end / interval) - 1 - int(start // interval)) if refresh else 0
    return CommandTime(start, end, end - start, refreshes, int(out[1]), dict(zip(COUNT_KEYS, counts.astype(float))),
                       int(out[2]), otime + frac, done,
                       float(np.mean(r_issue + t.read_latency - r_arr)) if len(order) else 0.0)


def mixed_run(program: dict[str, np.ndarray], t: PimTiming, reads_per_row: int, bank: int | None = None
              ) -> dict[str, float]:
    """The experiment of timeline.mixed_cycles at command level, refresh-free: `reads_per_row` reads of one DRAM
    row in one bank (default the first bank of the last rank: first bank group, away from the GWRITE row) arrive
    with each PIM row's first COMPS_READRES; spans and mean read latencies in both row-buffer modes."""
    rows = np.flatnonzero(program["kind"] == ROW)
    n = len(rows) * reads_per_row
    b = t.banks - t.banks_per_rank if bank is None else bank
    reads = {"arrival": np.zeros(n), "op": np.repeat(rows, reads_per_row), "bank": np.full(n, b),
             "row": np.ones(n)}
    out = {"pim_only": run_channel(program, t, refresh=False).end}
    for mode in ("dual", "blocked"):
        ct = run_channel(program, replace(t, row_buffer=mode), refresh=False, reads=reads)
        out[mode] = ct.end
        out[f"latency_{mode}"] = ct.read_latency
    return out
