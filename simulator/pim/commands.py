"""PIM commands and their timing rules, derived from the memory's JEDEC table (no numbers of their own).

Commands (NeuPIMs / Newton naming), all addressed to one channel:

    GWRITE         write one input-vector chunk (one DRAM row) into the channel's global buffer
    P_HEADER       descriptor of the next PIM row: row address, COMP and READRES counts (no DRAM timing)
    G_ACT          activate one row in every bank of one bank group, into the PIM row buffer
    COMP           all-bank MAC of one column burst against the global buffer
    READRES        read the per-bank accumulators back over the channel
    COMPS_READRES  fused: n COMPs then one READRES
    PIM_PRE        PIM precharge of one bank

Spacings (cycles of tCK; `docs/pim.md` has the table with their sources):

    GWRITE busy          = gwrite_bursts x (tCCD_S + tCCD_L)                          (96 on NeuPIMs HBM2)
    COMP -> COMP         = max(tBURST, tCCD_S, PU pace = banks_per_pu x coverage / macs_per_bank PU clocks)
    COMPS_READRES(n) ->  = max(tBURST, tCCD_S) x (max(n, pipeline_fill) + 1)        next COMPS_READRES
    COMP -> PIM_PRE      = pim_to_precharge (tRTP)
    PIM_PRE -> G_ACT     = tRP (same bank)
    G_ACT -> G_ACT       = tFAW in one rank (a G_ACT is four activations), tRC in one bank group
    G_ACT -> COMP        = tRCD
    REF -> G_ACT         = tRFC
One command per cycle on the channel's command bus; PIM precharges go bank by bank.

Row-buffer modes, for normal accesses that share the banks with PIM (`row_buffer`):

    dual     normal RD/WR after a PIM access in the same bank or bank group: 0 instead of tCCD_L;
             PIM to precharge: 0; PIM-ACT <-> ACT in one bank: tRRD_L instead of tRC     (NeuPIMs)
    blocked  one row buffer: a normal access to a bank that PIM holds waits for the PIM precharge, then pays
             its own ACT, column accesses, tRTP and tRP before PIM may activate again     (Newton)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.memory.spec import MemorySpec
from simulator.pim.spec import PimSpec

COMMANDS = ("GWRITE", "P_HEADER", "G_ACT", "COMP", "READRES", "COMPS_READRES", "PIM_PRE")


@dataclass(frozen=True)
class PimTiming:
    """Everything the PIM timeline needs, in memory controller cycles (tCK)."""

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

    @property
    def banks_per_rank(self) -> int:
        return self.banks // self.ranks

    @property
    def comp_spacing(self) -> int:
        """COMP -> COMP: one column burst per bank, or the processing unit's own pace if it is slower."""
        return max(self.burst, self.ccd_s, self.pu_ticks)

    @property
    def readres_spacing(self) -> int:
        return max(self.burst, self.ccd_l)

    def comps_readres(self, n):
        """Cycles from one COMPS_READRES of n COMPs to the next (adder-tree fill included)."""
        import numpy as np

        return self.comp_spacing * (np.maximum(n, self.fill) + 1)

    def open_row(self, precharges: int) -> int:
        """First precharge of a PIM row switch -> its first COMP: precharges one per cycle in bank order, P_HEADER,
        then one G_ACT per bank group (ranks interleaved, tFAW apart within a rank, none before tRP after the
        precharge of its banks: it binds when a bank group's precharges end less than tRP before the P_HEADER,
        e.g. 16 banks with tRP 17), then tRCD."""
        return self._first_gact(precharges) + self.rank_lag + (self.bank_groups - 1) * self.faw + self.rcd

    def _first_gact(self, precharges: int) -> int:
        """Rank 0's first G_ACT of a row switch, counted from its first precharge."""
        return max(precharges + 1, self.banks // (self.ranks * self.bank_groups) - 1 + self.rp)

    @property
    def rank_lag(self) -> int:
        """Cycles the last rank's G_ACTs trail rank 0's in a row switch (one per rank, or tRP after the
        precharge of its first bank group)."""
        bpg = self.banks // (self.ranks * self.bank_groups)
        first = self._first_gact(self.banks)
        return max(self.ranks - 1, (self.ranks - 1) * self.banks_per_rank + bpg - 1 + self.rp - first)

    @property
    def refresh_interval(self) -> int:
        """Rank-staggered all-bank refresh: one rank every tREFI / ranks."""
        return max(1, self.refi // self.ranks)

    def row_estimate(self, header_comps, readres):
        """The controller's latency estimate of a PIM row (NeuPIMs EstimatePIMOperationLatency), all banks open
        on another row: used to hold a row back before a refresh."""
        import numpy as np

        return (self.banks * self.rtp + (self.bank_groups - 1) * self.faw + self.rcd
                + self.comp_spacing * np.maximum(header_comps, self.fill) + self.readres_spacing * (readres - 1))

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
        raise ValueError(f"memory '{memory.name}' has no timing section; the PIM model needs one")
    burst = int(tm.tBURST) if tm.tBURST is not None else max(1, org.burst_length // 2)
    rtp_l = tm.tRTP_L if tm.tRTP_L is not None else tm.tRTP_S
    rtp = int(spec.pim_to_precharge if spec.pim_to_precharge is not None else rtp_l)
    from simulator.lowering.ops import DTYPE_BYTES

    row_elements = int(min(org.row_bytes, spec.global_buffer) // DTYPE_BYTES[spec.dtype])
    return PimTiming(
        tck=memory.tck, channels=org.channels * org.pseudo_channels, ranks=org.ranks, bank_groups=org.bank_groups,
        banks=org.banks, row_elements=row_elements, coverage=spec.coverage, burst=burst, ccd_s=int(tm.tCCD_S),
        ccd_l=int(tm.tCCD_L), rcd=int(tm.tRCD), rp=int(tm.tRP), ras=int(tm.tRAS), rc=int(tm.rc),
        rrd_l=int(tm.tRRD_L), faw=int(tm.tFAW), rtp=rtp, read_latency=int(tm.CL) + burst, refi=int(tm.tREFI),
        rfc=int(tm.tRFC), gwrite=spec.gwrite_bursts * int(tm.tCCD_S + tm.tCCD_L), fill=spec.pipeline_fill,
        row_buffer=spec.row_buffer, refresh_guard=spec.refresh_guard,
        pu_ticks=math.ceil(spec.banks_per_pu * math.ceil(spec.coverage / spec.macs_per_bank)
                           / (spec.clock * memory.tck) - 1e-3))
