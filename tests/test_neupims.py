"""NeuPIMs calibration through the whole flow (`simulate run`), against ../shared/reference/neupims/README.md:
GPT-3 7B at TP 4, one layer, one decode iteration of the first 16 requests of the clb-0 trace."""

import pytest

from simulator.cli import ROOT


@pytest.fixture(scope="module")
def summary():
    from simulator.run import simulate

    return simulate(ROOT / "hwconfigs/neupims.yaml", ROOT / "workloads/gpt3-7b-decode.yaml",
                    ["workload.requests=16", "workload.layers=1"]).summary


def test_stage_b_cycles(summary):
    assert summary["stages"]["B"]["cycles"] == pytest.approx(63_869, rel=0.10)


def test_pim_command_counts(summary):
    assert summary["commands"]["COMP"] == pytest.approx(65_280, rel=0.05)
    assert summary["commands"]["GWRITE"] == pytest.approx(336, rel=0.05)


def test_gemm_stages_are_bandwidth_bound_near_the_artifact(summary):
    """Stages A (QKV) and E (projection + FFN) of the artifact: 27 586 and 82 641 cycles at ~91 % DRAM use."""
    st = summary["stages"]
    assert st["A"]["cycles"] == pytest.approx(27_586, rel=0.10)
    assert st["E"]["cycles"] == pytest.approx(82_641, rel=0.10)
    assert st["A"]["bandwidth_utilisation"]["hbm"] > 0.8


def test_normal_dram_commands_follow_the_bytes_streamed(summary):
    """RD + WR requests carry exactly the non-PIM bytes; a contiguous stream opens one 1 KB row per 16 requests;
    every rank of every channel refreshes once per tREFI of the run."""
    cmd, bw = summary["commands"], summary["bandwidth"]["hbm"]
    assert set(cmd) >= {"ACT", "RD", "WR", "REF", "GWRITE", "G_ACT", "COMP", "READRES"}
    pim_bus = cmd["GWRITE"] * 1024 + cmd["READRES"] * 32 * 2      # GWRITE rows and READRES accumulators
    assert (cmd["RD"] + cmd["WR"]) * 64 == pytest.approx(bw["bytes"] - pim_bus, rel=1e-9)
    assert cmd["ACT"] == pytest.approx((cmd["RD"] + cmd["WR"]) / 16, rel=0.01)
    assert cmd["REF"] == 32 * 2 * int(summary["latency_s"] / 3.9e-6)


def test_dram_energy_is_counts_times_the_command_table(summary):
    """HBM energy = ACT x 828 pJ + RD x 804 pJ + WR x 1068 pJ + REF x 60.8 nJ + per pseudo-rank (2 in each of 32
    channels) and cycle 66 pJ with normal rows open (while the NPU streams) or 48 pJ precharged, plus the same for
    the dual row buffer's PIM rows (open while PIM works); with the PIM commands, DRAM energy lands within 10 % of
    the artifact's 3.06 mJ (which has no link, so no exposed all-reduce time)."""
    cmd, e = summary["commands"], summary["energy_j"]["by_device"]["device.0"]["by_component"]
    cycles = summary["latency_s"] / 1e-9
    pim = summary["pim"]["pim"]["busy_cycles"]
    normal = sum(summary["stages"][k]["cycles"] for k in "AE")     # the NPU streams in stages A and E
    standby = 64 * (66e-12 * (normal + pim) + 48e-12 * (2 * cycles - normal - pim))
    expected = cmd["ACT"] * 828e-12 + cmd["RD"] * 804e-12 + cmd["WR"] * 1068e-12 + cmd["REF"] * 60.8e-9 + standby
    assert e["hbm"] == pytest.approx(expected, rel=0.02)
    assert e["hbm"] + e["pim"] == pytest.approx(3.06e-3, rel=0.10)


def test_layer_traffic_matches_the_artifact_requests(summary):
    """The workload's scope is the decoder layers, as the artifact's: 1.61 M 64 B requests for the layer."""
    cmd = summary["commands"]
    assert cmd["RD"] + cmd["WR"] == pytest.approx(1.61e6, rel=0.05)
    assert summary["stages"]["prologue_s"] == 0 and summary["stages"]["epilogue_s"] == 0
