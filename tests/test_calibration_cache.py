"""Spec-only calibrations (DRAM efficiencies, PIM contention curves) come back from the disk cache unchanged,
keyed by the spec: another spec is measured anew, and XPUSIM_CACHE=off writes nothing."""

import numpy as np
import pytest

from simulator.cli import ROOT
from simulator.hardware.system import load_system
from simulator.memory.dram import transaction
from simulator.pim import contention
from simulator.pim.model import PimModel


@pytest.fixture
def system():
    return load_system(ROOT / "hwconfigs/neupims.yaml")


def _fail(*a, **k):
    raise AssertionError("measured again instead of read from the disk cache")


def test_dram_efficiencies_round_trip_through_the_disk(tmp_path, monkeypatch, system):
    monkeypatch.setenv("XPUSIM_CACHE", str(tmp_path))
    spec = system.memories["hbm"]
    monkeypatch.setattr(transaction, "_EFFICIENCIES", {})
    first = transaction.efficiencies(spec)
    assert list((tmp_path / "calibration" / "dram-efficiency").rglob("*.json"))
    monkeypatch.setattr(transaction, "_EFFICIENCIES", {})
    monkeypatch.setattr(transaction, "_measure", _fail)
    assert transaction.efficiencies(spec) == first
    other = spec.model_copy(update={"timing": spec.timing.model_copy(update={"tFAW": 40})})
    with pytest.raises(AssertionError, match="measured again"):
        transaction.efficiencies(other)


def test_pim_contention_round_trips_and_off_writes_nothing(tmp_path, monkeypatch, system):
    monkeypatch.setenv("XPUSIM_CACHE", str(tmp_path))
    model = PimModel("pim", system.units["pim"], system.memories["hbm"])
    first = contention.measure(model.timing)
    assert (first.pim_factor >= 1).all() and (first.read_share <= 1).all()
    monkeypatch.setattr(contention, "_curves", _fail)
    again = contention.measure(model.timing)
    for name in ("rates", "pim_factor", "read_share"):
        assert np.array_equal(getattr(first, name), getattr(again, name))
    monkeypatch.undo()
    monkeypatch.setenv("XPUSIM_CACHE", "off")
    calls = []
    monkeypatch.setattr(transaction, "_measure", lambda spec: calls.append(spec) or (0.9, 0.5))
    for _ in range(2):
        monkeypatch.setattr(transaction, "_EFFICIENCIES", {})
        assert transaction.efficiencies(system.memories["hbm"]) == (0.9, 0.5)
    assert len(calls) == 2                     # off: measured every time, nothing read back
