"""Energy per PIM command, two selectable methods (`energy_method` of the PIM unit).

multiples (NeuPIMs, DRAMsim3 IDD energies of the memory; NewtonSim configuration.cc, ../shared/reference/neupims):
    GWRITE  = (row_bytes / tx_bytes) x RD      (one row through the I/O: 16 x RD on HBM2)
    G_ACT   = banks_per_group x ACT            (4 x ACT; row_commands all-bank: banks of the rank x ACT)
    COMP    = 4 x RD                           (Newton: an all-bank COMP draws about 4 reads' power)
    READRES = (banks x 16 bit / tx bits) x RD  (the accumulators of every bank: 1 x RD on NeuPIMs HBM2)
per_bit (AttAcc-style in-bank breakdown, ../shared/reference/energy "Processing-in-memory" modelling rule):
    GWRITE  = row bits x io                    G_ACT = as above
    COMP    = banks x coverage x dtype bits x column + banks x coverage x mac
    READRES = banks x 16 bit x io
P_HEADER and PIM_PRE cost nothing extra (the IDD ACT energy already includes the precharge). Normal commands
(ACT, RD, WR, REF) use the memory's own table. An explicit `cmd.<NAME>` entry in the unit's `energy:` table
overrides the method.
"""

from __future__ import annotations

from simulator.lowering.ops import DTYPE_BYTES
from simulator.memory.spec import MemorySpec
from simulator.pim.spec import PimSpec


def command_energies(spec: PimSpec, memory: MemorySpec) -> dict[str, float]:
    """Joules per command, keyed `cmd.<NAME>`."""
    org, e = memory.organisation, memory.energy
    rd, act = e.read, e.act
    banks = org.banks
    act_banks = banks // org.ranks if spec.row_commands == "all-bank" else org.banks_per_group
    base = {"cmd.ACT": act, "cmd.RD": rd, "cmd.WR": e.write, "cmd.REF": e.refresh, "cmd.P_HEADER": 0.0,
            "cmd.PIM_PRE": 0.0, "cmd.G_ACT": act_banks * act}
    if spec.energy_method == "multiples":
        pim = {"cmd.GWRITE": org.row_bytes / org.tx_bytes * rd, "cmd.COMP": 4 * rd,
               "cmd.READRES": max(1, banks * 16 // (org.tx_bytes * 8)) * rd}
    else:
        b = spec.pim_bit_energy
        lanes = banks * spec.coverage
        pim = {"cmd.GWRITE": org.row_bytes * 8 * b.io,
               "cmd.COMP": lanes * DTYPE_BYTES[spec.dtype] * 8 * b.column + lanes * b.mac,
               "cmd.READRES": banks * 16 * b.io}
    table = {**base, **pim}
    table.update({k: v for k, v in spec.energy.items() if k.startswith("cmd.")})
    return table
