"""NPU description: cores of systolic arrays with vector units, a scratchpad, DMA and an on-chip network.

Every field has a unit, a default and a one-line description; equations that use them are in docs/npu.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from simulator.config.spec import (
    Cycles,
    DTypeName,
    Frequency,
    PositiveFloat,
    PositiveInt,
    Size,
    Spec,
)
from simulator.hardware.unit import UnitSpec
from simulator.npu.noc_spec import NocSpec

DEFAULT_VECTOR_LATENCY: dict[str, float] = {
    # cycles of one pipelined vector instruction (one iteration over `lanes` elements); NeuPIMs sets all to 1
    "add": 1, "mul": 1, "mac": 1, "max": 1, "exp": 1, "div": 1, "sqrt": 1, "gelu": 1, "silu": 1,
}


class Systolic(Spec):
    """The systolic arrays of a core; `timing` selects the cycle convention (SCALE-Sim or ONNXim/NeuPIMs)."""

    rows: PositiveInt = Field(128, description="PE rows (the reduction dimension K in ws/is, M in os)")
    cols: PositiveInt = Field(128, description="PE columns")
    dataflow: Literal["ws", "os", "is"] = Field("ws", description="stationary operand")
    timing: Literal["scalesim", "onnxim"] = Field("onnxim", description="cycle convention, see docs/npu.md")
    min_tile_rows: PositiveInt = Field(4, description="onnxim: an instruction occupies at least this many cycles")
    arrays: PositiveInt = Field(1, description="arrays per core sharing its scratchpad: an instruction's streamed "
                                "rows are spread over them (onnxim timing)")
    accumulator_bytes: float = Field(4, gt=0, description="bytes of one partial sum held on chip")

    @model_validator(mode="after")
    def _arrays_need_onnxim(self) -> Systolic:
        if self.arrays > 1 and self.timing != "onnxim":
            raise ValueError("arrays > 1 needs timing: onnxim (SCALE-Sim models one array)")
        return self

    @property
    def pes(self) -> int:
        """Processing elements of one core's arrays."""
        return self.rows * self.cols * self.arrays


class VectorUnits(Spec):
    """SIMD units beside the array, for norms, softmax, activations and residuals."""

    units: PositiveInt = Field(1, description="vector units per core")
    lanes: PositiveInt = Field(128, description="elements per unit per instruction")
    latency: dict[str, Cycles] = Field(default_factory=lambda: dict(DEFAULT_VECTOR_LATENCY),
                                       description="cycles per instruction by operation")
    pipelined: bool = Field(True, description="back-to-back instructions issue every cycle")


class Partitions(Spec):
    """Optional split of the scratchpad into operand buffers (SCALE-Sim's ifmap/filter/ofmap SRAMs)."""

    ifmap: Size
    filter: Size
    ofmap: Size


class Scratchpad(Spec):
    size: Size = Field(description="on-chip SRAM per core")
    banks: PositiveInt = Field(1, description="independently addressed banks")
    ports: PositiveInt = Field(1, description="read/write ports per bank")
    bank_width: Size = Field("64 B", description="bytes per bank access")
    double_buffer: bool = Field(True, description="DMA of the next tile overlaps compute on this one")
    partitions: Partitions | None = Field(None, description="fixed operand buffers; sizes sum to at most `size`")

    @model_validator(mode="after")
    def _fits(self) -> Scratchpad:
        if self.partitions is not None:
            total = self.partitions.ifmap + self.partitions.filter + self.partitions.ofmap
            if total > self.size * (1 + 1e-9):
                raise ValueError(f"partitions sum to {total:g} B, more than the scratchpad size {self.size:g} B")
        return self

    @property
    def bytes_per_cycle(self) -> float:
        return self.banks * self.ports * self.bank_width


class Dma(Spec):
    """DMA engine moving tiles between the device memory and the scratchpad."""

    latency: Cycles = Field(0, description="fixed cycles per transfer before data streams (issue + DRAM)")
    engines: PositiveInt = Field(1, description="concurrent DMA streams per core")


class GemmMapping(Spec):
    """How GEMMs map onto the cores and arrays: fixed choices, or a search over the ones left open (docs/npu.md)."""

    dataflow: Literal["os", "ws", "is", "any"] | None = Field(
        None, description="stationary operand (none: the array's `systolic.dataflow`; any: searched)")
    tile: tuple[PositiveInt, PositiveInt, PositiveInt] | None = Field(
        None, description="scratchpad tile [Tm, Tn, Tk] per core, clipped to the per-core GEMM")
    order: Literal["m-outer", "n-outer", "k-inner"] | None = Field(None, description="tile loop order")
    partition: tuple[PositiveInt, PositiveInt, PositiveInt] | None = Field(
        None, description="cores along [M, N, K] (product at most `cores`; K > 1 reduces partial sums on the NoC)")
    search: Literal["none", "auto", "exhaustive", "pruned", "random"] = Field(
        "none", description="none: today's heuristic unless a key above is fixed (then the open keys are searched "
        "as auto); auto: exhaustive when small, else pruned + random; or exhaustive, pruned, random")
    objective: Literal["latency", "traffic", "energy"] = Field("latency", description="what the search minimises")
    samples: PositiveInt = Field(4096, description="random candidates drawn (random, and auto beyond exhaustive)")
    seed: int = Field(0, description="seed of the random candidates")

    @model_validator(mode="after")
    def _tile_needs_order(self) -> GemmMapping:
        if (self.tile is None) != (self.order is None):
            raise ValueError("tile and order are set together")
        return self


class AttentionMapping(Spec):
    """How fused attention maps onto the array and vector units (simulator/npu/attention.py)."""

    cascade: Literal["flash", "fusemax", "flat", "unfused"] = Field(
        "flash", description="flash: today's model; fusemax: pipelined einsum cascade; flat: fused, stages in "
        "sequence; unfused: S and P through DRAM")


class Mappings(Spec):
    """Mapping choices per op kind (optional: without them the model's defaults apply)."""

    gemm: GemmMapping = GemmMapping()
    attention: AttentionMapping = AttentionMapping()


class Fusion(Spec):
    """On-chip reuse across a layer's ops (simulator/npu/fusion.py): intermediates kept in the scratchpad are
    neither written to nor read from DRAM. Off by default."""

    policy: Literal["off", "first-fit", "search"] = Field(
        "off", description="scratchpad allocator for the layer's intermediates (off: every op goes through DRAM)")
    reserve: float = Field(0.25, ge=0, lt=1, description="share of the scratchpad kept for the running op's tiles")

    @field_validator("policy", mode="before")
    @classmethod
    def _yaml_off(cls, v):
        """YAML 1.1 reads a bare `off` as false: take it as the policy it spells."""
        return "off" if v is False else v


class NpuSpec(UnitSpec):
    type: Literal["npu"] = "npu"
    clock: Frequency
    cores: PositiveInt = 1
    systolic: Systolic = Systolic()
    vector: VectorUnits = VectorUnits()
    scratchpad: Scratchpad
    dma: Dma = Dma()
    noc: NocSpec | None = Field(None, description="network joining the cores (none: one core)")
    gemv_threshold: int = Field(
        16, ge=0, description="a GEMM with at most this many rows may map to the vector units (0: never)")
    macs_per_pe: dict[DTypeName, PositiveFloat] = Field(
        default_factory=lambda: {"fp16": 1.0, "bf16": 1.0}, min_length=1,
        description="MACs per PE per cycle by dtype; a dtype missing here is not supported")
    mapping: Mappings = Field(default_factory=Mappings, description="mapping choices per op kind")
    pe: Literal["mac", "bitserial", "lut"] = Field(
        "mac", description="PE kind for GEMMs with low-bit weights: mac (dequantise, then MAC at the activation "
        "format), bitserial (a weight bit per cycle), lut (table lookups, LUT Tensor Core); simulator/npu/pe.py")
    lut_group: PositiveInt = Field(4, le=8, description="activations per table (lut PEs): 2^(g-1) entries")
    fusion: Fusion = Field(default_factory=Fusion, description="on-chip reuse of intermediates across a layer's ops")

    def peak_flops(self, dtype: str) -> float:
        """FLOP/s of all arrays for `dtype` (2 FLOPs per MAC)."""
        return 2 * self.cores * self.systolic.pes * self.macs_per_pe[dtype] * self.clock

    @property
    def vector_flops(self) -> float:
        return self.cores * self.vector.units * self.vector.lanes * self.clock
