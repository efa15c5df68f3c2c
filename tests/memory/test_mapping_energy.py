"""Address mapping orders, IDD energies, presets."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.memory.dram import mapping
from simulator.memory.dram.energy import command_energy

from .conftest import PRESETS, preset


def test_rorabgbachco_fields(hbm2):
    # 64 B offset, 5 column bits, 3 channel bits, 2 bank, 2 bank group, then row
    addr = np.array([0, 64, 1 << 11, 1 << 14, 1 << 16, 1 << 18, 3 << 18 | 5 << 11 | 2 << 14 | 3 << 16 | 7 << 6])
    d = mapping.decode(hbm2, addr)
    assert list(d.column) == [0, 1, 0, 0, 0, 0, 7]
    assert list(d.channel) == [0, 0, 1, 0, 0, 0, 5]
    assert list(d.bank) == [0, 0, 0, 1, 0, 0, 2]
    assert list(d.bankgroup) == [0, 0, 0, 0, 1, 0, 3]
    assert list(d.row) == [0, 0, 0, 0, 0, 1, 3]


def test_robaracoch_interleaves_channels_per_line():
    spec = preset("ramulator-hbm2")
    d = mapping.decode(spec, np.arange(16) * 32)
    assert list(d.channel[:8]) == list(range(8))
    assert list(d.column[:16]) == [0] * 8 + [1] * 8


def test_mop4clxor_interleaves_channels_then_xors_banks_with_columns():
    spec = preset("ramulator-hbm2-mop")
    d = mapping.decode(spec, np.arange(64) * 32)
    assert list(d.channel[:8]) == list(range(8))                 # cache-line channel interleave
    ch0 = d.channel == 0
    assert list(d.column[ch0][:4]) == [0, 1, 2, 3]
    # the bank-level fields are XORed with the column: the 4 lines of a column group go to 4 banks
    key = d.pc * 100 + d.bankgroup * 10 + d.bank
    assert len(set(key[ch0][:4])) == 4
    assert len(set(d.row)) == 1


def test_user_defined_order(hbm2):
    spec = hbm2.model_copy(update={"controller": hbm2.controller.model_copy(update={"address_mapping":
                                                                                   "chrobabgco"})})
    d = mapping.decode(spec, np.array([1 << 32]))
    assert d.channel[0] == 4 and d.row[0] == 0
    with pytest.raises(ValueError, match="unknown field"):
        mapping.parse_order("rorabgbaxxco")


def test_idd_energies_of_hbm2(hbm2):
    e = command_energy(hbm2)
    assert e.act == pytest.approx(828e-12)
    assert e.read == pytest.approx(804e-12)
    assert e.write == pytest.approx(1068e-12)
    assert e.refresh == pytest.approx(60.84e-9)
    assert e.background_open == pytest.approx(66e-12)
    assert e.background_idle == pytest.approx(48e-12)


@pytest.mark.parametrize("path", sorted(PRESETS.glob("*.yaml")), ids=lambda p: p.stem)
def test_presets_load_and_cite(path):
    spec = preset(path.stem)
    assert spec.source and spec.timing is not None
    assert spec.peak_bandwidth > 0 and spec.energy_per_bit > 0


def test_reference_preset_names_exist():
    for name in ("dramsim3-hbm2", "ramulator-hbm2", "ramulator-hbm2-mop", "ramulator-hbm3", "ramulator-hbm3-mop",
                 "dramsim3-ddr4", "ramulator-ddr4", "neupims-hbm2"):
        assert (PRESETS / f"{name}.yaml").exists()
    assert preset("ramulator-hbm2-mop").controller.address_mapping == "MOP4CLXOR"
