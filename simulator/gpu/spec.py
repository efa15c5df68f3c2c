"""GPU description: SMs with tensor cores, on-chip memories, L2, launch behaviour and the power-cap clock.

Every field has a unit and a one-line description; the presets in `hwconfigs/gpu/` cite a source for each
value. The kernel models in this package (`gemm.py`, `attention.py`, `elementwise.py`) read only these fields
and the memory's `peak_bandwidth` / `efficiency`, so a GPU that does not exist yet is a YAML file.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from simulator.config.spec import (
    Bandwidth,
    DTypeName,
    Frequency,
    Pair,
    PositiveFloat,
    PositiveInt,
    Power,
    Ratio,
    Size,
    Spec,
    Time,
)
from simulator.hardware.unit import UnitSpec


class PowerCap(Spec):
    """Clock behaviour under the board power limit.

    A tensor-heavy kernel starts at `clock`; the power controller lowers the clock towards `sustained_clock`
    with time constant `window` (effective clock of a kernel of duration T: a mean over the exponential decay).
    """

    sustained_clock: Frequency = Field(description="SM clock that a long tensor-core load settles at")
    window: Time = Field("5 ms", description="time constant of the power controller")


class GemmTiling(Spec):
    """CTA tile candidates of the GEMM library (CUTLASS-like); the model picks the fastest, as cuBLAS's heuristic."""

    tiles: list[Pair] = Field(
        default=[(64, 64), (64, 128), (128, 64), (128, 128), (128, 256), (256, 128)],
        description="(BM, BN) CTA tiles, BM along the tokens (M), BN along the output features (N)")
    bk: PositiveInt = Field(64, description="K depth of one pipeline stage")
    split_k: list[PositiveInt] = Field(default=[1, 2, 3, 4, 6, 8, 12, 16], description="split-K factors tried")
    min_k_per_split: PositiveInt = Field(256, description="smallest K slice a split-K CTA gets")
    max_stages: PositiveInt = Field(8, description="deepest load/MMA pipeline (shared-memory stages)")
    cluster: PositiveInt = Field(2, description="CTAs of a thread-block cluster along M sharing a multicast B tile")
    stream_k: bool = Field(True, description="also try stream-K (persistent CTAs, even split of k-iterations)")
    cta_setup: Time = Field("0 us", description="start of a warp-specialised CTA: barriers, tensor maps, first TMA")
    tile_access_efficiency: Ratio = Field(
        1.0, description="DRAM efficiency of 2-D tile loads (128-byte row segments) relative to a linear stream")
    weight_only_bm: PositiveInt = Field(
        16, description="row tile of mixed-input (weight-only) kernels, an m16 MMA fragment (tinygemm, Marlin)")
    dequant_ops_per_element: dict[str, float] = Field(
        default={"int8": 2.0, "int4": 3.0, "fp8": 2.0},
        description="CUDA-core ops per weight element to widen narrower stored weights to the compute dtype "
                    "(weight-only quantisation), by stored dtype")


class GpuSpec(UnitSpec):
    type: Literal["gpu"] = "gpu"
    sms: PositiveInt
    clock: Frequency = Field(description="SM clock under tensor load (boost)")
    max_clock: Frequency | None = Field(None, description="highest SM clock (light load); default `clock`")
    tensor_flops_per_clock_per_sm: dict[DTypeName, PositiveFloat] = Field(
        min_length=1, description="dense tensor-core FLOP per clock per SM, by dtype")
    cuda_flops_per_clock_per_sm: PositiveFloat = Field(256.0, description="FP32 FMA FLOP per clock per SM")
    sfu_ops_per_clock_per_sm: PositiveFloat = Field(16.0, description="special-function (exp) results per clock per SM")
    registers_per_sm: Size = "256 KiB"
    shared_memory_per_sm: Size = "228 KiB"
    l1_per_sm: Size = Field("256 KiB", description="L1 + shared memory per SM")
    max_threads_per_sm: PositiveInt = 2048
    max_ctas_per_sm: PositiveInt = 32
    l2_size: Size = "50 MiB"
    l2_bandwidth: Bandwidth = "10 TB/s"
    l2_latency: Time = Field("150 ns", description="load-to-use latency of an L2 hit")
    memory_latency: Time = Field("600 ns", description="load-to-use latency of a DRAM access under load")
    idle_memory_latency: Time | None = Field(
        None, description="load-to-use latency of a DRAM access while the memory system is idle: a kernel's first "
                          "loads, a chain of one load at a time; default memory_latency")
    shared_memory_latency: Time = Field(
        "15 ns", description="on-SM round trip: a shared-memory load, a warp shuffle or a short dependent "
                             "arithmetic chain (row reductions' per-step latency)")
    sm_bytes_in_flight: Size = Field(
        "32 KiB", description="bytes one CTA of a streaming kernel keeps in flight (async-copy stages)")
    tensor_efficiency: Ratio = Field(
        1.0, description="fraction of the tensor-core peak a CTA main loop sustains at the kernel's clock")
    unaligned_elements_per_clock_per_sm: PositiveFloat = Field(
        4.0, description="operand elements per clock per SM of the alignment-1 GEMM fallback (N % 8 != 0)")
    launch_overhead: Time = Field("2 us", description="fixed start-up and tail of one kernel (inside a CUDA graph)")
    legacy_mma_fraction: Ratio = Field(
        1.0, description="fraction of the tensor rate that the previous generation's GEMM kernels reach on this GPU "
                         "(a framework's sm80 mma.sync CUTLASS kernel on Hopper, whose native path is wgmma)")
    strided_elements_per_clock_per_sm: PositiveFloat | None = Field(
        None, description="elements per SM clock of a framework's generic elementwise kernel (strided, broadcast or "
                          "casting operands: per-element index arithmetic, scalar loads); None: as vectorised")
    strided_kernel_setup: Time = Field(
        "0 us", description="extra fixed time of such a generic kernel over a vectorised one")
    eager_launch_gap: Time = Field("0 us", description="extra gap per kernel when launched eagerly from the host")
    large_graph_kernels: PositiveInt | None = Field(
        None, description="a CUDA graph of more kernels than this leaves a longer gap between its kernels")
    large_graph_gap: Time = Field("0 us", description="that extra gap per kernel")
    eager_call_overhead: Time = Field("0 us", description="extra time once per eagerly timed call (first launch)")
    power_cap: PowerCap | None = None
    power_limit: Power | None = Field(
        None, description="board power limit; a kernel whose modelled power exceeds it runs at a lower SM clock "
                          "(power.py); per-action energies in `energy:` hold at `clock`")
    gemm: GemmTiling = GemmTiling()

    @model_validator(mode="after")
    def _clocks(self) -> GpuSpec:
        if self.memory is None:
            raise ValueError("memory: a GPU reads its operands from a device memory; set memory: to one of them")
        if self.max_clock is not None and self.max_clock < self.clock:
            raise ValueError(f"max_clock ({self.max_clock:g} Hz) must be at least clock ({self.clock:g} Hz)")
        if self.power_cap is not None and self.power_cap.sustained_clock > self.clock:
            raise ValueError(f"power_cap.sustained_clock ({self.power_cap.sustained_clock:g} Hz) must not "
                             f"exceed clock ({self.clock:g} Hz)")
        return self

    def peak_flops(self, dtype: str) -> float:
        return self.sms * self.tensor_flops_per_clock_per_sm[dtype] * self.clock

    @property
    def vector_flops(self) -> float:
        return self.sms * self.cuda_flops_per_clock_per_sm * self.clock

    @property
    def light_clock(self) -> float:
        """SM clock of latency-bound and memory-bound kernels (no power-cap pressure)."""
        return self.max_clock if self.max_clock is not None else self.clock

    def tensor_clock(self, duration_s: float, sustained: float | None = None) -> float:
        """Mean SM clock of a tensor-heavy kernel that would take `duration_s` at `clock`.

        Under the power cap the clock decays as f(t) = fs + (f0 - fs) exp(-t / window); the mean over [0, T]
        is fs + (f0 - fs) (window / T) (1 - exp(-T / window)). `sustained` (the clock the power limit allows
        this kernel, power.py) lowers fs below the measured `power_cap.sustained_clock`; without a measured
        `power_cap` the kernel runs at `sustained` (a board under steady load has settled there).
        """
        cap = self.power_cap
        if cap is None:                       # no measured controller dynamics: the settled clock of a loaded board
            return min(self.clock, sustained) if sustained is not None else self.clock
        fs = cap.sustained_clock if sustained is None else min(cap.sustained_clock, sustained)
        if fs >= self.clock or duration_s <= 0:
            return self.clock
        x = duration_s / cap.window
        mean = (1.0 - math.exp(-x)) / x if x > 1e-9 else 1.0
        return fs + (self.clock - fs) * mean
