"""Silicon area of a system by component, from cited per-component figures (docs/dse.md).

`system_area(system)` asks each unit's area model (registered by unit type in `models.py`) for its parts and
sums them over the devices: {"total", "per_device", "by_component": {unit: mm^2}, "unestimated": [...]}.
Compute silicon only: NPU/GPU/ASIC dies and PIM logic added to DRAM dies; DRAM cell arrays are not counted.
"""

from __future__ import annotations

from typing import Any

from simulator.area.models import AREA_MODELS, register

__all__ = ["AREA_MODELS", "register", "system_area", "unit_area"]


def unit_area(spec, memory) -> dict[str, Any]:
    """{part: mm^2} of one unit (with `unestimated` parts listed), or {"unestimated": [type]} for an unknown type."""
    model = AREA_MODELS.get(spec.type)
    return model(spec, memory) if model is not None else {"unestimated": [spec.type]}


def system_area(system) -> dict[str, Any]:
    by: dict[str, float] = {}
    parts: dict[str, float] = {}
    missing: list[str] = []
    for name, spec in system.units.items():
        got = unit_area(spec, system.memories.get(spec.memory) if spec.memory else None)
        missing += [f"{name}.{m}" for m in got.pop("unestimated", [])]
        by[name] = system.devices * sum(got.values())
        parts.update({f"{name}.{p}": system.devices * v for p, v in got.items()})
    total = sum(by.values())
    return {"total": total, "per_device": total / system.devices, "by_component": by, "parts": parts,
            "unestimated": missing}
