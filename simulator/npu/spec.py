"""NPU description: cores of systolic arrays with vector units and a scratchpad."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from simulator.config.spec import Frequency, PositiveInt, Size, Spec
from simulator.hardware.unit import UnitSpec


class Systolic(Spec):
    """One systolic array per core; `timing` selects the cycle convention (SCALE-Sim or ONNXim/NeuPIMs)."""

    rows: PositiveInt = 128
    cols: PositiveInt = 128
    dataflow: Literal["ws", "os", "is"] = "ws"
    timing: Literal["scalesim", "onnxim"] = "onnxim"


class VectorUnits(Spec):
    """SIMD units beside the array, for norms, softmax, activations and residuals."""

    units: PositiveInt = 1
    lanes: PositiveInt = 128


class Scratchpad(Spec):
    size: Size = Field(description="on-chip SRAM per core")
    banks: PositiveInt = 1
    double_buffer: bool = True


class NpuSpec(UnitSpec):
    type: Literal["npu"] = "npu"
    clock: Frequency
    cores: PositiveInt = 1
    systolic: Systolic = Systolic()
    vector: VectorUnits = VectorUnits()
    scratchpad: Scratchpad
    macs_per_pe: dict[str, float] = Field(
        default_factory=lambda: {"fp16": 1.0, "bf16": 1.0},
        description="MACs per PE per cycle by dtype; a dtype missing here is not supported")

    def peak_flops(self, dtype: str) -> float:
        """FLOP/s of all arrays for `dtype` (2 FLOPs per MAC)."""
        return 2 * self.cores * self.systolic.rows * self.systolic.cols * self.macs_per_pe[dtype] * self.clock

    @property
    def vector_flops(self) -> float:
        return self.cores * self.vector.units * self.vector.lanes * self.clock
