"""PIM commands and their timing rules, derived from the memory's JEDEC table (no numbers of their own).

Commands (NeuPIMs / Newton naming), all addressed to one channel:

    GWRITE         write one input-vector chunk (one DRAM row) into the channel's global buffer
    P_HEADER       descriptor of the next PIM row: row address, COMP and READRES counts (no DRAM timing)
    G_ACT          activate one row in every bank of one bank group, into the PIM row buffer
                   (row_commands all-bank: in every bank of the channel, AiM's ACT16)
    COMP           all-bank MAC of one column burst against the global buffer
    READRES        read the per-bank accumulators back over the channel
    COMPS_READRES  fused: n COMPs then one READRES
    PIM_PRE        PIM precharge of one bank (all-bank: of every bank, AiM's PREA)

Spacings (cycles of tCK; `docs/pim.md` has the table with their sources):

    GWRITE busy          = gwrite_bursts x (tCCD_S + tCCD_L)                          (96 on NeuPIMs HBM2)
                           (gwrite_spacing burst: gwrite_bursts x max(tBURST, tCCD_S), AiM's WRGB)
    COMP -> COMP         = max(tBURST, tCCD_S, PU pace = banks_per_pu x coverage / macs_per_bank PU clocks)
    COMPS_READRES(n) ->  = max(tBURST, tCCD_S) x (max(n, pipeline_fill) + 1)        next COMPS_READRES
    COMP -> PIM_PRE      = pim_to_precharge (tRTP), from the COMPS_READRES issue (row_release issue) or from
                           its last COMP (last-comp, (n - 1) COMP spacings later); all-bank: >= G_ACT + tRAS
    PIM_PRE -> G_ACT     = tRP (same bank)
    G_ACT -> G_ACT       = tFAW in one rank (a G_ACT is four activations), tRC in one bank group
                           (all-bank: tRC; no tFAW; tRRD_L to and from a single-bank ACT)
    G_ACT -> COMP        = act_to_comp (tRCD)
    REF -> G_ACT         = tRFC
One command per cycle on the channel's command bus; PIM precharges go bank by bank (all-bank: one).

Row-buffer modes, for normal accesses that share the banks with PIM (`row_buffer`):

    dual     normal RD/WR after a PIM access in the same bank or bank group: 0 instead of tCCD_L;
             PIM to precharge: 0; PIM-ACT <-> ACT in one bank: tRRD_L instead of tRC     (NeuPIMs)
    blocked  one row buffer: a normal access to a bank that PIM holds waits for the PIM precharge, then pays
             its own ACT, column accesses, tRTP and tRP before PIM may activate again     (Newton)
             with row_release readres (the NeuPIMs artifact's Newton branch) the GWRITE's source row in bank 0
             also evicts that bank's PIM row: gwrite_evicts, gwrite_after_row
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from simulator.errors import ConfigError
from simulator.memory.spec import MemorySpec
from simulator.pim.spec import PimSpec

COMMANDS = ("GWRITE", "P_HEADER", "G_ACT", "COMP", "READRES", "COMPS_READRES", "PIM_PRE")


@dataclass(frozen=True)
class PimTiming:
    """Everything the PIM timeline needs, in memory controller cycles (tCK); derived values cached per instance
    (the transaction level reads them once per refresh step)."""

    tck: float
    channels: int
    ranks: int
    bank_groups: int
    banks: int                 # banks per channel, all ranks
    row_elements: int          # elements of one DRAM row (one GWRITE chunk)
    coverage: int              # elements per bank per COMP
    burst: int
    ccd_s: int
    ccd_l: int
    rcd: int
    act_to_comp: int           # G_ACT -> COMP (tRCD, or the PIM unit's own)
    rp: int
    ras: int
    rc: int
    rrd_l: int
    faw: int
    rtp: int                   # COMP/READRES -> PIM precharge
    read_latency: int          # CL + burst
    refi: int
    rfc: int
    gwrite: int
    fill: int
    row_buffer: str
    refresh_guard: bool
    pu_ticks: int = 1          # tCK one processing unit needs per COMP (slow PU clock, banks sharing a PU)
    row_commands: str = "per-bank-group"   # PimSpec.row_commands
    row_release: str = "issue"             # PimSpec.row_release

    @cached_property
    def banks_per_rank(self) -> int:
        return self.banks // self.ranks

    @cached_property
    def comp_spacing(self) -> int:
        """COMP -> COMP: one column burst per bank, or the processing unit's own pace if it is slower."""
        return max(self.burst, self.ccd_s, self.pu_ticks)

    @cached_property
    def readres_spacing(self) -> int:
        return max(self.burst, self.ccd_l)

    def comps_readres(self, n):
        """Cycles from one COMPS_READRES of n COMPs to the next (adder-tree fill included)."""
        import numpy as np

        return self.comp_spacing * (np.maximum(n, self.fill) + 1)

    @cached_property
    def all_bank(self) -> bool:
        return self.row_commands == "all-bank"

    @cached_property
    def banks_per_group(self) -> int:
        return self.banks // (self.ranks * self.bank_groups)

    @cached_property
    def rank_precharges(self) -> int:
        """PIM precharge commands that close one rank's PIM rows: one per bank, or one all-bank command."""
        return 1 if self.all_bank else self.banks_per_rank

    @cached_property
    def precharges(self) -> int:
        """PIM precharge commands of a row switch."""
        return self.ranks * self.rank_precharges

    @cached_property
    def activates(self) -> int:
        """G_ACT commands of a row switch: one per bank group and rank, or one all-bank activate."""
        return self.ranks * (1 if self.all_bank else self.bank_groups)

    @cached_property
    def pre_banks(self) -> int:
        """Banks one PIM precharge closes."""
        return self.banks_per_rank // self.rank_precharges

    @cached_property
    def act_banks(self) -> int:
        """Banks one G_ACT opens."""
        return self.banks_per_rank if self.all_bank else self.banks_per_group

    @cached_property
    def act_chain(self) -> int:
        """A rank's first G_ACT of a row switch -> its first COMP: the tFAW-spaced G_ACTs, then act_to_comp."""
        return (0 if self.all_bank else (self.bank_groups - 1) * self.faw) + self.act_to_comp

    @cached_property
    def act_after_row(self) -> int:
        """A rank's last G_ACT -> a single-bank ACT: tFAW (the G_ACT filled the window), or tRRD_L after an
        all-bank activate."""
        return self.rrd_l if self.all_bank else self.faw

    def open_row(self) -> int:
        """First precharge of a PIM row switch -> its first COMP: the precharges one per cycle (bank order, or
        one all-bank command), P_HEADER, then the G_ACTs (one per bank group, ranks interleaved, tFAW apart
        within a rank; or one all-bank activate), none before tRP after the precharge of its banks (it binds
        when a bank group's precharges end less than tRP before the P_HEADER, e.g. 16 banks with tRP 17, and
        always after an all-bank precharge), then act_to_comp."""
        return self._first_act + self.rank_lag + self.act_chain

    @cached_property
    def group_closing(self) -> int:
        """Cycle of the precharge that closes a rank's first G_ACT's banks, from the rank's first precharge."""
        return 0 if self.all_bank else self.banks_per_group - 1

    @cached_property
    def _first_act(self) -> int:
        """Rank 0's first G_ACT of a row switch, counted from its first precharge."""
        return max(self.precharges + 1, self.group_closing + self.rp)

    @cached_property
    def rank_lag(self) -> int:
        """Cycles the last rank's G_ACTs trail rank 0's in a row switch (one per rank, or tRP after the
        precharge that closes its first G_ACT's banks)."""
        lag = (self.ranks - 1) * self.rank_precharges + self.group_closing + self.rp - self._first_act
        return max(self.ranks - 1, lag)

    def drain(self, n):
        """Cycles from a COMPS_READRES of n COMPs issuing to the command that releases the row and the global
        buffer: its last COMP (row_release last-comp), its READRES (readres: NewtonSim times a READRES >= the
        last COMP + max(tBURST, tCCD_S) and >= the first COMP + fill x tCCD_S, channel_state.cc
        UpdateTimingForPIM), or 0 when the fused issue does (NeuPIMs)."""
        import numpy as np

        if self.row_release == "readres":
            return np.maximum(self.comp_spacing * np.maximum(n, 1), self.fill * self.ccd_s)
        return self.comp_spacing * (np.maximum(n, 1) - 1) * int(self.row_release == "last-comp")

    def release(self, drain: float, tail: float) -> float:
        """A row's last COMPS_READRES issue -> its first PIM precharge: tRTP after the drain, and (all-bank)
        tRAS after the activate, which was act_to_comp + `tail` cycles before that issue."""
        return max(drain + self.rtp, self.ras - self.act_to_comp - tail if self.all_bank else 0)

    def switch_bounds(self, drain, tail):
        """A row's last COMPS_READRES issue -> the next row's first COMP, as the row switch bounds it: (tRTP after
        the drain, then open_row; tRAS (all-bank) before the precharge and tRC between the two rows' G_ACTs, for
        G_ACTs act_to_comp + `tail` before that issue: less by as many cycles as they ran earlier)."""
        import numpy as np

        tied = self.rc - tail
        if self.all_bank:
            tied = np.maximum(tied, self.ras - self.act_to_comp - tail + self.open_row())
        return drain + self.rtp + self.open_row(), tied

    @cached_property
    def refresh_interval(self) -> int:
        """Rank-staggered all-bank refresh: one rank every tREFI / ranks."""
        return max(1, self.refi // self.ranks)

    def row_estimate(self, header_comps, readres):
        """The controller's latency estimate of a PIM row (NeuPIMs EstimatePIMOperationLatency), all banks open
        on another row: used to hold a row back before a refresh."""
        import numpy as np

        return (self.precharges * self.rtp + self.act_chain
                + self.comp_spacing * np.maximum(header_comps, self.fill) + self.readres_spacing * (readres - 1))

    @cached_property
    def gwrite_evicts(self) -> bool:
        """Whether a GWRITE's source row (bank 0 of rank 0) shares that bank's only row buffer with PIM rows: one
        row buffer with Newton's command set (the artifact's naive branch), per-bank-group row commands."""
        return self.row_buffer == "blocked" and self.row_release == "readres" and not self.all_bank

    @cached_property
    def gwrite_after_row(self) -> int:
        """A row's releasing command (READRES; fused: its COMPS_READRES issue) -> a GWRITE after it: one burst
        (tCCD_S), or, when the GWRITE evicts bank 0's PIM row, that bank's precharge tRTP after it, the ACT of the
        GWRITE row tRP later, the GWRITE tRCD after that (NewtonSim timing.cc read_to_precharge, tRP, tRCDRD)."""
        return self.rtp + self.rp + self.rcd if self.gwrite_evicts else self.comp_spacing

    def gwrite_estimate(self, after_row):
        """The controller's latency estimate of a GWRITE (EstimatePIMOperationLatency): its busy time, plus the
        precharge, tRP and tRCD when its bank holds another row (after a row, if the GWRITE evicts)."""
        import numpy as np

        return self.gwrite + np.asarray(after_row, dtype=bool) * int(self.gwrite_evicts) * (self.rtp + self.rp
                                                                                              + self.rcd)

    # --- normal accesses mixed with PIM (row-buffer modes) ---
    def normal_after_pim(self) -> int:
        """Normal RD in the same bank group after a PIM column command."""
        return 0 if self.row_buffer == "dual" else self.ccd_l

    def pim_act_to_act(self) -> int:
        """G_ACT -> ACT (or back) in one bank."""
        return self.rrd_l if self.row_buffer == "dual" else self.rc


def pim_timing(spec: PimSpec, memory: MemorySpec) -> PimTiming:
    tm, org = memory.timing, memory.organisation
    if tm is None:
        raise ConfigError(f"memory '{memory.name}' has no timing section; the PIM model needs one", key="timing")
    burst = int(tm.tBURST) if tm.tBURST is not None else max(1, org.burst_length // 2)
    rtp_l = tm.tRTP_L if tm.tRTP_L is not None else tm.tRTP_S
    rtp = int(spec.pim_to_precharge if spec.pim_to_precharge is not None else rtp_l)
    if spec.row_commands == "all-bank" and org.ranks > 1:
        raise ConfigError(f"row_commands all-bank models single-rank channels (GDDR6); memory '{memory.name}' has "
                          f"{org.ranks} ranks", key="row_commands")
    from simulator.lowering.ops import DTYPE_BYTES

    row_elements = int(min(org.row_bytes, spec.global_buffer) // DTYPE_BYTES[spec.dtype])
    if spec.coverage > row_elements:
        raise ConfigError(f"comp_elements (or macs_per_bank) {spec.coverage} exceeds the {row_elements} {spec.dtype} "
                          f"elements of one row (min of row_bytes and global_buffer); allowed: 1 to {row_elements}",
                          key="comp_elements")
    per_burst = tm.tCCD_S + tm.tCCD_L if spec.gwrite_spacing == "ccd_s+ccd_l" else max(burst, tm.tCCD_S)
    pu_ticks = math.ceil(spec.banks_per_pu * math.ceil(spec.coverage / spec.macs_per_bank)
                         / (spec.clock * memory.tck) - 1e-3)
    for key, cycles in (("gwrite_bursts", spec.gwrite_bursts * per_burst),
                        ("pipeline_fill", spec.pipeline_fill * max(pu_ticks, tm.tCCD_L))):
        if cycles >= tm.tREFI:      # one command would span a refresh interval: no DRAM schedules that
            raise ConfigError(f"{key} makes one PIM command {cycles:g} cycles, not shorter than the refresh "
                              f"interval tREFI ({tm.tREFI:g} cycles)", key=key)
    return PimTiming(
        tck=memory.tck, channels=org.channels * org.pseudo_channels, ranks=org.ranks, bank_groups=org.bank_groups,
        banks=org.banks, row_elements=row_elements, coverage=spec.coverage, burst=burst, ccd_s=int(tm.tCCD_S),
        ccd_l=int(tm.tCCD_L), rcd=int(tm.tRCD),
        act_to_comp=int(spec.act_to_comp if spec.act_to_comp is not None else tm.tRCD), rp=int(tm.tRP),
        ras=int(tm.tRAS), rc=int(tm.rc), rrd_l=int(tm.tRRD_L), faw=int(tm.tFAW), rtp=rtp,
        read_latency=int(tm.CL) + burst, refi=int(tm.tREFI), rfc=int(tm.tRFC),
        gwrite=spec.gwrite_bursts * int(per_burst), fill=spec.pipeline_fill, row_buffer=spec.row_buffer,
        refresh_guard=spec.refresh_guard,
        pu_ticks=pu_ticks,
        row_commands=spec.row_commands, row_release=resolved_release(spec))


def resolved_release(spec: PimSpec) -> str:
    """row_release with `auto` resolved: the NeuPIMs artifact fuses COMPS_READRES in its dual-buffer branch and
    issues COMPs and READRES separately in its Newton (one row buffer) branch."""
    if spec.row_release != "auto":
        return spec.row_release
    return "readres" if spec.row_buffer == "blocked" else "issue"
