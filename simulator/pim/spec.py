"""PIM description: MAC units inside the banks of a PIM-enabled memory, its command timing and its energy.

A PIM unit computes in the banks of the memory named by `memory`; every PIM command (GWRITE, G_ACT, COMP,
READRES, COMPS_READRES, P_HEADER, PIM precharge) is timed by that memory's JEDEC table (see
simulator/pim/commands.py and docs/pim.md). Fields whose default is derived from the memory say so.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from simulator.config.spec import Cycles, DTypeName, Energy, EnergyPerBit, Frequency, PositiveInt, Size, Spec
from simulator.hardware.unit import UnitSpec


class PimBitEnergy(Spec):
    """Per-bit in-bank energies for `energy_method: per_bit` (AttAcc-style breakdown of an in-bank access).

    Defaults follow ../shared/reference/energy/README.md ("Modelling rule" of the PIM section): the in-bank
    column access of a COMP costs the DRAM core read energy without I/O and global bus; GWRITE and READRES
    cross the channel I/O. Each entry is [derived] there; override them from a paper's table when one applies.
    """

    column: EnergyPerBit = Field("1.57 pJ/bit", description="in-bank column read of one COMP operand "
                                 "(DRAMsim3 HBM2 core RD energy, no I/O: energy/README.md)")
    io: EnergyPerBit = Field("2.3 pJ/bit", description="bits crossing the channel I/O and global bus (GWRITE, "
                             "READRES): HBM2 3.9 pJ/bit total less the 1.57 pJ/bit core read (energy/README.md)")
    mac: Energy = Field("0.5 pJ", description="one FP16 MAC in DRAM-process logic (energy/README.md, ~0.5 pJ)")


class PimSpec(UnitSpec):
    type: Literal["pim"] = "pim"
    memory: str = Field(description="the PIM-enabled device memory whose banks compute")
    clock: Frequency = Field(description="clock of the in-bank MAC units")
    macs_per_bank: PositiveInt = Field(16, description="MAC lanes per processing unit")
    banks_per_pu: PositiveInt = Field(1, description="banks sharing one processing unit")
    dtype: DTypeName = "fp16"
    row_buffer: Literal["blocked", "dual"] = Field(
        "dual", description="blocked: one row buffer, PIM and normal accesses serialise per bank (Newton); "
                            "dual: NeuPIMs' separate PIM row buffer with relaxed constraints")
    global_buffer: Size = Field("1 KiB", description="per-channel input-vector buffer filled by one GWRITE "
                                "(NeuPIMs: one DRAM row, 512 FP16)")
    comp_elements: PositiveInt | None = Field(
        None, description="elements per bank multiplied by one COMP (NeuPIMs pim_comp_coverage 16); default: "
                          "macs_per_bank")
    gwrite_bursts: PositiveInt = Field(32, description="column bursts of one GWRITE; GWRITE time = bursts x "
                                       "the gwrite_spacing (NeuPIMs: 32 x (1 + 2) = 96 cycles)")
    gwrite_spacing: Literal["ccd_s+ccd_l", "burst"] = Field(
        "ccd_s+ccd_l", description="cycles per GWRITE burst: ccd_s+ccd_l = tCCD_S + tCCD_L (NeuPIMs, NewtonSim "
                                   "gwrite_delay); burst = max(tBURST, tCCD_S) (SK hynix AiM's WRGB, a channel-level "
                                   "write bound only by the data bus and tCCD_S: arkhadem/aim_simulator GDDR6.cpp)")
    row_commands: Literal["per-bank-group", "all-bank"] = Field(
        "per-bank-group", description="how a PIM row is closed and opened. per-bank-group (NeuPIMs, NewtonSim): a "
                                      "PIM precharge per bank, one per cycle, and a G_ACT per bank group, a G_ACT "
                                      "counting as four activations in the rank's tFAW window, no tRAS. all-bank "
                                      "(SK hynix AiM's PREA / ACT16, arkhadem/aim_simulator GDDR6.cpp): one "
                                      "precharge and one activate for all banks of the channel, tRP, tRCD, tRAS "
                                      "and tRC as for one bank, no tFAW (the simulator drops it, citing the AiM "
                                      "paper), tRRD_L to and from single-bank ACTs; single-rank channels (GDDR6)")
    row_release: Literal["issue", "last-comp", "readres", "auto"] = Field(
        "issue", description="when a COMPS_READRES lets go of its row and the global buffer. issue (NeuPIMs, "
                             "NewtonSim): the PIM precharge tRTP and the next GWRITE one burst after the fused "
                             "command issues. last-comp (AiM: every MAC16 is a command, MAC16 -> PREA tRTP, the "
                             "next WRGB behind the last MAC16 in the in-order queue; arkhadem/aim_simulator): "
                             "counted from its last COMP, (n - 1) COMP spacings later. readres (the NeuPIMs "
                             "artifact's Newton branch, DramType::NEWTON: n COMP commands then a READRES, "
                             "NeuPIMSLogitSoftmax.cc / NeuPIMSAttend.cc): counted from the READRES, max(n, "
                             "pipeline_fill) COMP spacings after the first COMP; with row_buffer blocked the GWRITE "
                             "source row also takes bank 0's only row buffer (docs/pim.md). auto: readres with "
                             "row_buffer blocked, issue with dual (the artifact's two branches)")
    act_to_comp: Cycles | None = Field(
        None, description="G_ACT to the first COMP of a row; default tRCD of the memory (AiM: tRCD + 10 ns, "
                          "aim_simulator nRCDRDMAC)")
    pipeline_fill: PositiveInt = Field(6, description="fewest COMPs a COMPS_READRES is timed for (adder-tree "
                                       "filling, NeuPIMs)")
    pim_to_precharge: Cycles | None = Field(
        None, description="COMP/READRES to PIM precharge of a bank; default tRTP_L of the memory")
    refresh_guard: bool = Field(True, description="hold a PIM row back when its estimated latency would cross "
                                "the next refresh (NeuPIMs' CanMeetRefreshDeadline)")
    kv_placement: Literal["trace", "round-robin", "min-load"] = Field(
        "trace", description="channel of each request's KV cache: the trace's ch_idx, round robin, or greedy "
                             "min-load bin packing")
    kv_layout: Literal["channel", "spread"] = Field(
        "channel", description="channel: a request's whole KV cache on the one channel kv_placement picks "
                               "(NeuPIMs, big batches); spread: every request's keys and values over all channels "
                               "(PIM-GPT, batch 1: key row groups round robin, value head dimensions in blocks)")
    energy_method: Literal["multiples", "per_bit"] = Field(
        "multiples", description="PIM command energy: multiples of the memory's RD/ACT energy (NeuPIMs) or "
                                 "per-bit in-bank energies (pim_bit_energy)")
    pim_bit_energy: PimBitEnergy = PimBitEnergy()

    @property
    def coverage(self) -> int:
        return self.comp_elements or self.macs_per_bank
