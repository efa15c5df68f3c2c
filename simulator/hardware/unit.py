"""Fields shared by every compute unit description (NPU, PIM, GPU, ASIC)."""

from __future__ import annotations

from pydantic import Field

from simulator.config.spec import Energy, Power, Spec


class UnitSpec(Spec):
    """Base of unit specs: the unit type (registry key), its memory, and its energy table.

    `energy` maps an action name that the unit's model counts (e.g. `mac.fp16`, `sram.byte`) to the energy of
    one action; energy = counts x table + static_power x time (see docs/energy.md).
    """

    type: str
    source: str = ""
    memory: str | None = Field(None, description="name of the device memory this unit reads and writes")
    energy: dict[str, Energy] = Field(default_factory=dict)
    static_power: Power = 0.0


def energy_table(model, spec: UnitSpec) -> dict[str, float]:
    """Per-action energies of a unit: the model's defaults (e.g. PIM command energies derived from the memory's
    IDD values), overridden by the unit's `energy:` table in the hardware file."""
    defaults = getattr(model, "energy_table", {})
    return {**defaults, **spec.energy}
