"""Quantities with units are parsed once, into base units, and wrong units are rejected with a hint."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.quantity import UNITS, QuantityError, fmt, parse


@pytest.mark.parametrize("text,dimension,expected", [
    ("1 GHz", "frequency", 1e9), ("1.5GHz", "frequency", 1.5e9), ("32 GiB", "size", 32 * 2**30),
    ("900 GB/s", "bandwidth", 900e9), ("12.8 GiB/s", "bandwidth", 12.8 * 2**30), ("14 cycles", "cycles", 14),
    ("14", "cycles", 14), ("1.3 pJ/bit", "energy_per_bit", 1.3e-12), ("8 pJ/B", "energy_per_bit", 1e-12),
    ("30 ns", "time", 30e-9), ("2 us", "time", 2e-6), ("700 W", "power", 700), ("66 mW", "power", 0.066),
    ("3200 MT/s", "transfer_rate", 3.2e9), ("2 Gbps", "transfer_rate", 2e9), ("90 %", "ratio", 0.9),
    ("989.4 TFLOP/s", "rate", 989.4e12), ("128 Kib", "size", 128 * 1024 / 8), (0, "bandwidth", 0.0),
])
def test_parse(text, dimension, expected):
    assert math.isclose(parse(text, dimension), expected, rel_tol=1e-12)


@pytest.mark.parametrize("text,dimension,hint", [
    ("1 Ghz", "frequency", "did you mean 'GHz'"), ("3 GHz", "size", "unit of frequency"),
    ("fast", "frequency", "not a number"), (5, "frequency", "needs a unit"), (True, "count", "expected"),
])
def test_rejects(text, dimension, hint):
    with pytest.raises(QuantityError, match=hint):
        parse(text, dimension)


@given(value=st.floats(min_value=1e-3, max_value=1e6, allow_nan=False),
       dimension=st.sampled_from(["frequency", "size", "bandwidth", "time", "energy", "power"]),
       data=st.data())
def test_any_unit_scales_linearly(value, dimension, data):
    unit = data.draw(st.sampled_from(sorted(u for u in UNITS[dimension] if u)))
    assert math.isclose(parse(f"{value!r} {unit}", dimension), value * UNITS[dimension][unit], rel_tol=1e-12)


def test_fmt_round_trip():
    assert fmt(1e9, "frequency") == "1 GHz"
    assert fmt(32 * 2**30, "size") == "32 GiB"
