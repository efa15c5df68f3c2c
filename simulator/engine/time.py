"""The global time base (integer picoseconds) and clock domains that convert it to their own cycles."""

from __future__ import annotations

import math
from dataclasses import dataclass

PS_PER_S = 10**12


def to_ps(seconds: float) -> int:
    """Seconds to whole picoseconds, rounded up so that no non-zero duration becomes free."""
    return max(0, math.ceil(seconds * PS_PER_S - 1e-6))


def to_s(ps: int) -> float:
    return ps / PS_PER_S


@dataclass(frozen=True)
class ClockDomain:
    """A named clock; `cycles(ps)` is the number of its cycles in a span of the global time."""

    name: str
    frequency: float

    @property
    def period_ps(self) -> float:
        return PS_PER_S / self.frequency

    def cycles(self, ps: int) -> float:
        return ps / self.period_ps
