"""Memory device description: organisation, timing, controller and energy of a DRAM/HBM part.

The analytical backend uses only the derived figures (capacity, peak bandwidth, energy per bit); the DRAM
model uses all of it. Timings are in cycles of `tck`, as in JEDEC tables and the reference simulators.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from simulator.config.spec import (
    Cycles, Energy, EnergyPerBit, Frequency, PositiveInt, PowerOfTwo, Ratio, Size, Spec, Time, TransferRate,
)


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

    @property
    def banks(self) -> int:
        """Banks per pseudo-channel (all ranks)."""
        return self.ranks * self.bank_groups * self.banks_per_group

    @property
    def capacity_bytes(self) -> int:
        return self.channels * self.pseudo_channels * self.banks * self.rows * self.row_bytes


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
    tRTRS: Cycles = 1

    @model_validator(mode="after")
    def _jedec(self) -> Timing:
        trc = self.tRC if self.tRC is not None else self.tRAS + self.tRP
        if trc < self.tRAS + self.tRP:
            raise ValueError(f"tRC ({trc:g}) must be at least tRAS + tRP ({self.tRAS + self.tRP:g})")
        if self.tRAS < self.tRCD:
            raise ValueError(f"tRAS ({self.tRAS:g}) must be at least tRCD ({self.tRCD:g})")
        if self.tREFI <= self.tRFC:
            raise ValueError(f"tREFI ({self.tREFI:g}) must exceed tRFC ({self.tRFC:g})")
        return self

    @property
    def rc(self) -> float:
        return self.tRC if self.tRC is not None else self.tRAS + self.tRP


class Controller(Spec):
    """Memory-controller policy (used by the transaction and command levels)."""

    scheduler: Literal["fr-fcfs", "fcfs"] = "fr-fcfs"
    page_policy: Literal["open", "closed", "capped-open"] = "open"
    address_mapping: str = "rorabgbachco"
    read_queue: PositiveInt = 32
    write_queue: PositiveInt = 32
    refresh: Literal["all-bank", "per-bank"] = "all-bank"
    dual_command: bool = False


class MemoryEnergy(Spec):
    """Per-command energies (IDD method) and interface I/O energy; background power per channel."""

    act: Energy = 0.0
    read: Energy = Field(0.0, description="energy of one read burst of tx_bytes")
    write: Energy = 0.0
    refresh: Energy = 0.0
    io_per_bit: EnergyPerBit = 0.0
    background_per_channel: Energy = Field(0.0, description="background energy per channel per tCK")


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

    @property
    def capacity_bytes(self) -> float:
        return self.capacity if self.capacity is not None else float(self.organisation.capacity_bytes)

    @property
    def peak_bandwidth(self) -> float:
        """Bytes per second over all (pseudo-)channels."""
        org = self.organisation
        return org.channels * org.pseudo_channels * org.bus_width_bits / 8 * self.data_rate

    @property
    def energy_per_bit(self) -> float:
        """Streaming energy per bit: read burst energy plus I/O, with one activation per row (analytical)."""
        org, e = self.organisation, self.energy
        bursts_per_row = max(1, org.row_bytes // org.tx_bytes)
        per_tx = e.read + e.act / bursts_per_row
        return per_tx / (org.tx_bytes * 8) + e.io_per_bit
