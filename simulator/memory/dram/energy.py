"""DRAM energy: IDD-based per-command energies and background power (the DRAMsim3 / Micron method).

With supply voltage VDD, currents in mA and times in ns (so V x mA x ns = pJ), per device, times `devices`:

    E_ACT = VDD (IDD0 tRC - (IDD3N tRAS + IDD2N tRP))
    E_RD  = VDD (IDD4R - IDD3N) tBURST          E_WR = VDD (IDD4W - IDD3N) tBURST
    E_REF = VDD (IDD5AB - IDD3N) tRFC
    background per rank and cycle: VDD IDD3N tCK with a bank open, VDD IDD2N tCK with all banks precharged

plus interface I/O energy per bit moved (`io_per_bit`). HBM2 8Gb x128 (../shared/reference/dram): ACT 828 pJ,
RD 804 pJ, WR 1068 pJ, REF 60.8 nJ, background 66 / 48 pJ per cycle. Explicit non-zero values in the
`energy:` section override the derived ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.memory.spec import MemorySpec


@dataclass(frozen=True)
class CommandEnergy:
    """Joules per command, per background rank-cycle, per I/O bit."""

    act: float
    read: float
    write: float
    refresh: float
    background_open: float
    background_idle: float
    io_per_bit: float


def command_energy(spec: MemorySpec) -> CommandEnergy:
    e, tm, org = spec.energy, spec.timing, spec.organisation
    derived = {"act": 0.0, "read": 0.0, "write": 0.0, "refresh": 0.0, "background_open": 0.0,
               "background_idle": 0.0}
    if e.idd is not None and tm is not None:
        idd = e.idd
        scale = 2 if spec.controller.half_tick else 1
        ns = spec.tck * 1e9 * scale            # one timing-table cycle in ns
        k = idd.vdd * idd.devices * 1e-12         # V x mA x ns -> J
        burst = tm.tBURST if tm.tBURST is not None else max(1, org.burst_length // 2)
        derived = {
            "act": k * (idd.idd0 * tm.rc - (idd.idd3n * tm.tRAS + idd.idd2n * tm.tRP)) * ns,
            "read": k * (idd.idd4r - idd.idd3n) * burst * ns,
            "write": k * (idd.idd4w - idd.idd3n) * burst * ns,
            "refresh": k * (idd.idd5ab - idd.idd3n) * tm.tRFC * ns,
            "background_open": k * idd.idd3n * spec.tck * 1e9,
            "background_idle": k * idd.idd2n * spec.tck * 1e9,
        }
    pick = {"act": e.act, "read": e.read, "write": e.write, "refresh": e.refresh,
            "background_open": e.background_per_rank, "background_idle": e.background_idle_per_rank}
    out = {k: (v if v else derived[k]) for k, v in pick.items()}
    if not out["background_idle"]:
        out["background_idle"] = out["background_open"]
    return CommandEnergy(io_per_bit=e.io_per_bit, **out)


def energy_breakdown(spec: MemorySpec, counts: dict[str, float], open_cycles: float, idle_cycles: float,
                     bits: float) -> dict[str, float]:
    """Joules by component for command counts (ACT, RD, WR, REF; RDA/WRA count as RD/WR) and rank-cycles."""
    ce = command_energy(spec)
    parts = {
        "act": counts.get("ACT", 0) * ce.act,
        "read": (counts.get("RD", 0) + counts.get("RDA", 0)) * ce.read,
        "write": (counts.get("WR", 0) + counts.get("WRA", 0)) * ce.write,
        "refresh": counts.get("REF", 0) * ce.refresh,
        "background": open_cycles * ce.background_open + idle_cycles * ce.background_idle,
        "io": bits * ce.io_per_bit,
    }
    parts["total"] = sum(parts.values())
    return parts
