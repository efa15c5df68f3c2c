"""Fields shared by every compute unit description (NPU, PIM, GPU, ASIC)."""

from __future__ import annotations

from typing import get_args

from pydantic import Field, field_validator

from simulator.config.spec import DTypeName, Energy, Power, Spec
from simulator.errors import did_you_mean

ACTIONS = frozenset([f"{pe}.{dt}" for pe in ("mac", "bitserial.step", "lut.lookup") for dt in get_args(DTypeName)]
                    + ["link.bit", "sram.byte", "sram.read_byte", "sram.write_byte", "reg.byte", "vector.op",
                       "pim.internal_byte", "noc.bit_hop"]
                    + [f"cmd.{c}" for c in ("ACT", "PRE", "RD", "WR", "REF", "GWRITE", "P_HEADER", "G_ACT", "COMP",
                                            "READRES", "PIM_PRE")])


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

    @field_validator("energy")
    @classmethod
    def _known_actions(cls, table: dict[str, float]) -> dict[str, float]:
        """A misspelt action would cost those actions 0 J: only actions some model counts are allowed."""
        for action in table:
            if action not in ACTIONS:
                raise ValueError(f"unknown energy action {action!r}{did_you_mean(action, ACTIONS)}; "
                                 f"allowed: {', '.join(sorted(ACTIONS))}")
        return table

def energy_table(model, spec: UnitSpec) -> dict[str, float]:
    """Per-action energies of a unit: the model's defaults (e.g. PIM command energies derived from the memory's
    IDD values), overridden by the unit's `energy:` table in the hardware file."""
    defaults = getattr(model, "energy_table", {})
    return {**defaults, **spec.energy}
