"""What a unit model returns for one op: its time, the actions it counted, the bytes it moved, its bound."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Bound = Literal["compute", "memory", "communication", "latency"]


@dataclass
class OpCost:
    """Cost of one op on one unit. `counts` feeds energy (action name -> count); `bytes` is per memory name.

    `cycles` is in the unit's own clock; `time_s` is authoritative for the global timeline.
    `detail` carries model-specific facts (tiling chosen, waves, stall split) for reports.
    """

    time_s: float
    cycles: float
    bound: Bound
    flops: float = 0.0
    counts: dict[str, float] = field(default_factory=dict)
    bytes: dict[str, float] = field(default_factory=dict)
    detail: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.time_s >= 0:
            raise ValueError(f"op time must be >= 0, got {self.time_s}")
