"""Processing-element kinds and their energy and area per operation, by format, with sources.

Kinds: `mac` (a multiplier and an adder of the format: one MAC per cycle), `bitserial` (one weight bit per cycle:
a conditional add of the activation and a shift, so a b-bit weight takes b cycles, TPE-style bit-weight
iteration), `lut` (LUT Tensor Core: one table lookup and add per cycle; a lookup covers `g` weights of one bit,
so a b-bit weight group takes b lookups). Energies and areas are 45 nm figures scaled to the node:

- MAC energies: Horowitz, "Computing's Energy Problem", ISSCC 2014 (45 nm): int8 mult 0.2 + add 0.03 pJ, fp16
  mult 1.1 + add 0.4, fp32 mult 3.7 + add 0.9 (../shared/reference/energy/README.md).
- Areas: the same talk's area table (45 nm) [recall]: 8-b add 36 um^2, 16-b add 67, 32-b add 137, 8-b mult 282,
  32-b mult 3495, fp16 add 1360, fp16 mult 1640, fp32 add 4184, fp32 mult 7700.
- Derived entries say how they were derived (an integer multiplier scales with bits^2; a minifloat's
  multiplier is that of its mantissa, its accumulator an fp16 adder; a bit-serial step is one adder of the
  activation width plus a shift; a lookup is a 2^(g-1)-entry table read through a mux plus an adder).
"""

from __future__ import annotations

PE_KINDS = ("mac", "bitserial", "lut")

# pJ per operation at 45 nm -------------------------------------------------------------------------------------
MAC_PJ_45NM: dict[str, float] = {
    "fp32": 4.6, "tf32": 4.6, "fp16": 1.5, "bf16": 1.5,                 # Horowitz 2014 mult + add
    "int8": 0.23,                                                       # Horowitz 2014 int8 mult 0.2 + add 0.03
    "int4": 0.08,                                                       # derived: mult 0.2 x (4/8)^2 + add 0.03
    "int2": 0.0425, "int1": 0.03,                                       # derived likewise (int1: an AND + add)
    "fp8": 0.23, "fp6": 0.23, "fp4": 0.23,                              # derived: at most the int8 FMA
    "mxfp8": 0.23, "mxfp6": 0.23, "mxfp4": 0.23,
}
ADD_PJ_45NM = {"fp16": 0.4, "bf16": 0.4, "fp32": 0.9, "int8": 0.1}     # Horowitz 2014 (int8 acts: 32-b accumulator)
# a table or shift-register read beside the adder: a 2-byte PE-local register read (0.3 pJ/B, Keckler/DARPA, as
# simulator/npu/energy.py REG_PJ_PER_BYTE_45NM) for a lookup; a shift costs a quarter of that [assumption]
LOOKUP_READ_PJ_45NM = 0.6
SHIFT_PJ_45NM = 0.15

# um^2 at 45 nm -------------------------------------------------------------------------------------------------
MAC_UM2_45NM: dict[str, float] = {
    "fp32": 7700 + 4184, "tf32": 7700 + 4184, "fp16": 1640 + 1360, "bf16": 1640 + 1360,
    "int8": 282 + 137,                        # 8-b mult + 32-b accumulator add
    "int4": 282 / 4 + 67, "int2": 282 / 16 + 67, "int1": 36 + 67,     # derived: bits^2 multiplier, 16-b accumulator
    "fp8": 282 / 4 + 1360, "fp6": 282 / 4 + 1360, "fp4": 282 / 16 + 1360,   # derived: mantissa mult + fp16 adder
    "mxfp8": 282 / 4 + 1360, "mxfp6": 282 / 4 + 1360, "mxfp4": 282 / 16 + 1360,
}
ADD_UM2_45NM = {"fp16": 1360, "bf16": 1360, "fp32": 4184, "int8": 137}
MUX2_UM2_45NM = 1.5           # a 2:1 mux cell at 45 nm (about two NAND2 equivalents) [assumption]
FLOP_UM2_45NM = 4.5           # a D flip-flop at 45 nm [assumption]

# node scaling ---------------------------------------------------------------------------------------------------
ENERGY_SCALE = {45: 1.0, 22: 0.55, 7: 0.4}    # as simulator/npu/energy.py TECH_SCALE (README rule of thumb)
AREA_SCALE = {45: 1.0, 22: (22 / 45) ** 2, 7: 1 / 25}   # ideal (node/45)^2 to 22 nm; ~25x logic density to 7 nm [recall]


def _scale(table: dict, tech_nm: int) -> float:
    if tech_nm not in table:
        raise ValueError(f"no scaling to {tech_nm} nm; allowed: {', '.join(map(str, table))}")
    return table[tech_nm]


def op_energy_j(kind: str, act: str, weight_bits: int = 16, *, group: int = 4, tech_nm: int = 22) -> float:
    """Joules of one PE operation: a MAC (`act` format), a bit-serial step, or a lookup-and-add."""
    s = _scale(ENERGY_SCALE, tech_nm) * 1e-12
    if kind == "mac":
        return MAC_PJ_45NM[act] * s
    add = ADD_PJ_45NM.get(act, ADD_PJ_45NM["fp16"])
    if kind == "bitserial":
        return (add + SHIFT_PJ_45NM) * s
    if kind == "lut":
        return (add + LOOKUP_READ_PJ_45NM) * s
    raise ValueError(f"unknown PE kind {kind!r}; allowed: {', '.join(PE_KINDS)}")


def pe_area_um2(kind: str, act: str, *, group: int = 4, cols: int = 1, tech_nm: int = 22) -> float:
    """Area of one PE. A LUT PE reads a 2^(g-1)-entry table (symmetrised, LUT Tensor Core) through a mux and
    adds; the table registers are shared by the `cols` PEs of a row (the table is broadcast along N)."""
    s = _scale(AREA_SCALE, tech_nm)
    if kind == "mac":
        return MAC_UM2_45NM[act] * s
    add = ADD_UM2_45NM.get(act, ADD_UM2_45NM["fp16"])
    width = 16 if act not in ("fp32", "tf32") else 32
    if kind == "bitserial":
        return (add + width * MUX2_UM2_45NM * 2) * s          # adder + shift/select
    if kind == "lut":
        entries = 2 ** (group - 1)
        mux = (entries - 1) * width * MUX2_UM2_45NM
        table = entries * width * FLOP_UM2_45NM / cols
        return (add + mux + table) * s
    raise ValueError(f"unknown PE kind {kind!r}; allowed: {', '.join(PE_KINDS)}")
