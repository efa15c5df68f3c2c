"""Registry lines of the built-in unit types and their analytical (roofline) models."""

from __future__ import annotations

from importlib import import_module

from simulator.asic.spec import AsicSpec
from simulator.engine.capability import Capabilities
from simulator.gpu.spec import GpuSpec
from simulator.hardware.registry import UnitType, register
from simulator.hardware.roofline import Roofline
from simulator.lowering.ops import DTYPE_BYTES
from simulator.npu.spec import NpuSpec
from simulator.pim.spec import PimSpec


def lazy(module: str, factory: str):
    """A model factory that imports its module on first use (the PIM command level pulls in numba), so that
    commands which never build that model start fast."""
    def make(name, spec, memory):
        return getattr(import_module(module), factory)(name, spec, memory)
    return make


npu_model = lazy("simulator.npu.model", "make_model")
gpu_model = lazy("simulator.gpu.model", "gpu_model")
pim_model = lazy("simulator.pim.model", "make_model")
pim_command_model = lazy("simulator.pim.model", "make_command_model")


def npu_roofline(name: str, spec: NpuSpec, memory) -> Roofline:
    return Roofline(name, spec.clock, {dt: spec.peak_flops(dt) for dt in spec.macs_per_pe}, spec.vector_flops,
                    memory, spec.memory, static_power=spec.static_power)


def gpu_roofline(name: str, spec: GpuSpec, memory) -> Roofline:
    return Roofline(name, spec.clock, {dt: spec.peak_flops(dt) for dt in spec.tensor_flops_per_clock_per_sm},
                    spec.vector_flops, memory, spec.memory, overhead_s=spec.launch_overhead,
                    static_power=spec.static_power)


def pim_units(spec: PimSpec, memory) -> int:
    """Processing units in the whole PIM memory: one per `banks_per_pu` banks of every (pseudo-)channel."""
    org = memory.organisation
    return org.channels * org.pseudo_channels * org.banks // spec.banks_per_pu


def pim_roofline(name: str, spec: PimSpec, memory) -> Roofline:
    """In-bank MACs: FLOP/s = 2 x lanes x units x clock; resident operands stream at lanes x dtype bytes per clock."""
    units = pim_units(spec, memory)
    lanes_per_s = units * spec.macs_per_bank * spec.clock
    return Roofline(name, spec.clock, {spec.dtype: 2 * lanes_per_s}, 0.0, memory, spec.memory,
                    internal_bandwidth=lanes_per_s * DTYPE_BYTES[spec.dtype], static_power=spec.static_power,
                    capabilities=Capabilities(in_memory=True, pim_rows=spec.row_buffer == "dual"))


def asic_roofline(name: str, spec: AsicSpec, memory) -> Roofline:
    return Roofline(name, spec.clock, {}, spec.vector_flops, memory, spec.memory, static_power=spec.static_power)


register(UnitType("npu", NpuSpec, ("gemm", "attention", "vector", "memory"),
                  {"analytical": npu_roofline, "transaction": npu_model}))
register(UnitType("gpu", GpuSpec, ("gemm", "attention", "vector", "memory"),
                  {"analytical": gpu_roofline, "transaction": gpu_model}))
register(UnitType("pim", PimSpec, ("attention", "gemm"),
                  {"analytical": pim_roofline, "transaction": pim_model, "command": pim_command_model}))
register(UnitType("asic", AsicSpec, ("vector", "memory"), {"analytical": asic_roofline}))
