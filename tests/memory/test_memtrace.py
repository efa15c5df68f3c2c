"""run_memtrace: JSON keys at both levels, and bad input as one UserError naming file and line."""

from __future__ import annotations

import json

import pytest

from simulator.config.spec import validate
from simulator.errors import ConfigError, UserError
from simulator.memory.loader import load_memory_spec
from simulator.memory.memtrace import run_memtrace
from simulator.memory.spec import MemorySpec

from .conftest import PRESETS

KEYS = ("bandwidth_gbps", "avg_read_latency_ns", "avg_read_latency_cycles", "row_hit_rate", "sim_cycles",
        "commands", "energy_j", "p50_read_latency_cycles", "p99_read_latency_cycles", "max_read_latency_cycles",
        "per_channel")


@pytest.fixture
def small_trace(tmp_path):
    p = tmp_path / "t.trc"
    p.write_text("".join(f"{i} {'W' if i % 3 == 0 else 'R'} 0x{i * 4160:x}\n" for i in range(3000)))
    return p


@pytest.mark.parametrize("level", ["command", "transaction"])
def test_summary_keys(level, hbm2, small_trace):
    out = run_memtrace(hbm2, small_trace, level)
    for k in KEYS:
        assert k in out
    json.dumps(out)
    assert out["requests"] == 3000 and out["writes"] == 1000
    assert out["bandwidth_gbps"] > 0 and out["energy_j"] > 0
    assert isinstance(out["energy_j"], float)


def test_command_level_per_channel_and_series(hbm2, small_trace):
    out = run_memtrace(hbm2, small_trace)
    assert len(out["per_channel"]) == hbm2.organisation.channels
    assert sum(c["requests"] for c in out["per_channel"]) == 3000
    assert sum(map(sum, out["series"]["bytes_per_bin"])) == 3000 * 64


@pytest.mark.parametrize("text, line, what", [
    ("0 R 0x40\n1 X 0x80\n", "line 2", "must be R or W"),
    ("0 R 0x40\nfoo R 0x80\n", "line 2", "not an integer"),
    ("0 R 0x40\n\n2 R 0x80 9\n", "line 3", "expected"),
    ("5 R 0x40\n4 R 0x80\n", "line 2", "must not decrease"),
    ("0 R 0x40\n1 R 0x400000000\n", "line 2", "beyond the memory's capacity"),
    ("# comment\n0 R 0x40\n1 R zz\n", "line 3", "hexadecimal"),
])
def test_bad_trace_lines(text, line, what, hbm2, tmp_path):
    p = tmp_path / "bad.trc"
    p.write_text(text)
    with pytest.raises(UserError) as err:
        run_memtrace(hbm2, p)
    assert err.value.file == str(p) and err.value.key == line
    assert what in str(err.value)


def test_missing_trace_and_bad_level(hbm2, tmp_path):
    with pytest.raises(UserError, match="not found"):
        run_memtrace(hbm2, tmp_path / "none.trc")
    with pytest.raises(UserError, match="allowed: command, transaction"):
        run_memtrace(hbm2, tmp_path / "none.trc", "cycle")


def _data(**timing):
    import yaml

    d = yaml.safe_load((PRESETS / "dramsim3-hbm2.yaml").read_text())
    d["timing"].update(timing)
    return d


@pytest.mark.parametrize("timing, key, what", [
    ({"tRC": 40}, "timing", "tRC (40) must be at least tRAS + tRP (48)"),
    ({"tRAS": 10}, "timing", "tRAS"),
    ({"tCCD_L": 0}, "timing", "tCCD_L"),
    ({"tREFI": 100}, "timing", "tREFI"),
    ({"tRCD": "14 ns"}, "timing.tRCD", ""),
])
def test_jedec_violations_are_config_errors(timing, key, what):
    with pytest.raises(ConfigError) as err:
        validate(MemorySpec, _data(**timing), file="m.yaml")
    assert err.value.key == key and what in str(err.value)


def test_loader_rejects_unknown_keys_and_bad_mapping(tmp_path):
    import yaml

    d = _data()
    d["controller"]["adress_mapping"] = "rorabgbachco"
    p = tmp_path / "m.yaml"
    p.write_text(yaml.safe_dump(d))
    with pytest.raises(ConfigError, match="did you mean 'address_mapping'"):
        load_memory_spec(p)
    d = _data()
    d["controller"]["address_mapping"] = "rorabgbaco"
    p.write_text(yaml.safe_dump(d))
    with pytest.raises(ConfigError) as err:
        load_memory_spec(p)
    assert err.value.key == "controller.address_mapping" and "lacks field 'ch'" in str(err.value)
