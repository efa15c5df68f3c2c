"""Physical quantities with units, parsed once and in one place ("1 GHz", "32 GiB", "900 GB/s", "1.3 pJ/bit").

Every value is returned as a float in the dimension's base unit:
frequency Hz, time s, size bytes, bandwidth bytes/s, energy J, energy_per_bit J/bit, power W,
rate FLOP/s, transfer_rate transfers/s per pin ("3200 MT/s", "2 Gbps"), cycles (count of clock cycles), count (dimensionless), ratio (fraction; "90 %" -> 0.9).
A bare number is accepted for count, cycles and ratio, and 0 for any dimension; every other dimension needs a unit, so that a
forgotten unit is an error rather than a silent factor of 1e9.
"""

from __future__ import annotations

import math
import re

from simulator.errors import allowed, did_you_mean

_DEC = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_BIN = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}
_SUB = {"": 1.0, "m": 1e-3, "u": 1e-6, "µ": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}


def _table() -> dict[str, dict[str, float]]:
    t: dict[str, dict[str, float]] = {d: {} for d in (
        "frequency", "time", "size", "bandwidth", "energy", "energy_per_bit", "power", "rate",
        "transfer_rate", "cycles", "count", "ratio")}
    for p, f in _DEC.items():
        t["frequency"][f"{p}Hz"] = f
    for p, f in _SUB.items():
        t["time"][f"{p}s"] = f
        t["energy"][f"{p}J"] = f
        t["power"][f"{p}W"] = f
        t["energy_per_bit"][f"{p}J/bit"] = f
        t["energy_per_bit"][f"{p}J/b"] = f
        t["energy_per_bit"][f"{p}J/B"] = f / 8
        t["energy_per_bit"][f"{p}J/byte"] = f / 8
    t["power"]["kW"] = 1e3
    for p, f in {**_DEC, **_BIN}.items():
        t["size"][f"{p}B"] = f
        t["size"][f"{p}b"] = f / 8
        t["size"][f"{p}bit"] = f / 8
        t["bandwidth"][f"{p}B/s"] = f
        t["bandwidth"][f"{p}b/s"] = f / 8
        t["bandwidth"][f"{p}bps"] = f / 8
        t["rate"][f"{p}FLOP/s"] = f
        t["rate"][f"{p}FLOPS"] = f
        t["rate"][f"{p}OP/s"] = f
        t["rate"][f"{p}OPS"] = f
    for p, f in _DEC.items():
        t["transfer_rate"][f"{p}T/s"] = f
        t["transfer_rate"][f"{p}bps"] = f
        t["transfer_rate"][f"{p}b/s/pin"] = f
    t["size"]["bytes"] = 1.0
    t["size"]["byte"] = 1.0
    t["size"]["bits"] = 1 / 8
    t["cycles"].update({"": 1.0, "cycle": 1.0, "cycles": 1.0, "clk": 1.0, "tCK": 1.0})
    t["count"].update({"": 1.0, "x": 1.0})
    t["ratio"].update({"": 1.0, "%": 0.01})
    return t


UNITS = _table()
DIMENSIONS = tuple(UNITS)
_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


class QuantityError(ValueError):
    """A value that is not a number with a unit of the expected dimension."""


def parse(value: object, dimension: str) -> float:
    """Parse `value` (a number or a 'number unit' string) into the base unit of `dimension`."""
    if dimension not in UNITS:
        raise KeyError(dimension)
    if isinstance(value, bool):
        raise QuantityError(f"expected a {dimension}, got {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise QuantityError(f"{value!r} is not a finite {dimension}")
        if value == 0:
            return 0.0
        if "" in UNITS[dimension]:
            return float(value) * UNITS[dimension][""]
        example = next(iter(u for u in UNITS[dimension] if u))
        raise QuantityError(f"{value!r} needs a unit of {dimension} (e.g. '{value} {example}')")
    if not isinstance(value, str):
        raise QuantityError(f"expected a {dimension} such as '1 GHz', got {value!r}")
    m = _NUMBER.match(value)
    if not m:
        raise QuantityError(f"'{value}' is not a number with a unit of {dimension}")
    number, unit = float(m.group(1)), m.group(2)
    units = UNITS[dimension]
    if unit not in units:
        other = [d for d, u in UNITS.items() if unit in u and unit]
        hint = f" ('{unit}' is a unit of {other[0]})" if other else did_you_mean(unit, [u for u in units if u])
        raise QuantityError(f"unknown unit '{unit}' for a {dimension}{hint}; "
                            f"{allowed([u for u in units if u])}")
    result = number * units[unit]
    if not math.isfinite(result):
        raise QuantityError(f"'{value}' is not a finite {dimension} (too large to represent)")
    return result


def fmt(value: float, dimension: str) -> str:
    """A readable string for a base-unit value (for reports and `simulate show`)."""
    prefixes = {"frequency": ("Hz", _DEC), "bandwidth": ("B/s", _DEC), "size": ("B", _BIN),
                "rate": ("FLOP/s", _DEC), "time": ("s", _SUB), "energy": ("J", _SUB), "power": ("W", _SUB)}
    if dimension not in prefixes:
        return f"{value:g}"
    unit, table = prefixes[dimension]
    for p, f in sorted(table.items(), key=lambda kv: -kv[1]):
        if abs(value) >= f:
            return f"{value / f:.4g} {p}{unit}"
    return f"{value:.4g} {unit}"
