"""Stall-free compute cycles against SCALE-Sim v3 itself (run here on small shapes) for os, ws and is."""

import pytest

from simulator.hardware.system import load_system
from simulator.lowering.ops import Op, Tensor, shape
from simulator.npu.model import NpuModel
from simulator.npu.systolic import scalesim_cycles

SHAPES = [(128, 128, 128), (256, 256, 256), (200, 300, 100), (1, 512, 256), (512, 1, 256), (64, 128, 700),
          (130, 129, 127), (384, 64, 96), (16, 1024, 128), (300, 40, 500), (97, 203, 61), (1, 128, 1024)]
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize("M,N,K", SHAPES)
def test_compute_cycles_equal_scalesim(M, N, K, dataflow):
    runner = pytest.importorskip("scalesim_runner")
    pytest.importorskip("scalesim")
    ref = runner.run_gemm(M, N, K, dataflow)
    assert ref["stall_cycles"] == 0
    assert scalesim_cycles(M, N, K, 128, 128, dataflow) == ref["total_cycles"]


@pytest.mark.parametrize("M,N,K,rows,cols", [(100, 70, 50, 8, 8), (20, 30, 40, 8, 4), (33, 17, 9, 4, 8)])
def test_non_square_arrays(M, N, K, rows, cols):
    runner = pytest.importorskip("scalesim_runner")
    pytest.importorskip("scalesim")
    for dataflow in ("os", "ws", "is"):
        ref = runner.run_gemm(M, N, K, dataflow, rows=rows, cols=cols)
        assert scalesim_cycles(M, N, K, rows, cols, dataflow) == ref["total_cycles"]


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_preset_reports_scalesim_compute_cycles(dataflow):
    system = load_system(ROOT / f"hwconfigs/npu/scalesim-{dataflow}-128.yaml")
    spec = system.units["npu"]
    model = NpuModel(spec, system.memories[spec.memory])
    for M, N, K in [(256, 256, 256), (4096, 4096, 4096), (2048, 11008, 4096), (130, 129, 127), (1, 4096, 4096)]:
        op = Op("g", "gemm", shape(M=M, N=N, K=K), 2.0 * M * N * K,
                (Tensor("x", M * K, "fp16"), Tensor("w", N * K, "fp16", resident=True)), (Tensor("y", M * N, "fp16"),))
        cost = model.cost(op)
        assert cost.detail["compute_cycles"] == pytest.approx(scalesim_cycles(M, N, K, 128, 128, dataflow), rel=1e-9)
        assert cost.cycles >= cost.detail["compute_cycles"]
        stall = cost.detail["stall"]
        split = stall["compute_cycles"] + stall["memory_stall_cycles"] + stall["idle_cycles"]
        assert split == pytest.approx(cost.cycles)
