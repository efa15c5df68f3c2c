"""DRAM commands and energy of the normal (non-PIM) traffic a run moved: ACT, RD, WR, REF counts from bytes.

Units stream their operands by DMA in long contiguous bursts, so per memory (all devices' shards alike):

    RD  = read bytes / tx_bytes          WR = written bytes / tx_bytes
    ACT = (RD + WR) x activations per request of a long contiguous stream (transaction-level DRAM model when the
          memory has a timing table: 1 / 16 on 1 KB rows of 64 B; else tx_bytes / row_bytes)
    REF = channels x refresh units x run time / tREFI   (all-bank: a unit is a rank; per-bank: a bank, tREFIpb)
    E   = ACT E_ACT + RD E_RD + WR E_WR + REF E_REF + bits x io_per_bit + background
    background = channels x ranks x (active cycles x open-bank standby (IDD3N) + the other cycles x precharged
                 standby (IDD2N)), active = while other units stream on the memory; a dual-row-buffer PIM memory
                 adds the same for its PIM row buffers, active while the PIM unit works (DRAMsim3 sums standby
                 per rank, as simulator.memory.dram does; the NeuPIMs artifact adds the PIM term alike)

with the per-command energies of simulator.memory.dram.energy (IDD method or the memory's explicit values).
PIM commands (GWRITE, COMP, ...) are counted and costed by the PIM unit, not here.
"""

from __future__ import annotations

from functools import lru_cache

from simulator.memory.dram.energy import command_energy
from simulator.memory.dram.transaction import stream
from simulator.memory.spec import MemorySpec


@lru_cache(maxsize=64)
def activations_per_request(memory: MemorySpec) -> float:
    """Row activations per tx_bytes request of a long contiguous stream."""
    org = memory.organisation
    if memory.timing is None:
        return org.tx_bytes / org.row_bytes
    t = stream(memory, 16 << 20)
    return t.activations / t.requests


def refreshes(memory: MemorySpec, seconds: float) -> float:
    """REF commands over `seconds` on every (pseudo-)channel: one per refresh unit per tREFI."""
    tm, org, ctl = memory.timing, memory.organisation, memory.controller
    if tm is None or ctl.refresh == "none" or not tm.tREFI:
        return 0.0
    channels = org.channels * org.pseudo_channels
    if ctl.refresh == "per-bank":
        return channels * org.banks * int(seconds / (memory.refresh_interval * memory.tck))
    return channels * org.ranks * int(seconds / (tm.tREFI * memory.tck))


def commands(memory: MemorySpec, read_bytes: float, write_bytes: float, seconds: float) -> dict[str, float]:
    """ACT, RD, WR, REF counts of streamed traffic over a run of `seconds`."""
    tx = memory.organisation.tx_bytes
    rd, wr = read_bytes / tx, write_bytes / tx
    return {"ACT": (rd + wr) * activations_per_request(memory), "RD": rd, "WR": wr,
            "REF": float(refreshes(memory, seconds))}


def background(memory: MemorySpec, seconds: float, active: float | None = None) -> float:
    """Standby joules of every rank of every (pseudo-)channel over `seconds`, rows open for `active` of them
    (default: all)."""
    org = memory.organisation
    ce = command_energy(memory)
    active = seconds if active is None else min(active, seconds)
    per_rank_s = (ce.background_open * active + ce.background_idle * (seconds - active)) / memory.tck
    return per_rank_s * org.channels * org.pseudo_channels * org.ranks


def energy(memory: MemorySpec, counts: dict[str, float], bits: float, seconds: float, active: float | None = None,
           pim_active: float | None = None) -> float:
    """Joules of the commands, the I/O bits and the background over `seconds` (normal rows open for `active`,
    PIM row buffers, if any, open for `pim_active`)."""
    ce = command_energy(memory)
    pim = background(memory, seconds, pim_active) if pim_active is not None else 0.0
    return (counts.get("ACT", 0.0) * ce.act + counts.get("RD", 0.0) * ce.read + counts.get("WR", 0.0) * ce.write
            + counts.get("REF", 0.0) * ce.refresh + bits * ce.io_per_bit + background(memory, seconds, active) + pim)
