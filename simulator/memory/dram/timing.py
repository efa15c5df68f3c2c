"""Command-to-command spacing tables derived from a device's JEDEC timing parameters.

The bank state machine of both fidelity levels reads one table, `T[scope, issued, following]`: the minimum
number of controller cycles between a command `issued` to one bank and a command `following` to a bank at
`scope` from it (-1: no constraint). Scopes, nearest first:

    0 same bank, 1 other bank of the same bank group, 2 other bank group of the same rank,
    3 other rank (or HBM3 stack id) of the same pseudo-channel, 4 other pseudo-channel of the same channel.

Rank-wide commands (all-bank refresh, precharge-all) use `R[issued, following]` on every bank of the rank.
Two derivations are offered, named after the reference simulators whose rules they follow:
`dramsim3` (read_to_write = CL + tBURST - CWL + tRTRS, read_to_precharge = tRTP, ...) and `ramulator2`
(constraints per hierarchy level, e.g. RD->WR = CL + tBURST + 2 - CWL, the 2-cycle HBM ACT). Both enforce the
JEDEC set: tRCD, tRP, tRAS, tRC, CL/CWL, burst, tCCD_S/L, tRRD_S/L, tFAW, tWR, tRTP, tWTR_S/L, tRFC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.memory.spec import MemorySpec

ACT, RD, WR, RDA, WRA, PRE, REF, PREA = range(8)
NCMD = 8
COMMAND_NAMES = ("ACT", "RD", "WR", "RDA", "WRA", "PRE", "REF", "PREA")
NSCOPE = 5
# which scopes a constraint declared at a hierarchy level reaches (Ramulator-style levels)
_LEVEL_SCOPES = {"bank": (0,), "bankgroup": (0, 1), "rank": (0, 1, 2), "pseudochannel": (0, 1, 2, 3),
                 "channel": (0, 1, 2, 3, 4)}


@dataclass(frozen=True)
class TimingTables:
    """Everything the kernels need about time, in controller cycles."""

    table: np.ndarray          # int64 [NSCOPE, NCMD, NCMD]
    rank_table: np.ndarray     # int64 [NCMD, NCMD]: after a rank-wide command, on every bank of that rank
    faw: int                   # four-activation window
    read_latency: int          # RD issue -> data returned (CL + burst)
    write_latency: int         # WR issue -> data written (CWL + burst)
    burst: int                 # cycles one burst holds the data bus
    refi: int
    rfc: int
    trc: int
    rrd_s: int
    ccd_s: int
    ccd_l: int


def _t(spec: MemorySpec) -> dict[str, int]:
    tm = spec.timing
    if tm is None:
        raise ValueError(f"memory '{spec.name}' has no timing section; the DRAM model needs one")
    org = spec.organisation
    scale = 2 if spec.controller.half_tick else 1
    v = {k: round(getattr(tm, k)) for k in (
        "CL", "CWL", "tRCD", "tRP", "tRAS", "tCCD_S", "tCCD_L", "tRRD_S", "tRRD_L", "tFAW", "tWR", "tRTP_S",
        "tWTR_S", "tWTR_L", "tRFC", "tREFI", "tRTRS", "tPPD")}
    v["tRCDWR"] = round(tm.tRCDWR) if tm.tRCDWR is not None else v["tRCD"]
    v["tRC"] = round(tm.rc)
    v["tRTP_L"] = round(tm.tRTP_L) if tm.tRTP_L is not None else v["tRTP_S"]
    v["tCCD_R"] = round(tm.tCCD_R) if tm.tCCD_R is not None else v["tCCD_S"]
    v["tBURST"] = round(tm.tBURST) if tm.tBURST is not None else max(1, org.burst_length // 2)
    if scale != 1:
        v = {k: x * scale for k, x in v.items()}
    return v


def build(spec: MemorySpec) -> TimingTables:
    """The spacing tables of `spec` under its controller's `command_rules`."""
    v = _t(spec)
    groups = spec.organisation.bank_groups > 1
    if spec.controller.command_rules == "dramsim3":
        table, rank_table = _dramsim3(v, groups)
    else:
        table, rank_table = _ramulator2(v, groups, two_cycle_act=spec.standard.upper().startswith("HBM"))
    return TimingTables(table=table, rank_table=rank_table, faw=v["tFAW"], read_latency=v["CL"] + v["tBURST"],
                        write_latency=v["CWL"] + v["tBURST"], burst=v["tBURST"], refi=v["tREFI"], rfc=v["tRFC"],
                        trc=v["tRC"], rrd_s=v["tRRD_S"], ccd_s=v["tCCD_S"], ccd_l=v["tCCD_L"])


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.full((NSCOPE, NCMD, NCMD), -1, np.int64), np.full((NCMD, NCMD), -1, np.int64)


def _put(table: np.ndarray, scopes, issued, following, cycles: int) -> None:
    for s in scopes:
        for a in issued:
            for b in following:
                table[s, a, b] = max(table[s, a, b], cycles)


def _dramsim3(v: dict[str, int], has_groups: bool) -> tuple[np.ndarray, np.ndarray]:
    """DRAMsim3's derivation (timing.cc): separate lists for same bank / bank group / rank / other ranks."""
    T, R = _empty()
    bl = v["tBURST"]
    rd_rd_l = max(bl, v["tCCD_L"] if has_groups else v["tCCD_S"])
    rd_rd_s = max(bl, v["tCCD_S"])
    rd_rd_o = bl + v["tRTRS"]
    rd_wr = v["CL"] + bl - v["CWL"] + v["tRTRS"]
    rd_wr_o = (v["CL"] + bl) + bl + v["tRTRS"] - (v["CWL"] + bl)
    rd_pre = v["tRTP_S"]
    rda_act = bl + v["tRTP_S"] + v["tRP"]
    wdelay = v["CWL"] + bl
    wr_rd_l = wdelay + (v["tWTR_L"] if has_groups else v["tWTR_S"])
    wr_rd_s = wdelay + v["tWTR_S"]
    wr_rd_o = wdelay + bl + v["tRTRS"] - (v["CL"] + bl)
    wr_wr_l, wr_wr_s, wr_wr_o = rd_rd_l, rd_rd_s, bl
    wr_pre = v["CWL"] + bl + v["tWR"]
    rd_act, wr_act = rd_pre + v["tRP"], wr_pre + v["tRP"]
    rrd_l = v["tRRD_L"] if has_groups else v["tRRD_S"]
    cols_r, cols_w = (RD, RDA), (WR, WRA)
    # column commands
    for issued in ((RD,), (RDA,)):
        _put(T, (0, 1), issued, cols_r, rd_rd_l)
        _put(T, (0, 1), issued, cols_w, rd_wr)
        _put(T, (2,), issued, cols_r, rd_rd_s)
        _put(T, (2,), issued, cols_w, rd_wr)
        _put(T, (3, 4), issued, cols_r, rd_rd_o)
        _put(T, (3, 4), issued, cols_w, rd_wr_o)
    for issued in ((WR,), (WRA,)):
        _put(T, (0, 1), issued, cols_r, wr_rd_l)
        _put(T, (0, 1), issued, cols_w, wr_wr_l)
        _put(T, (2,), issued, cols_r, wr_rd_s)
        _put(T, (2,), issued, cols_w, wr_wr_s)
        _put(T, (3, 4), issued, cols_r, max(wr_rd_o, 0))
        _put(T, (3, 4), issued, cols_w, wr_wr_o)
    _put(T, (0,), (RD,), (PRE,), rd_pre)
    _put(T, (0,), (WR,), (PRE,), wr_pre)
    _put(T, (0,), (RDA,), (ACT,), rda_act)
    _put(T, (0,), (RDA,), (REF,), rd_act)
    _put(T, (0,), (WRA,), (ACT, REF), wr_act)
    # row commands
    _put(T, (0,), (ACT,), (ACT,), v["tRC"])
    _put(T, (0,), (ACT,), cols_r, v["tRCD"])
    _put(T, (0,), (ACT,), cols_w, v["tRCDWR"])
    _put(T, (0,), (ACT,), (PRE,), v["tRAS"])
    _put(T, (1,), (ACT,), (ACT,), rrd_l)
    _put(T, (2,), (ACT,), (ACT,), v["tRRD_S"])
    _put(T, (0,), (PRE,), (ACT, REF), v["tRP"])
    if v["tPPD"]:
        _put(T, (1, 2), (PRE,), (PRE,), v["tPPD"])
    _put(R[None], (0,), (REF,), (ACT, REF), v["tRFC"])
    return T, R


def _ramulator2(v: dict[str, int], has_groups: bool, two_cycle_act: bool) -> tuple[np.ndarray, np.ndarray]:
    """Ramulator 2's derivation: each constraint holds at one hierarchy level (and everything below it)."""
    T, R = _empty()
    bl = v["tBURST"]
    if two_cycle_act:   # HBM row commands take 2 cycles of the shared row-command bus
        _put(T, _LEVEL_SCOPES["channel"], (ACT,), (ACT, PRE, PREA, REF), 2)

    def at(level, issued, following, cycles, sibling=False):
        scopes = (3,) if sibling else _LEVEL_SCOPES[level]
        _put(T, scopes, issued, following, cycles)

    rd, wr = (RD, RDA), (WR, WRA)
    # data bus and column-to-column
    at("pseudochannel", rd, rd, max(bl, v["tCCD_S"]))
    at("pseudochannel", wr, wr, max(bl, v["tCCD_S"]))
    at("bankgroup", rd, rd, v["tCCD_L"] if has_groups else v["tCCD_S"])
    at("bankgroup", wr, wr, v["tCCD_L"] if has_groups else v["tCCD_S"])
    at("pseudochannel", rd, wr, v["CL"] + bl + 2 - v["CWL"])
    at("pseudochannel", wr, rd, v["CWL"] + bl + v["tWTR_S"])
    at("bankgroup", wr, rd, v["CWL"] + bl + (v["tWTR_L"] if has_groups else v["tWTR_S"]))
    # other rank / stack id: bus turnaround
    at("rank", rd, rd, bl + v["tRTRS"], sibling=True)
    at("rank", wr, wr, bl + v["tRTRS"], sibling=True)
    at("rank", rd, wr, v["CL"] + bl + v["tRTRS"] - v["CWL"], sibling=True)
    at("rank", wr, rd, v["CWL"] + bl + v["tRTRS"] - v["CL"], sibling=True)
    if v["tCCD_R"] != v["tCCD_S"]:
        at("rank", rd, rd, v["tCCD_R"], sibling=True)
    # row commands
    at("pseudochannel", (ACT,), (ACT,), v["tRRD_S"])
    at("bankgroup", (ACT,), (ACT,), v["tRRD_L"] if has_groups else v["tRRD_S"])
    at("bank", (ACT,), (ACT,), v["tRC"])
    at("bank", (ACT,), rd, v["tRCD"])
    at("bank", (ACT,), wr, v["tRCDWR"])
    at("bank", (ACT,), (PRE,), v["tRAS"])
    at("bank", (PRE,), (ACT,), v["tRP"])
    at("bank", (RD,), (PRE,), v["tRTP_L"])
    at("bank", (WR,), (PRE,), v["CWL"] + bl + v["tWR"])
    at("bank", (RDA,), (ACT,), v["tRTP_L"] + v["tRP"])
    at("bank", (WRA,), (ACT,), v["CWL"] + bl + v["tWR"] + v["tRP"])
    # refresh prerequisites (ACT/PRE/column -> REF or PREA of the rank)
    at("pseudochannel", (ACT,), (REF,), v["tRC"])
    at("pseudochannel", (PRE, PREA), (REF,), v["tRP"])
    at("pseudochannel", (RDA,), (REF,), v["tRP"] + v["tRTP_S"])
    at("pseudochannel", (WRA,), (REF,), v["CWL"] + bl + v["tWR"] + v["tRP"])
    at("pseudochannel", (ACT,), (PREA,), v["tRAS"])
    at("pseudochannel", (RD,), (PREA,), v["tRTP_S"])
    at("pseudochannel", (WR,), (PREA,), v["CWL"] + bl + v["tWR"])
    R[REF, ACT] = R[REF, REF] = v["tRFC"]
    R[PREA, ACT] = R[PREA, REF] = v["tRP"]
    return T, R
