"""Structure of the GPU kernel models: every op kind, parametric behaviour, launch modes, presets, speed."""

from pathlib import Path

import pytest

from simulator.errors import ConfigError

from simulator.gpu.model import GpuModel
from simulator.studies.gpu_validation import attention_op, elementwise_op, gemm_op, norm_op, softmax_op
from simulator.lowering.ops import KINDS, Op, Tensor, shape

REPO = Path(__file__).resolve().parents[2]


def _with(model: GpuModel, **changes) -> GpuModel:
    return GpuModel(model.spec.model_copy(update=changes), model._memory)


def _ops() -> list[Op]:
    t = lambda n: (Tensor("x", n, "bf16"),)  # noqa: E731
    ops = [
        gemm_op(64, 4096, 4096),
        attention_op(8, 32, 8, 128, 1024),
        attention_op(2, 32, 32, 128, 512, q_len=512, causal=True),
        Op("qk", "attention_qk", shape(heads=32, kv_heads=32, head_dim=128, q_len=1, kv_len=1024), 2 * 32 * 128 * 1024),
        Op("sv", "attention_sv", shape(heads=32, kv_heads=32, head_dim=128, q_len=1, kv_len=1024), 2 * 32 * 128 * 1024),
        softmax_op(64, 32000),
        norm_op(64, 4096, "eager-pytorch"),
        Op("ln", "layernorm", shape(tokens=64, hidden=4096), 0, t(64 * 4096), t(64 * 4096)),
        *(elementwise_op(k, 64 * 4096) for k in ("add", "gelu", "silu_mul", "rotary", "copy", "kv_write",
                                                    "embedding", "moe_router")),
        Op("sample", "sampling", shape(rows=64, cols=32000), 0, t(64 * 32000), t(64)),
    ]
    listed = {op.kind for op in ops}
    ops += [elementwise_op(k, 64 * 4096) for k, c in KINDS.items() if c in ("vector", "memory") and k not in listed]
    return ops


def test_every_gpu_op_kind_has_a_cost(h100):
    ops = _ops()
    covered = {op.kind for op in ops}
    assert covered == {k for k, c in KINDS.items() if c != "collective"}
    for op in ops:
        c = h100["graph"].cost(op)
        assert c.time_s > 0 and c.cycles > 0
        assert c.bytes["hbm"] >= 0


def test_collectives_are_refused(h100):
    with pytest.raises(ValueError, match="collective|link"):
        h100["graph"].cost(Op("ar", "all_reduce", shape(elements=10), 0))


def test_eager_adds_host_gaps(h100):
    op = norm_op(1, 4096, "eager-pytorch")
    eager, graph = h100["eager"].cost(op).time_s, h100["graph"].cost(op).time_s
    s = h100["graph"].spec
    assert eager - graph == pytest.approx(8 * s.eager_launch_gap + s.eager_call_overhead)


def test_memory_bound_gemm_follows_bandwidth(h100):
    model = h100["graph"]
    op = gemm_op(1, 12288, 4096)
    fast = GpuModel(model.spec, model._memory.model_copy(update={"efficiency": 1.0}))
    assert fast.cost(op).time_s < model.cost(op).time_s
    assert model.cost(op).bound == "memory"


def test_compute_bound_gemm_follows_sms(h100):
    op = gemm_op(8192, 8192, 8192)
    model = h100["graph"]
    half = _with(model, sms=66)
    ratio = half.cost(op).time_s / model.cost(op).time_s
    assert 1.8 < ratio < 2.2
    assert model.cost(op).bound == "compute"


def test_wave_quantisation_is_visible(h100):
    """One tile more than fills the SMs costs (almost) a whole extra wave in the data-parallel schedule."""
    from simulator.gpu.gemm import plan_gemm

    m = h100["graph"].machine
    p = plan_gemm(m, 128 * 12, 128 * 11, 8192)
    assert p.ctas >= 132


def test_unaligned_n_takes_the_slow_path(h100):
    model = h100["eager"]
    slow, padded = model.cost(gemm_op(4096, 50257, 12288)), model.cost(gemm_op(4096, 50264, 12288))
    assert slow.detail["slow_path"] and not padded.detail["slow_path"]
    assert 4 < slow.time_s / padded.time_s < 10          # issue 6: ~100 vs ~720 TFLOP/s
    assert model.cost(gemm_op(1, 50257, 12288)).time_s == pytest.approx(
        model.cost(gemm_op(1, 50264, 12288)).time_s, rel=0.01)   # GEMV path


def test_gqa_decode_reads_fewer_bytes(h100):
    model = h100["graph"]
    mha, gqa = model.cost(attention_op(16, 64, 64, 128, 4096)), model.cost(attention_op(16, 64, 8, 128, 4096))
    assert gqa.bytes["hbm"] < mha.bytes["hbm"] / 7
    assert gqa.time_s < mha.time_s / 4


def test_causal_prefill_is_cheaper(h100):
    model = h100["graph"]
    causal = model.cost(attention_op(4, 32, 32, 128, 4096, q_len=4096, causal=True))
    full = model.cost(attention_op(4, 32, 32, 128, 4096, q_len=4096, causal=False))
    assert 0.4 < causal.time_s / full.time_s < 0.65
    tflops = full.flops / full.time_s / 1e12
    assert 400 < tflops < 750


def test_power_cap_lowers_the_clock_of_long_kernels(h100):
    s = h100["graph"].spec
    assert s.tensor_clock(1e-6) == pytest.approx(s.clock, rel=1e-3)
    assert s.tensor_clock(1.0) == pytest.approx(s.power_cap.sustained_clock, rel=0.01)


def test_memoisation_changes_nothing(h100):
    model = h100["graph"]
    plain = GpuModel(model.spec, model._memory, memo=False)
    for op in _ops():
        assert plain.cost(op).time_s == model.cost(op).time_s


@pytest.mark.parametrize("system", ["h100", "a100", "h200"])
def test_presets_load(system):
    from simulator.hardware.system import load_system

    s = load_system(REPO / "hwconfigs" / f"{system}.yaml")
    spec = s.units["gpu"]
    model = GpuModel(spec, s.memories[spec.memory])
    assert model.cost(gemm_op(4096, 4096, 4096)).time_s > 0


def test_h200_decode_is_faster_than_h100():
    from simulator.hardware.system import load_system

    def t(name):
        s = load_system(REPO / "hwconfigs" / f"{name}.yaml")
        spec = s.units["gpu"]
        return GpuModel(spec, s.memories[spec.memory]).cost(attention_op(32, 32, 32, 128, 4096)).time_s

    assert t("h200") < t("h100") * 0.8


def test_bad_dtype_is_a_clear_error(h100):
    with pytest.raises(ConfigError, match="no tensor-core rate for dtype 'int4'"):
        h100["graph"].cost(gemm_op(16, 4096, 4096, dtype="int4"))


def test_rmsnorm_implementations(h100):
    model = h100["graph"]
    eager, fused = model.cost(norm_op(64, 4096, "eager-pytorch")), model.cost(norm_op(64, 4096, "fused"))
    assert eager.detail["kernels"] == 8 and fused.detail["kernels"] == 1
    assert eager.time_s > 3 * fused.time_s


def test_unfused_elementwise_traffic_is_the_ops_own(h100):
    """The lowering's bytes already hold the intermediates; the model splits them, it does not add more."""
    model = h100["graph"]
    eager, fused = elementwise_op("silu_mul", 16384 * 11008, "eager-pytorch"), elementwise_op("silu_mul", 16384 * 11008)
    assert model.cost(eager).bytes["hbm"] == pytest.approx(eager.bytes)
    assert 1.5 < model.cost(eager).time_s / model.cost(fused).time_s < 1.8     # 5 vs 3 passes
