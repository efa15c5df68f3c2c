"""Silicon area of an NPU from its spec: PE arrays (by PE kind and format), vector lanes, scratchpad SRAM.

`area_mm2(spec)` returns mm^2 per component and the total, at `tech_nm` (22 nm by default, the node of the
energy defaults). PE and lane areas: simulator/npu/pe.py (Horowitz ISSCC 2014 45 nm area table, scaled). SRAM:
published 6T high-density bit cells [recall] - Intel 45 nm 0.346 um^2 (IEDM 2007), Intel 22 nm 0.092 um^2
(VLSI 2012), TSMC N7 0.027 um^2 (IEDM 2016) - over an array efficiency of 0.7 (periphery, sense amplifiers,
decoders) [assumption]. The NoC and control are not counted. The system-level area package (simulator/area/)
takes these figures per NPU unit.
"""

from __future__ import annotations

from simulator.npu import pe as pe_mod

SRAM_BITCELL_UM2 = {45: 0.346, 22: 0.092, 7: 0.027}
SRAM_ARRAY_EFFICIENCY = 0.7


def pe_format(spec) -> str:
    """The format the PEs are sized for: the widest MAC format the NPU lists."""
    order = ("fp32", "tf32", "fp16", "bf16", "fp8", "mxfp8", "int8", "fp6", "mxfp6", "fp4", "mxfp4", "int4",
             "int2", "int1")
    return next(f for f in order if f in spec.macs_per_pe)


def area_mm2(spec, *, tech_nm: int = 22) -> dict[str, float]:
    """mm^2 of the NPU's PE arrays, vector lanes and scratchpads (all cores) and their sum."""
    fmt = pe_format(spec)
    act = fmt if spec.pe == "mac" else ("int8" if fmt.startswith("int") else "fp16")
    pe_um2 = pe_mod.pe_area_um2(spec.pe, act, group=spec.lut_group, cols=spec.systolic.cols, tech_nm=tech_nm)
    lane_um2 = pe_mod.pe_area_um2("mac", "fp16", tech_nm=tech_nm)          # an fp16 multiply-add lane
    if tech_nm not in SRAM_BITCELL_UM2:
        raise ValueError(f"no SRAM cell for {tech_nm} nm; allowed: {', '.join(map(str, SRAM_BITCELL_UM2))}")
    bit_um2 = SRAM_BITCELL_UM2[tech_nm] / SRAM_ARRAY_EFFICIENCY
    out = {
        "pe_array": spec.cores * spec.systolic.pes * pe_um2 * 1e-6,
        "vector": spec.cores * spec.vector.units * spec.vector.lanes * lane_um2 * 1e-6,
        "scratchpad": spec.cores * spec.scratchpad.size * 8 * bit_um2 * 1e-6,
    }
    out["total"] = sum(out.values())
    return out


def iso_area_pes(spec, kind: str, act: str = "fp16", *, tech_nm: int = 22) -> int:
    """PEs of kind `kind` that fit the area of the spec's PE arrays (for iso-area comparisons)."""
    budget = area_mm2(spec, tech_nm=tech_nm)["pe_array"] / spec.cores
    one = pe_mod.pe_area_um2(kind, act, group=spec.lut_group, cols=spec.systolic.cols, tech_nm=tech_nm) * 1e-6
    return int(budget // one)
