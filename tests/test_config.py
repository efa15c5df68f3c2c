"""Config loading: includes, overrides, validation; property tests over generated configs."""

import string

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.cli import ROOT
from simulator.config.loader import deep_merge, load, parse_set
from simulator.errors import ConfigError
from simulator.hardware.system import build_system, load_system
from simulator.memory.spec import MemorySpec
from simulator.npu.spec import NpuSpec

MEMORY = yaml.safe_load((ROOT / "hwconfigs/memory/neupims-hbm2.yaml").read_text())


def test_include_and_override(tmp_path):
    (tmp_path / "part.yaml").write_text("version: 1\nkind: memory\nname: p\nsource: s\nstandard: HBM2\n"
                                        "tck: 1 ns\ndata_rate: 2 Gbps\norganisation: {channels: 8}\n")
    (tmp_path / "sys.yaml").write_text("version: 1\nkind: system\nname: s\ndevice:\n  memories:\n"
                                       "    m: {include: part.yaml, organisation: {channels: 16}}\n"
                                       "  units:\n    npu: {type: npu, memory: m, clock: 1 GHz, scratchpad: {size: 1 MiB}}\n")
    system = load_system(tmp_path / "sys.yaml")
    assert system.memories["m"].organisation.channels == 16      # override merged over the include
    assert system.memories["m"].standard == "HBM2"
    assert system.memories["m"].name == "m"
    system = load_system(tmp_path / "sys.yaml", {"device.memories.m.organisation.channels": 4})
    assert system.memories["m"].peak_bandwidth == 4 * 16 * 2e9


def test_include_cycle(tmp_path):
    (tmp_path / "a.yaml").write_text("version: 1\nkind: memory\nx: {include: b.yaml}\n")
    (tmp_path / "b.yaml").write_text("y: {include: a.yaml}\n")
    with pytest.raises(ConfigError, match="include cycle"):
        load(tmp_path / "a.yaml")


def test_parse_set_values_are_yaml():
    out = parse_set(["hw.devices=8", "workload.dtype={weights: fp8}", "hw.device.units.gpu.clock=1.6 GHz"])
    assert out["hw"] == {"devices": 8, "device.units.gpu.clock": "1.6 GHz"}
    assert out["workload"] == {"dtype": {"weights": "fp8"}}


def test_every_shipped_system_loads():
    for path in sorted((ROOT / "hwconfigs").glob("*.yaml")):
        system = load_system(path)
        assert system.source, path
        assert system.memory_capacity > 0


@settings(max_examples=60, deadline=None)
@given(key=st.text(string.ascii_lowercase + "_", min_size=1, max_size=12))
def test_unknown_keys_are_always_rejected(key):
    if key in NpuSpec.model_fields or key in ("kind", "include"):  # header and include keys are not fields
        return
    doc = load(ROOT / "hwconfigs/npu-only.yaml", {f"device.units.npu.{key}": 1})
    with pytest.raises(ConfigError, match=f"unknown key '{key}'"):
        build_system(doc)


@settings(max_examples=60, deadline=None)
@given(channels=st.integers(-4, 64), width=st.sampled_from([16, 24, 32, 64, 100, 128]))
def test_organisation_validation(channels, width):
    data = deep_merge(MEMORY, {"organisation": {"channels": channels, "bus_width_bits": width}})
    data = {k: v for k, v in data.items() if k not in ("version", "kind")}
    valid = channels > 0 and width & (width - 1) == 0
    if valid:
        spec = MemorySpec.model_validate(data)
        assert spec.peak_bandwidth == channels * width / 8 * 2e9
    else:
        with pytest.raises(Exception):
            MemorySpec.model_validate(data)


@settings(max_examples=40, deadline=None)
@given(trc=st.integers(1, 100), tras=st.integers(1, 60), trp=st.integers(1, 40))
def test_jedec_relation_tRC(trc, tras, trp):
    timing = dict(MEMORY["timing"], tRC=trc, tRAS=tras, tRP=trp, tRCD=1)
    data = {k: v for k, v in MEMORY.items() if k not in ("version", "kind")}
    data["timing"] = timing
    if trc >= tras + trp:
        MemorySpec.model_validate(data)
    else:
        with pytest.raises(Exception, match="tRC"):
            MemorySpec.model_validate(data)
