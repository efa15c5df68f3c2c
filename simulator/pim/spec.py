"""PIM description: MAC units inside the banks of a PIM-enabled memory."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from simulator.config.spec import Frequency, PositiveInt, Size
from simulator.hardware.unit import UnitSpec


class PimSpec(UnitSpec):
    type: Literal["pim"] = "pim"
    memory: str = Field(description="the PIM-enabled device memory whose banks compute")
    clock: Frequency = Field(description="clock of the in-bank MAC units")
    macs_per_bank: PositiveInt = Field(16, description="MAC lanes per processing unit")
    banks_per_pu: PositiveInt = Field(1, description="banks sharing one processing unit")
    dtype: str = "fp16"
    row_buffer: Literal["blocked", "dual"] = "dual"
    global_buffer: Size = Field("256 B", description="per-channel input-vector buffer filled by GWRITE")
