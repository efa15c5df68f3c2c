"""Acceptance: the five DRAMsim3 HBM2 calibration cases at command level (bandwidth and average read latency
within 5 %, row-hit rate within 0.02), plus energy per bit against the reference's IDD-based totals."""

from __future__ import annotations

import pytest

from simulator.studies import dram_validation
from simulator.memory.memtrace import run_memtrace

from .conftest import REFERENCE


@pytest.fixture(scope="module")
def reference():
    if not (REFERENCE / "calibration_dramsim3_hbm2.csv").exists():
        pytest.skip("../shared/reference/dram is not available")
    return dram_validation.reference_rows(REFERENCE)


@pytest.mark.parametrize("case", list(dram_validation.CASES))
def test_dramsim3_hbm2_case(case, hbm2, reference, reference_trace):
    ref = reference[case]
    out = run_memtrace(hbm2, reference_trace(case), "command")
    assert out["requests"] == int(ref["requests"])
    assert out["bandwidth_gbps"] == pytest.approx(float(ref["bw_GBps"]), rel=0.05)
    assert out["avg_read_latency_cycles"] == pytest.approx(float(ref["avg_rd_lat_cycles"]), rel=0.05)
    assert out["avg_read_latency_ns"] == pytest.approx(float(ref["avg_rd_lat_ns"]), rel=0.05)
    assert abs(out["row_hit_rate"] - float(ref["row_hit_rate"])) <= 0.02
    assert out["sim_cycles"] == pytest.approx(float(ref["sim_cycles"]), rel=0.05)
    assert out["commands"]["ACT"] == pytest.approx(float(ref["act_cmds"]), rel=0.05)
    assert out["commands"]["REF"] == pytest.approx(float(ref["refresh_cmds"]), rel=0.05)
    assert out["energy_pj_per_bit"] == pytest.approx(float(ref["dram_energy_total_pJ_per_bit"]), rel=0.05)
    assert out["max_read_latency_cycles"] >= out["p99_read_latency_cycles"] >= out["p50_read_latency_cycles"]
