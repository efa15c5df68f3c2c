"""Board power of a GPU kernel and the SM clock a power limit allows it (docs/gpu.md, "Power").

Board power is static power plus activity-based dynamic power from the unit's per-action energies (tensor MACs
by dtype, L2/shared-memory bytes, vector ops) and the memory's energy per bit:

    P(f) = P_static + P_sm(f) + P_mem,     P_sm(f) = (sum of actions x energy) / t  x (f / f0)^3

The SM term scales with the cube of the clock (dynamic power ~ C V^2 f with the voltage following the clock on
the DVFS curve; the same work at clock f takes f0 / f of the time at f0). HBM power does not change with the SM
clock. A kernel whose power at the boost clock f0 exceeds the board limit runs at the clock f_lim that meets it,
P(f_lim) = limit (bisection: P is monotonic in f); the power controller reaches it over the `power_cap.window`
(GpuSpec.tensor_clock), so short kernels still run near boost.
"""

from __future__ import annotations

TOLERANCE_HZ = 1e5


def dynamic_power(energies: dict[str, float], counts: dict[str, float], seconds: float) -> float:
    """Watts of the actions `counts` spread over `seconds` (actions without an energy are not costed here)."""
    if seconds <= 0:
        return 0.0
    return sum(n * energies[a] for a, n in counts.items() if a in energies) / seconds


def limit_clock(limit_w: float, static_w: float, sm_w: float, mem_w: float, clock: float,
                floor: float = 0.3) -> float:
    """Highest SM clock <= `clock` at which static + sm_w (f/clock)^3 + mem_w stays within `limit_w`."""
    def power(f: float) -> float:
        return static_w + sm_w * (f / clock) ** 3 + mem_w

    if power(clock) <= limit_w:
        return clock
    lo, hi = floor * clock, clock
    if power(lo) > limit_w:
        return lo
    while hi - lo > TOLERANCE_HZ:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if power(mid) <= limit_w else (lo, mid)
    return lo
