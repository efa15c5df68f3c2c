"""Low-bit formats and PE kinds: LUT mpGEMM, bit-serial and dequantise-then-MAC; areas per PE kind."""

import math

import pytest

from simulator.hardware.system import load_system
from simulator.lowering import builders as mk
from simulator.lowering.ops import DTYPE_BYTES
from simulator.npu import pe as pe_mod
from simulator.npu.area import area_mm2, iso_area_pes
from simulator.npu.formats import FORMATS
from simulator.npu.model import NpuModel
from simulator.npu.systolic import onnxim_fill_cycles

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def npu():
    system = load_system(ROOT / "hwconfigs/npu-only.yaml")
    spec = system.units["npu"]
    memory = system.memories[spec.memory]
    return {k: NpuModel(spec.model_copy(update={"pe": k}), memory) for k in ("mac", "bitserial", "lut")}


def test_formats_agree_with_dtype_table():
    assert set(FORMATS) == set(DTYPE_BYTES)
    for name, f in FORMATS.items():
        assert f.storage_bytes == DTYPE_BYTES[name]
    assert FORMATS["mxfp4"].storage_bits == 4 + 8 / 32      # OCP MX: an E8M0 scale per 32 elements


@pytest.mark.parametrize("M", [1, 8, 2048])
def test_lut_one_bit_weights_move_a_sixteenth_of_fp16(npu, M):
    N = K = 4096
    lut = npu["lut"].cost(mk.gemm("g", M, N, K, weights="int1", act="fp16"))
    fp16 = npu["mac"]._systolic_plan(M, N, K, "fp16", 1)
    t = lut.detail["tiling"]
    # weights stream once per resident A panel; per pass exactly 1/16 of the fp16 bytes
    assert t["bytes_weights"] == pytest.approx(N * K * 2 / 16 * t["weight_passes"])
    if M == 1:
        assert t["bytes_weights"] == N * K * 2 / 16
        assert lut.detail["bytes"]["dram"] == pytest.approx(N * K / 8 + (K + N) * 2)
        assert lut.detail["bytes"]["dram"] < fp16["dram_bytes"] / 15


def test_lut_table_cost_is_counted(npu):
    M, N, K = 64, 4096, 4096
    c = npu["lut"].cost(mk.gemm("g", M, N, K, weights="int2", act="fp16"))
    t = c.detail["tiling"]
    g = npu["lut"].spec.lut_group
    assert t["table_precompute_adds"] == M * math.ceil(K / g) * 2 ** (g - 1) * npu["lut"].spec.cores
    assert c.counts["vector.op"] == pytest.approx(t["table_precompute_adds"])
    assert t["table_bytes"] == t["a_rows_resident"] * math.ceil(K / g) * 2 ** (g - 1) * 2
    # lookups: one per (row, column, group of g, weight bit)
    assert c.counts["lut.lookup.fp16"] == M * N * math.ceil(K / g) * 2
    assert c.detail["energy_breakdown_j"]["lut.lookup.fp16"] > 0
    assert c.detail["energy_breakdown_j"]["vector.op"] > 0
    # table reuse grows with the N columns a table serves
    wide = npu["lut"].cost(mk.gemm("g", M, 2 * N, K, weights="int2", act="fp16")).detail["tiling"]["table_reuse"]
    assert wide == 2 * t["table_reuse"]


def test_bit_serial_cycles_scale_with_bits(npu):
    M, N, K = 512, 1024, 1024
    cyc = {b: npu["bitserial"].cost(mk.gemm("g", M, N, K, weights=f"int{b}", act="fp16")).detail["tiling"]["array_cycles"]
           for b in (1, 2, 4)}
    fill = onnxim_fill_cycles(128, 128)                     # paid once per GEMM; the issue cycles scale with bits
    assert cyc[2] - fill == 2 * (cyc[1] - fill) and cyc[4] - fill == 4 * (cyc[1] - fill)
    assert npu["bitserial"].cost(mk.gemm("g", M, N, K, weights="int4", act="fp16")).counts[
        "bitserial.step.fp16"] == M * N * K * 4


def test_dequantise_path_counts_conversions(npu):
    M, N, K = 256, 1024, 2048
    c = npu["mac"].cost(mk.gemm("g", M, N, K, weights="int4", act="fp16"))
    t = c.detail["tiling"]
    assert c.counts["mac.fp16"] == M * N * K
    assert c.counts["vector.op"] == pytest.approx(2 * K * N * t["weight_passes"])
    assert t["bytes_weights"] == pytest.approx(K * N * 0.5 * t["weight_passes"])


def test_pe_energy_and_area_order():
    # a LUT lookup covers g one-bit weights: per 1-bit MAC it costs less than an fp16 MAC, and a LUT PE is smaller
    assert pe_mod.op_energy_j("lut", "fp16") / 4 < pe_mod.op_energy_j("mac", "fp16")
    assert pe_mod.pe_area_um2("lut", "fp16", cols=128) < pe_mod.pe_area_um2("mac", "fp16")
    assert pe_mod.pe_area_um2("mac", "int4") < pe_mod.pe_area_um2("mac", "int8") < pe_mod.pe_area_um2("mac", "fp16")
    with pytest.raises(ValueError, match="allowed"):
        pe_mod.op_energy_j("abacus", "fp16")


def test_area_is_a_function_of_the_spec(npu):
    spec = npu["mac"].spec
    a = area_mm2(spec)
    assert a["total"] == pytest.approx(a["pe_array"] + a["vector"] + a["scratchpad"])
    double = area_mm2(spec.model_copy(update={"cores": 2}))
    assert double["total"] == pytest.approx(2 * a["total"])
    assert area_mm2(spec, tech_nm=7)["total"] < a["total"] < area_mm2(spec, tech_nm=45)["total"]
    assert iso_area_pes(spec, "lut") > spec.systolic.pes
