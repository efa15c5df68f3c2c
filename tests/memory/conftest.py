"""Fixtures of the DRAM model tests: presets, and reference traces generated once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulator.studies import dram_validation
from simulator.memory.loader import load_memory_spec

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ROOT / "hwconfigs" / "memory"
REFERENCE = dram_validation.DEFAULT_REFERENCE   # ../shared/reference/dram, else the copy in tests/data/reference


def preset(name: str):
    return load_memory_spec(PRESETS / f"{name}.yaml")


@pytest.fixture(scope="session")
def hbm2():
    return preset("dramsim3-hbm2")


@pytest.fixture(scope="session")
def trace_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("dram_traces")


@pytest.fixture(scope="session")
def reference_trace(trace_dir):
    """Path of a calibration case's trace, written by the reference generator with the documented arguments."""
    if not (REFERENCE / "gen_dram_trace.py").exists():
        pytest.skip("../shared/reference/dram is not available")

    def make(case: str) -> Path:
        return dram_validation.write_trace(REFERENCE, case, trace_dir)

    return make


def saturating(addr) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    addr = np.asarray(addr, np.int64)
    return np.zeros(addr.size, np.int64), np.zeros(addr.size, np.int8), addr
