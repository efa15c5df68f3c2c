"""Device-to-device interconnect: per-link bandwidth, latency, energy, and topology."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from simulator.config.spec import Bandwidth, EnergyPerBit, Ratio, Spec, Time


class LinkSpec(Spec):
    kind: Literal["link"] = "link"
    version: int = 1
    name: str = "link"
    source: str = ""
    topology: Literal["switch", "ring", "fully-connected"] = "switch"
    bandwidth: Bandwidth = Field(description="per device, per direction (line rate)")
    efficiency: Ratio = Field(1.0, description="payload share of the line rate after protocol overhead")
    latency: Time = Field(description="per hop")
    energy_per_bit: EnergyPerBit = 0.0
