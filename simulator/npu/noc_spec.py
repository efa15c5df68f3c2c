"""On-chip network description: a crossbar or a k x k mesh of input-queued virtual-channel routers.

Field names follow BookSim2's configuration keys (booksim/booksim2, `booksim_config.cpp`) so that a BookSim
configuration reads across one to one; `hwconfigs/noc/booksim-mesh8x8.yaml` is the reference one.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from simulator.config.spec import Cycles, Energy, PositiveInt, Size, Spec


class NocSpec(Spec):
    """A network of `nodes` terminals; per-hop timing is the router pipeline plus the link."""

    version: int = 1
    kind: Literal["noc"] = "noc"
    name: str = "noc"
    source: str = ""
    topology: Literal["mesh", "crossbar"] = Field("mesh", description="2-D mesh (k x k) or one crossbar switch")
    k: PositiveInt = Field(8, description="mesh: routers per dimension; crossbar: ports")
    n: Literal[2] = Field(2, description="mesh dimensions (2-D only)")
    routing_function: Literal["dor", "xy"] = Field("dor", description="dimension-order (X then Y) routing")
    num_vcs: PositiveInt = Field(4, description="virtual channels per input port")
    vc_buf_size: PositiveInt = Field(8, description="flits of buffer per virtual channel")
    routing_delay: Cycles = Field(1, description="route computation stage")
    vc_alloc_delay: Cycles = Field(1, description="virtual-channel allocation stage")
    sw_alloc_delay: Cycles = Field(1, description="switch allocation stage")
    st_final_delay: Cycles = Field(1, description="switch traversal stage")
    credit_delay: Cycles = Field(1, description="credit return latency")
    link_latency: Cycles = Field(1, description="cycles on a router-to-router channel")
    injection_latency: Cycles = Field(
        2, description="cycles from packet creation to the source router's input (source queue + channel)")
    ejection_latency: Cycles = Field(1, description="cycles on the ejection channel to the terminal")
    vc_allocator: Literal["separable_input_first", "ideal"] = Field(
        "separable_input_first", description="separable input-first (round-robin arbiters, one pass, as BookSim "
        "allocators/separable_input_first.cpp) or ideal (no allocation conflicts); must equal sw_allocator")
    sw_allocator: Literal["separable_input_first", "ideal"] = Field(
        "separable_input_first", description="switch allocator: separable input-first, or ideal (a packet takes "
        "the first cycle at which its input and output ports are free: a maximum matching)")
    alloc_iters: Literal[1] = Field(
        1, description="allocator passes per cycle; BookSim's separable allocators make one (it iterates only "
        "islip/pim, not modelled)")
    packet_size: PositiveInt = Field(1, description="flits per packet")
    flit_bytes: Size = Field("16 B", description="bytes per flit (link width)")
    energy_per_bit_hop: Energy = Field(0.0, description="energy to move one bit across one router and link")
    # traffic/measurement defaults for `simulate noc` (BookSim's names)
    warmup_periods: PositiveInt = Field(3, description="warm-up sample periods before measuring")
    sample_period: PositiveInt = Field(1000, description="cycles per sample period")
    max_samples: PositiveInt = Field(10, description="measured sample periods (capped by the caller)")
    latency_thres: float = Field(500.0, gt=0, description="average latency above which the run is saturated")
    seed: int = 42

    @model_validator(mode="after")
    def _sane(self) -> NocSpec:
        if self.topology == "mesh" and self.k < 2:
            raise ValueError("a mesh needs k >= 2")
        if self.vc_allocator != self.sw_allocator:
            raise ValueError(f"vc_allocator {self.vc_allocator!r} and sw_allocator {self.sw_allocator!r} differ; "
                             "allowed: both separable_input_first or both ideal")
        return self

    @property
    def nodes(self) -> int:
        return self.k * self.k if self.topology == "mesh" else self.k

    @property
    def router_delay(self) -> float:
        """Pipeline cycles from a flit's arrival at a router to its departure on the output (no contention)."""
        return self.routing_delay + self.vc_alloc_delay + self.sw_alloc_delay + self.st_final_delay

    @property
    def hop_delay(self) -> float:
        return self.router_delay + self.link_latency

    @property
    def buffer_flits(self) -> int:
        return self.num_vcs * self.vc_buf_size


def load_noc_spec(path, overrides: dict | None = None) -> NocSpec:
    """The NoC of a file: a `kind: noc` file, or the first NPU with a `noc:` in a `kind: system` file."""
    from simulator.config.loader import load
    from simulator.config.spec import validate
    from simulator.errors import ConfigError

    doc = load(path, overrides, kinds=("noc", "system"))
    if doc.data.get("kind") == "noc":
        return validate(NocSpec, doc.data, file=str(doc.path))
    units = (doc.data.get("device") or {}).get("units") or {}
    for name, unit in units.items():
        if isinstance(unit, dict) and unit.get("noc") is not None:
            return validate(NocSpec, unit["noc"], file=str(doc.path), prefix=f"device.units.{name}.noc")
    raise ConfigError("no network here: expected a kind: noc file or a system with an NPU that has a noc",
                      file=str(doc.path))
