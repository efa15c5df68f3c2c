"""The mapping search: its mappings are exact against SCALE-Sim for compute cycles, its estimates equal the NPU
model's cost of the same mapping, and it is never worse than today's default mapping."""

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.errors import ConfigError
from simulator.hardware.system import load_system
from simulator.npu import mapper
from simulator.npu.model import NpuModel
from simulator.npu.spec import GemmMapping
from tests.npu.test_systolic_scalesim import SHAPES

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scalesim_npu():
    system = load_system(ROOT / "hwconfigs/npu/scalesim-ws-128.yaml")
    spec = system.units["npu"]
    return spec, system.memories[spec.memory]


@pytest.fixture(scope="module")
def four_core(scalesim_npu):
    """The SCALE-Sim array as a 4-core NPU with the TPUv4-like crossbar (for 2-D and K splits)."""
    spec, memory = scalesim_npu
    tpu = load_system(ROOT / "hwconfigs/npu/tpuv4-like-hbm.yaml").units["npu"]
    return spec.model_copy(update={"cores": 4, "noc": tpu.noc}), memory


@pytest.mark.parametrize("cores", [1, 4])
@pytest.mark.parametrize("M,N,K", SHAPES)
def test_searched_mappings_exact_against_scalesim(M, N, K, cores, scalesim_npu, four_core):
    """The existing SCALE-Sim shape set: the per-core GEMM of every returned mapping (latency and traffic
    objectives, any dataflow) has SCALE-Sim v3's compute cycles for its dataflow, to the cycle."""
    runner = pytest.importorskip("scalesim_runner")
    pytest.importorskip("scalesim")
    spec, memory = four_core if cores == 4 else scalesim_npu
    model = NpuModel(spec, memory)
    for objective in ("latency", "traffic"):
        r = mapper.search(M, N, K, spec, memory, model=model, gemm=GemmMapping(dataflow="any"), objective=objective)
        m, n, k = r.best_metrics["per_core_shape"]
        ref = runner.run_gemm(m, n, k, r.best.dataflow, rows=spec.systolic.rows, cols=spec.systolic.cols)
        assert ref["stall_cycles"] == 0
        assert r.best_metrics["compute_cycles"] == ref["total_cycles"]
        assert model._systolic_plan(M, N, K, "fp16", 1, mapping=r.best)["compute_cycles"] == ref["total_cycles"]


def _check_estimate(model, M, N, K, result, batch=1):
    plan = model._systolic_plan(M, N, K, "fp16", batch, mapping=result.best)
    assert plan["cycles"] == pytest.approx(result.best_metrics["cycles"], rel=1e-12)
    assert plan["compute_cycles"] == pytest.approx(result.best_metrics["compute_cycles"], rel=1e-12)
    assert plan["dram_bytes"] == pytest.approx(result.best_metrics["dram_bytes"], rel=1e-12)
    return plan


dims = st.integers(1, 3000)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(M=dims, N=dims, K=dims, objective=st.sampled_from(["latency", "traffic", "energy"]),
       dataflow=st.sampled_from(["any", None]), cores=st.sampled_from([1, 4]), batch=st.integers(1, 3))
def test_search_never_worse_than_default(M, N, K, objective, dataflow, cores, batch, scalesim_npu, four_core):
    spec, memory = four_core if cores == 4 else scalesim_npu
    model = NpuModel(spec, memory)
    r = mapper.search(M, N, K, spec, memory, model=model, gemm=GemmMapping(dataflow=dataflow), objective=objective,
                      batch=batch)
    plan = _check_estimate(model, M, N, K, r, batch)
    default = model._systolic_plan(M, N, K, "fp16", batch)
    key = {"latency": "cycles", "traffic": "dram_bytes", "energy": "energy_j"}[objective]
    if key != "energy_j":
        assert plan[key] <= default[key] * (1 + 1e-9)
    assert r.best_metrics[key] <= r.default_metrics[key] * (1 + 1e-9)
    assert r.default_metrics["cycles"] == pytest.approx(default["cycles"], rel=1e-9)


def test_k_split_reduces_partial_sums_on_the_noc(four_core):
    spec, memory = four_core
    model = NpuModel(spec, memory)
    M, N, K = 256, 256, 8192
    fixed = GemmMapping(partition=(1, 1, 4), search="exhaustive")
    r = mapper.search(M, N, K, spec, memory, model=model, gemm=fixed)
    assert r.best.partition == (1, 1, 4)
    plan = model._systolic_plan(M, N, K, "fp16", 1, mapping=r.best)
    # reduce-scatter: each of 4 cores sends 3/4 of its 256 x 256 fp32 partial sums
    assert plan["noc_reduce_bytes"] == pytest.approx(4 * 0.75 * 256 * 256 * 4)
    assert plan["tiling"]["per_core_shape"] == [256, 256, 2048]
    one_d = model._systolic_plan(M, N, K, "fp16", 1, mapping=mapper.Mapping("ws", (1, 4, 1), (256, 64, 128), "k-inner"))
    # the 1-D N split makes every core read all of A: 4x the A bytes of the K split
    assert one_d["dram_bytes"] > plan["dram_bytes"]


def test_partition_volume_follows_cosma(four_core):
    """Sum of per-core input volumes of a 2-D split is below the 1-D split's for a square GEMM (COSMA)."""
    spec, memory = four_core
    ev = mapper.Evaluator(2048, 2048, 2048, spec, memory, "fp16")
    import numpy as np
    one = ev.block("ws", (1, 4, 1), "m-outer", np.array([2048]), np.array([512]), np.array([2048]))
    two = ev.block("ws", (2, 2, 1), "m-outer", np.array([1024]), np.array([1024]), np.array([2048]))
    assert float(two["dram_bytes"][0]) < float(one["dram_bytes"][0])


def test_unit_mapping_keys_drive_the_model(scalesim_npu):
    spec, memory = scalesim_npu
    fixed = spec.model_copy(update={"mapping": spec.mapping.model_copy(
        update={"gemm": GemmMapping(dataflow="os", tile=(256, 256, 512), order="k-inner")})})
    from tests.npu.test_model import gemm
    cost = NpuModel(fixed, memory).cost(gemm(1024, 1024, 1024))
    assert cost.detail["mapping"] == "systolic-os"
    assert (cost.detail["tiling"]["tm"], cost.detail["tiling"]["tn"], cost.detail["tiling"]["tk"]) == (256, 256, 512)
    searched = spec.model_copy(update={"mapping": spec.mapping.model_copy(
        update={"gemm": GemmMapping(dataflow="any", search="auto")})})
    s = NpuModel(searched, memory).cost(gemm(1024, 1024, 1024))
    d = NpuModel(spec, memory).cost(gemm(1024, 1024, 1024))
    assert s.cycles <= d.cycles


def test_too_many_cores_is_a_config_error(scalesim_npu):
    spec, memory = scalesim_npu
    with pytest.raises(ConfigError, match="partition"):
        mapper.search(64, 64, 64, spec, memory, gemm=GemmMapping(partition=(2, 1, 1)))


def test_partitions_enumerate_1d_2d_3d():
    parts = mapper.partitions(4, noc=True)
    assert (1, 4, 1) in parts and (2, 2, 1) in parts and (2, 1, 2) in parts and (1, 1, 4) in parts
    assert all(math.prod(p) <= 4 for p in parts)
    assert all(p[2] == 1 for p in mapper.partitions(4, noc=False))


def test_map_command_shows_the_search(cli, cli_json):
    hw = ROOT / "hwconfigs/npu/tpuv4-like-hbm.yaml"
    r = cli_json("map", hw, "gemm", 1024, 2048, 512)
    assert {"best", "default", "top", "space", "evaluated", "gain", "objective", "method"} <= set(r)
    assert r["best"]["cycles"] <= r["default"]["cycles"]
    assert r["gain"]["cycles"] >= 1
    assert len(r["top"]) <= 10 and r["top"][0]["cycles"] == r["best"]["cycles"]
    t = cli_json("map", hw, "gemm", 1024, 2048, 512, "--objective", "traffic", "--dataflow", "ws")
    assert t["best"]["dataflow"] == "ws" and t["best"]["dram_bytes"] <= t["default"]["dram_bytes"]
    code, _, err = cli("map", hw, "gemm", 64, 64, 64, "--set", "hw.device.units.npu.mapping.gemm.order=n-inner")
    assert code == 2 and err.startswith("error:") and "allowed" in err and "Traceback" not in err
    code, _, err = cli("map", hw, "gemm", 64, 64, 64, "--dtype", "int3")
    assert code == 2 and "int3" in err
