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
