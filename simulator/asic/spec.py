"""A small fixed-function ASIC for non-linear ops and data movement beside PIM (PIM-GPT style)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from simulator.config.spec import Frequency, PositiveInt, Size
from simulator.hardware.unit import UnitSpec


class AsicSpec(UnitSpec):
    type: Literal["asic"] = "asic"
    clock: Frequency
    lanes: PositiveInt = Field(description="elementwise operations per cycle")
    sram: Size = "64 KiB"

    @property
    def vector_flops(self) -> float:
        return self.lanes * self.clock
