"""Memory device description: organisation, timing, controller and energy of a DRAM/HBM part.

The analytical backend uses only the derived figures (capacity, peak bandwidth, energy per bit); the DRAM
model (`simulator.memory.dram`) uses all of it. Timings are in cycles of `tck`, the memory controller's clock,
as in JEDEC tables and the reference simulators. A timing set that breaks a JEDEC relation (tRC < tRAS + tRP,
tRAS < tRCD, tCCD_L < tCCD_S, ...) is rejected at validation, so it ends as a ConfigError naming the key.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from simulator.config.spec import (
    Cycles,
    Energy,
    EnergyPerBit,
    PositiveInt,
    PowerOfTwo,
    Ratio,
    Size,
    Spec,
    Time,
    TransferRate,
)

# Data transfers per pin per command clock (CK) of each standard: DDR and HBM transfer on both CK edges; GDDR6
# (JESD250: WCK = 2 x CK, double data rate on WCK) and LPDDR5 (JESD209-5: WCK:CK = 4:1 at 6400 MT/s) move 8 per CK.
# With half_tick (HBM3), tck is half a CK. A tck that is n CKs (a slower controller clock) moves n times as many.
TRANSFERS_PER_CK = {"DDR3": 2, "DDR4": 2, "DDR5": 2, "HBM": 2, "HBM2": 2, "HBM2E": 2, "HBM3": 2, "HBM3E": 2,
                    "GDDR6": 8, "LPDDR5": 8}


def _powers_of_two(org: Organisation) -> bool:
    return all(n & (n - 1) == 0 for n in (org.channels, org.pseudo_channels, org.ranks))


class Organisation(Spec):
    """How one memory system is built: channels of ranks of bank groups of banks of rows."""

    channels: PositiveInt
    pseudo_channels: PositiveInt = 1
    ranks: PositiveInt = 1
    bank_groups: PowerOfTwo = 4
    banks_per_group: PowerOfTwo = 4
    rows: PowerOfTwo = 32768
    row_bytes: PowerOfTwo = Field(1024, description="bytes of one row (page) per pseudo-channel")
    bus_width_bits: PowerOfTwo = Field(128, description="data bus width of one (pseudo-)channel")
    burst_length: PowerOfTwo = 4
    tx_bytes: PowerOfTwo = Field(64, description="bytes per memory transaction")

    @model_validator(mode="after")
    def _shape(self) -> Organisation:
        if self.tx_bytes > self.row_bytes:
            raise ValueError(f"tx_bytes ({self.tx_bytes}) must not exceed row_bytes ({self.row_bytes})")
        return self

    @property
    def banks(self) -> int:
        """Banks per pseudo-channel (all ranks)."""
        return self.ranks * self.bank_groups * self.banks_per_group

    @property
    def capacity_bytes(self) -> int:
        return self.channels * self.pseudo_channels * self.banks * self.rows * self.row_bytes


MAX_TREFI = 2**24     # cycles between refreshes: JEDEC parts are ~10^4 (3.9-7.8 us at a few hundred ps)


class Timing(Spec):
    """JEDEC timing parameters in cycles of tCK."""

    CL: Cycles
    CWL: Cycles
    tRCD: Cycles
    tRCDWR: Cycles | None = None
    tRP: Cycles
    tRAS: Cycles
    tRC: Cycles | None = None
    tCCD_S: Cycles
    tCCD_L: Cycles
    tRRD_S: Cycles
    tRRD_L: Cycles
    tFAW: Cycles
    tWR: Cycles
    tRTP_S: Cycles
    tRTP_L: Cycles | None = None
    tWTR_S: Cycles
    tWTR_L: Cycles
    tRFC: Cycles
    tREFI: Cycles
    tRTRS: Cycles = Field(1, description="rank-to-rank (or SID-to-SID) data-bus turnaround")
    tCCD_R: Cycles | None = Field(None, description="column-to-column delay to another rank/SID (default tCCD_S)")
    tBURST: Cycles | None = Field(None, description="cycles one burst occupies the data bus (default BL/2)")
    tRFCpb: Cycles | None = Field(None, description="per-bank refresh cycle time (per-bank refresh only)")
    tREFIpb: Cycles | None = Field(None, description="per-bank refresh interval (default tREFI / banks)")
    tPPD: Cycles = Field(0, description="precharge-to-precharge delay between banks")

    @model_validator(mode="after")
    def _jedec(self) -> Timing:
        trc = self.tRC if self.tRC is not None else self.tRAS + self.tRP
        for name in ("CL", "tRCD", "tRP", "tRAS", "tCCD_S", "tRRD_S", "tREFI"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be at least 1 cycle (got {getattr(self, name):g})")
        for name in ("CL", "CWL", "tRCD", "tRCDWR", "tRP", "tRAS", "tRC", "tCCD_S", "tCCD_L", "tRRD_S",
                     "tRRD_L", "tFAW", "tWR", "tRTP_S", "tRTP_L", "tWTR_S", "tWTR_L", "tRFC", "tREFI", "tRTRS",
                     "tCCD_R", "tBURST", "tRFCpb", "tREFIpb", "tPPD"):
            value = getattr(self, name)
            if value is not None and value != math.floor(value):
                raise ValueError(f"{name} must be a whole number of cycles (got {value:g})")
        if self.tREFI > MAX_TREFI:
            raise ValueError(f"tREFI ({self.tREFI:g}) is beyond {MAX_TREFI} cycles (JEDEC parts refresh every few "
                             f"microseconds, ~10^4 cycles)")
        for name in ("CL", "CWL", "tRCD", "tRCDWR", "tRP", "tRAS", "tRC", "tCCD_S", "tCCD_L", "tRRD_S", "tRRD_L",
                     "tFAW", "tWR", "tRTP_S", "tRTP_L", "tWTR_S", "tWTR_L", "tRTRS", "tCCD_R", "tBURST", "tPPD"):
            value = getattr(self, name)
            if value is not None and value >= self.tREFI:
                raise ValueError(f"{name} ({value:g}) must be shorter than the refresh interval tREFI "
                                 f"({self.tREFI:g}): a bank could not work between refreshes")
        if trc < self.tRAS + self.tRP:
            raise ValueError(f"tRC ({trc:g}) must be at least tRAS + tRP ({self.tRAS + self.tRP:g})")
        if self.tRAS < self.tRCD:
            raise ValueError(f"tRAS ({self.tRAS:g}) must be at least tRCD ({self.tRCD:g})")
        if self.tREFI <= self.tRFC:
            raise ValueError(f"tREFI ({self.tREFI:g}) must exceed tRFC ({self.tRFC:g})")
        for long, short in (("tCCD_L", "tCCD_S"), ("tRRD_L", "tRRD_S"), ("tWTR_L", "tWTR_S")):
            if getattr(self, long) < getattr(self, short):
                raise ValueError(f"{long} ({getattr(self, long):g}) must be at least {short} "
                                 f"({getattr(self, short):g})")
        if self.tFAW < self.tRRD_S:
            raise ValueError(f"tFAW ({self.tFAW:g}) must be at least tRRD_S ({self.tRRD_S:g})")
        return self

    @property
    def rc(self) -> float:
        return self.tRC if self.tRC is not None else self.tRAS + self.tRP


class Controller(Spec):
    """Memory-controller policy (used by the transaction and command levels).

    Two controller architectures, the two the reference simulators use:
    `bank-queues` (DRAMsim3): per-channel transaction queues feed per-bank command queues of `command_queue`
    entries, one transaction moves per cycle, a round-robin over the bank queues issues the first ready command,
    writes drain when the write queue is full (or above `write_drain_threshold` with idle command queues).
    `shared-buffers` (Ramulator 2.1): one read and one write buffer per channel, FR-FCFS over the whole buffer
    (ready first, then oldest), write mode between `write_low_watermark` and `write_high_watermark`, writes to a
    buffered address coalesced, a priority buffer for refresh that holds the read/write buffers while pending;
    with `dual_command` (HBM) a column-bus and a row-bus slot each cycle, with `half_tick` (HBM3) the clock is
    half a CK and column commands, ACT and REF use rising edges only.
    """

    architecture: Literal["bank-queues", "shared-buffers"] = "bank-queues"
    command_rules: Literal["dramsim3", "ramulator2"] = Field(
        "dramsim3", description="how command-to-command spacings derive from the JEDEC parameters")
    scheduler: Literal["fr-fcfs", "fcfs"] = "fr-fcfs"
    page_policy: Literal["open", "closed", "capped-open"] = "open"
    row_hit_cap: PositiveInt | None = Field(
        4, description="row hits served before a conflicting request may precharge (None: no cap)")
    address_mapping: str = "rorabgbachco"
    read_queue: PositiveInt = 32
    write_queue: PositiveInt = 32
    command_queue: PositiveInt = Field(8, description="entries per bank command queue (bank-queues only)")
    queue_structure: Literal["per-bank", "per-rank"] = "per-bank"
    write_drain_threshold: int = Field(8, ge=0, description="bank-queues: drain writes above this when idle")
    write_low_watermark: Ratio = 0.2
    write_high_watermark: Ratio = 0.8
    refresh: Literal["all-bank", "all-bank-staggered", "per-bank", "none"] = "all-bank"
    dual_command: bool = Field(False, description="HBM: a row and a column command may issue in one cycle")
    half_tick: bool = Field(False, description="HBM3: row commands on half-CK ticks (tck is the half tick)")

    @model_validator(mode="after")
    def _marks(self) -> Controller:
        if self.write_low_watermark >= self.write_high_watermark:
            raise ValueError(f"write_low_watermark ({self.write_low_watermark:g}) must be below "
                             f"write_high_watermark ({self.write_high_watermark:g})")
        return self


class Idd(Spec):
    """Datasheet supply currents (mA) and voltage for the IDD method (DRAMsim3/Micron power model)."""

    vdd: float = Field(gt=0, description="supply voltage, V")
    idd0: float = Field(gt=0, description="one-bank ACT-PRE current, mA")
    idd2n: float = Field(gt=0, description="precharged standby current, mA")
    idd3n: float = Field(gt=0, description="active standby current, mA")
    idd4r: float = Field(gt=0, description="burst read current, mA")
    idd4w: float = Field(gt=0, description="burst write current, mA")
    idd5ab: float = Field(gt=0, description="all-bank refresh current, mA")
    idd5pb: float | None = Field(None, gt=0, description="per-bank refresh current, mA")
    devices: PositiveInt = Field(1, description="devices sharing one (pseudo-)channel's commands")


class MemoryEnergy(Spec):
    """Per-command energies (IDD method) and interface I/O energy; background power per rank.

    With an `idd:` table the per-command and background energies are derived from it (see
    simulator.memory.dram.energy); a non-zero explicit value below overrides the derived one.
    """

    act: Energy = 0.0
    read: Energy = Field(0.0, description="energy of one read burst of tx_bytes")
    write: Energy = 0.0
    refresh: Energy = 0.0
    io_per_bit: EnergyPerBit = 0.0
    background_per_rank: Energy = Field(0.0, description="background energy per rank per tCK (a bank open)")
    background_idle_per_rank: Energy = Field(
        0.0, description="background energy per rank per tCK with all banks precharged (default: as open)")
    idd: Idd | None = None


class MemorySpec(Spec):
    """A memory system attached to a device: organisation, clock, timing, controller, energy."""

    kind: Literal["memory"] = "memory"
    version: int = 1
    name: str
    source: str = ""
    standard: str
    tck: Time = Field(description="controller clock period (one cycle of every timing below)")
    data_rate: TransferRate = Field(description="transfers per second per data pin")
    organisation: Organisation
    timing: Timing | None = None
    controller: Controller = Controller()
    energy: MemoryEnergy = MemoryEnergy()
    efficiency: Ratio = Field(1.0, description="sustained fraction of peak bandwidth for the analytical level")
    capacity: Size | None = Field(None, description="overrides the capacity derived from the organisation")

    @model_validator(mode="after")
    def _consistent(self) -> MemorySpec:
        """The address mapping fits the organisation; tck and data_rate agree for the standard."""
        from simulator.memory.dram import mapping

        try:
            mapping.parse_order(self.controller.address_mapping)
            if self.timing is not None and _powers_of_two(self.organisation):   # the DRAM model decodes with it
                mapping.check(self)
        except ValueError as exc:
            raise ValueError(f"controller.address_mapping: {exc}") from None
        per_clock = TRANSFERS_PER_CK.get(self.standard.upper())
        if per_clock is not None:
            per_tck = per_clock / 2 if self.controller.half_tick else per_clock
            ratio = self.data_rate * self.tck / per_tck
            k = round(ratio)
            if k < 1 or abs(ratio - k) > 0.02 * k:
                raise ValueError(f"tck ({self.tck * 1e9:g} ns) and data_rate ({self.data_rate / 1e9:g} GT/s) "
                                 f"disagree: {self.standard} moves {per_tck:g} transfers per tck "
                                 f"{'(half_tick) ' if self.controller.half_tick else ''}(or a whole multiple "
                                 f"of it), these give {self.data_rate * self.tck:.4g}; allowed: tck = "
                                 f"{per_tck / self.data_rate * 1e9:.4g} ns x n")
        return self

    @property
    def capacity_bytes(self) -> float:
        return self.capacity if self.capacity is not None else float(self.organisation.capacity_bytes)

    @property
    def refresh_interval(self) -> float:
        """Cycles between refreshes of one refresh unit: tREFI (all-bank), or tREFIpb (default tREFI / banks) for
        per-bank refresh. Needs `timing`."""
        t = self.timing
        if self.controller.refresh != "per-bank":
            return t.tREFI
        return t.tREFIpb if t.tREFIpb else t.tREFI / self.organisation.banks

    @property
    def peak_bandwidth(self) -> float:
        """Bytes per second over all (pseudo-)channels."""
        org = self.organisation
        return org.channels * org.pseudo_channels * org.bus_width_bits / 8 * self.data_rate

    @property
    def energy_per_bit(self) -> float:
        """Streaming energy per bit: read burst energy plus I/O, with one activation per row (analytical)."""
        from simulator.memory.dram.energy import command_energy

        org = self.organisation
        ce = command_energy(self)
        bursts_per_row = max(1, org.row_bytes // org.tx_bytes)
        per_tx = ce.read + ce.act / bursts_per_row
        return per_tx / (org.tx_bytes * 8) + ce.io_per_bit
