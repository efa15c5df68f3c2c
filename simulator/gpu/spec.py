"""GPU description: SMs with tensor cores, on-chip memories, L2, and launch behaviour."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from simulator.config.spec import Bandwidth, Frequency, PositiveInt, Size, Time
from simulator.hardware.unit import UnitSpec


class GpuSpec(UnitSpec):
    type: Literal["gpu"] = "gpu"
    sms: PositiveInt
    clock: Frequency = Field(description="SM clock under tensor load (boost)")
    tensor_flops_per_clock_per_sm: dict[str, float] = Field(
        description="dense tensor-core FLOP per clock per SM, by dtype")
    cuda_flops_per_clock_per_sm: float = Field(256.0, description="FP32 FMA FLOP per clock per SM")
    registers_per_sm: Size = "256 KiB"
    shared_memory_per_sm: Size = "228 KiB"
    l2_size: Size = "50 MiB"
    l2_bandwidth: Bandwidth = "10 TB/s"
    launch_overhead: Time = Field("2 us", description="fixed start-up and tail of one kernel")

    def peak_flops(self, dtype: str) -> float:
        return self.sms * self.tensor_flops_per_clock_per_sm[dtype] * self.clock

    @property
    def vector_flops(self) -> float:
        return self.sms * self.cuda_flops_per_clock_per_sm * self.clock
