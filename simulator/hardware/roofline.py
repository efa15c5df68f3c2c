"""Analytical (roofline) level, one model for every unit type.

    t_compute = FLOPs / peak_rate(op class, dtype)
    t_memory  = bytes crossing the unit's memory interface / sustained bandwidth
    t_op      = max(t_compute, t_memory) + fixed overhead per kernel

The bound is whichever term is larger. PIM reads resident tensors (weights, KV) inside the banks at its
internal bandwidth and only the streamed operands over the bus. Collectives use the link's alpha-beta model
(see `simulator/link/collective.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.engine.capability import NONE, Capabilities
from simulator.engine.cost import OpCost
from simulator.errors import ConfigError, allowed
from simulator.lowering.ops import Op
from simulator.memory.analytical import sustained_bandwidth
from simulator.memory.spec import MemorySpec


@dataclass(frozen=True)
class Roofline:
    """A unit seen as peak rates and a memory interface. Rates in FLOP/s, bandwidths in B/s."""

    name: str
    clock: float
    matrix_flops: dict[str, float]       # by dtype, for gemm/attention ops
    vector_flops: float                  # elementwise/reduction FLOP/s
    memory: MemorySpec | None
    memory_name: str | None
    overhead_s: float = 0.0              # per kernel (launch/tail), GPUs
    internal_bandwidth: float = 0.0      # PIM: in-bank bandwidth for resident tensors
    static_power: float = 0.0
    capabilities: Capabilities = NONE    # PIM: computes in the banks

    def rate(self, op: Op) -> float:
        if op.op_class in ("gemm", "attention"):
            if op.dtype not in self.matrix_flops:
                raise ConfigError(f"unit '{self.name}' has no {op.dtype} matrix rate; "
                                  f"{allowed(self.matrix_flops)} (set the workload's dtype)", key="dtype")
            return self.matrix_flops[op.dtype]
        return self.vector_flops

    def cost(self, op: Op) -> OpCost:
        flops = op.flops
        t_compute = flops / self.rate(op) if flops else 0.0
        resident = op.weight_bytes
        streamed = op.bytes - resident
        bus = sustained_bandwidth(self.memory) if self.memory is not None else float("inf")
        if self.internal_bandwidth:
            t_memory = resident / self.internal_bandwidth + streamed / bus
        else:
            t_memory = op.bytes / bus
        overhead = self.overhead_s * op.kernels
        time_s = max(t_compute, t_memory) + overhead
        bound = "compute" if t_compute >= t_memory else "memory"
        if overhead > max(t_compute, t_memory):
            bound = "latency"
        counts = _counts(op)
        bus_bytes = streamed if self.internal_bandwidth else op.bytes
        moved = {self.memory_name: bus_bytes} if self.memory_name else {}
        if self.internal_bandwidth:
            counts["pim.internal_byte"] = resident
        return OpCost(time_s=time_s, cycles=time_s * self.clock, bound=bound, flops=flops, counts=counts,
                      bytes=moved, detail={"t_compute_s": t_compute, "t_memory_s": t_memory,
                                           "overhead_s": overhead})


def _counts(op: Op) -> dict[str, float]:
    """Actions an analytical op performs: MACs by dtype for matrix work, vector ops otherwise, bytes touched."""
    if op.op_class in ("gemm", "attention"):
        return {f"mac.{op.dtype}": op.flops / 2, "sram.byte": op.bytes}
    if op.flops:
        return {"vector.op": op.flops, "sram.byte": op.bytes}
    return {"sram.byte": op.bytes}


def unit_peaks(system) -> dict[str, tuple[float, float]]:
    """(peak FLOP/s, bandwidth) of every unit's analytical model, for roofline plots."""
    peaks = {}
    for name, model in system.models("analytical").items():
        if not hasattr(model, "matrix_flops"):
            continue
        flops = max(list(model.matrix_flops.values()) + [model.vector_flops])
        bw = model.internal_bandwidth or (sustained_bandwidth(model.memory) if model.memory else 0.0)
        peaks[name] = (flops, bw)
    return peaks
