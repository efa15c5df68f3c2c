"""Area models by unit type: one function per YAML `type:`, registered in `AREA_MODELS`.

A model returns {part: mm^2} for one unit of one device, and may list `unestimated` parts (e.g. a dtype with no
cited MAC area) rather than cost them at zero. A new unit type (or PE kind) adds one function and one line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator.area.tables import GPU_DIES, MAC_MM2, PIM_LANE_MM2, VECTOR_LANE_MM2, sram_mm2

AreaModel = Callable[[Any, Any], dict[str, Any]]
AREA_MODELS: dict[str, AreaModel] = {}


def register(type_name: str) -> Callable[[AreaModel], AreaModel]:
    def add(fn: AreaModel) -> AreaModel:
        if type_name in AREA_MODELS:
            raise ValueError(f"area model of unit type {type_name!r} registered twice")
        AREA_MODELS[type_name] = fn
        return fn
    return add


@register("npu")
def npu_area(spec, memory) -> dict[str, Any]:
    """PEs x the widest MAC datapath they carry + vector lanes + scratchpad banks (CACTI), per core."""
    known = {dt: MAC_MM2[dt] * n for dt, n in spec.macs_per_pe.items() if dt in MAC_MM2}
    pe = max(known.values(), default=0.0)
    out = {"systolic": spec.cores * spec.systolic.pes * pe,
           "vector": spec.cores * spec.vector.units * spec.vector.lanes * VECTOR_LANE_MM2,
           "sram": spec.cores * sram_mm2(spec.scratchpad.size, spec.scratchpad.banks)}
    missing = sorted(set(spec.macs_per_pe) - set(MAC_MM2))
    return {**out, "unestimated": [f"mac.{d}" for d in missing]} if missing else out


@register("pim")
def pim_area(spec, memory) -> dict[str, Any]:
    """MAC lanes of every processing unit in the PIM memory (one per `banks_per_pu` banks) x the per-lane area of
    logic in a DRAM die; the DRAM cell arrays themselves are the memory's, not counted."""
    from simulator.hardware.units import pim_units

    return {"logic": pim_units(spec, memory) * spec.macs_per_bank * PIM_LANE_MM2}


@register("gpu")
def gpu_area(spec, memory) -> dict[str, Any]:
    """The published die of the GPU's generation, scaled by enabled SMs (the product's own count gives its die)."""
    die = GPU_DIES.get(float(spec.tensor_flops_per_clock_per_sm.get("fp16", 0.0)))
    if die is None:
        return {"unestimated": ["die"]}
    _, mm2, sms = die
    return {"die": mm2 * spec.sms / sms}


@register("asic")
def asic_area(spec, memory) -> dict[str, Any]:
    """Elementwise lanes (FP16 datapaths) and one SRAM bank."""
    return {"vector": spec.lanes * VECTOR_LANE_MM2, "sram": sram_mm2(spec.sram)}
