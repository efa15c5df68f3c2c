"""NpuModel on the shipped presets: every NPU op kind, bandwidth-realistic matrix-vector work, energy."""

from pathlib import Path

import pytest

from simulator.config.loader import load
from simulator.config.spec import validate
from simulator.hardware.system import load_system
from simulator.lowering.ops import Op, Tensor, shape
from simulator.npu.model import NpuModel
from simulator.npu.spec import NpuSpec
from simulator.npu.systolic import onnxim_cycles

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def neupims() -> NpuModel:
    system = load_system(ROOT / "hwconfigs/neupims.yaml")
    spec = system.units["npu"]
    return NpuModel(spec, system.memories[spec.memory])


def gemm(M, N, K, dt="fp16"):
    return Op("g", "gemm", shape(M=M, N=N, K=K), 2.0 * M * N * K,
              (Tensor("x", M * K, dt), Tensor("w", N * K, dt, resident=True)), (Tensor("y", M * N, dt),), dtype=dt)


@pytest.mark.parametrize("name", ["neupims-npu", "tpuv4-like", "edge-npu"])
def test_unit_presets_validate(name):
    doc = load(ROOT / f"hwconfigs/npu/{name}.yaml")
    data = {k: v for k, v in doc.data.items() if k not in ("version", "kind", "name")}
    spec = validate(NpuSpec, data, file=str(doc.path))
    assert spec.type == "npu" and spec.source


def test_onnxim_convention_single_tile():
    # one 128x128 weight tile, 16 rows: (2R - 1) + max(16, 4) + (R + C - 2)
    assert onnxim_cycles(16, 128, 128, 128, 128) == 255 + 16 + 254


def test_large_gemm_is_compute_bound_and_tiled(neupims):
    cost = neupims.cost(gemm(4096, 4096, 4096))
    d = cost.detail
    assert cost.bound == "compute"
    assert d["utilisation"]["pe"] > 0.95
    assert d["tiling"]["fits"]
    assert d["tiling"]["footprint"] <= 8 * 2**20
    assert d["bytes"]["dram"] >= 3 * 4096 * 4096 * 2


def test_qkv_stage_is_memory_bound_like_the_artifact(neupims):
    # NeuPIMs stage A (batch 16, GPT-3 7B at TP 4): 27 586 cycles at 90.7 % DRAM utilisation
    cost = neupims.cost(gemm(16, 3 * 4096 // 4, 4096))
    assert cost.bound == "memory"
    assert cost.cycles == pytest.approx(27586, rel=0.05)


def test_gemv_streams_at_memory_speed(neupims):
    cost = neupims.cost(gemm(1, 4096, 4096))
    assert cost.detail["utilisation"]["memory_bandwidth"] > 0.8
    assert cost.detail["mapping"] in ("vector-gemv", "systolic-ws")


def test_decode_attention_is_bandwidth_bound(neupims):
    kv = [300, 700, 1024, 50]
    kv_sum = sum(kv)
    heads, d = 8, 128
    op = Op("attn", "attention", shape(batch=4, heads=heads, kv_heads=heads, head_dim=d, q_len=1, kv_len=max(kv),
                                       kv_sum=kv_sum, causal=0), 4.0 * heads * d * kv_sum,
            (Tensor("q", 4 * heads * d, "fp16"), Tensor("kv_cache", 2 * kv_sum * heads * d, "fp16", resident=True)),
            (Tensor("o", 4 * heads * d, "fp16"),))
    cost = neupims.cost(op)
    assert cost.bound == "memory"
    assert cost.detail["utilisation"]["memory_bandwidth"] > 0.7


@pytest.mark.parametrize("kind", ["attention_qk", "attention_sv"])
def test_unfused_attention(neupims, kind):
    op = Op("a", kind, shape(heads=8, kv_heads=8, head_dim=128, q_len=1, kv_len=1000, causal=0),
            2.0 * 8 * 128 * 1000, (Tensor("q", 8 * 128, "fp16"), Tensor("k", 1000 * 8 * 128, "fp16", resident=True)),
            (Tensor("s", 8 * 1000, "fp16"),))
    cost = neupims.cost(op)
    assert cost.cycles > 0 and cost.detail["utilisation"]["memory_bandwidth"] > 0.5


@pytest.mark.parametrize("kind,dims", [
    ("softmax", {"rows": 64, "cols": 1024}), ("layernorm", {"elements": 16 * 4096, "tokens": 16, "hidden": 4096}),
    ("rmsnorm", {"elements": 16 * 4096, "tokens": 16, "hidden": 4096}), ("rotary", {"elements": 65536}),
    ("gelu", {"elements": 65536}), ("silu_mul", {"elements": 65536}), ("add", {"elements": 65536}),
    ("moe_router", {"elements": 16 * 8}), ("sampling", {"elements": 16 * 50000}), ("relu", {"elements": 4096})])
def test_vector_ops(neupims, kind, dims):
    n = dims.get("elements", dims.get("rows", 1) * dims.get("cols", 1))
    op = Op(kind, kind, shape(**dims), 5.0 * n, (Tensor("x", n, "fp16"),), (Tensor("y", n, "fp16"),))
    cost = neupims.cost(op)
    assert cost.cycles >= cost.detail["compute_cycles"] > 0
    assert cost.counts["vector.op"] >= n


@pytest.mark.parametrize("kind", ["embedding", "kv_write", "copy"])
def test_memory_ops(neupims, kind):
    op = Op(kind, kind, shape(elements=4096), 0.0, (Tensor("x", 4096, "fp16"),), (Tensor("y", 4096, "fp16"),))
    cost = neupims.cost(op)
    assert cost.bound == "memory" and cost.bytes["hbm"] == 2 * 4096 * 2


def test_energy_counts_and_sources(neupims):
    cost = neupims.cost(gemm(512, 512, 512))
    assert cost.counts["mac.fp16"] == 512**3
    d = cost.detail
    assert d["energy_j"] > cost.counts["mac.fp16"] * 1.5e-12
    assert d["energy_sources"]["mac.fp16"] == "config"
    assert d["energy_breakdown_j"]["static"] == pytest.approx(neupims.spec.static_power * cost.time_s)
    edge = NpuSpec(clock="1 GHz", scratchpad={"size": "512 KiB"}, static_power="0.1 W")   # empty table: defaults
    from simulator.memory.spec import MemorySpec
    mem = MemorySpec(name="m", standard="LPDDR5", tck="1.25 ns", data_rate="6400 MT/s",
                     organisation={"channels": 2, "bus_width_bits": 32})
    c2 = NpuModel(edge, mem).cost(gemm(64, 64, 64))
    assert c2.detail["energy_sources"]["sram.read_byte"].startswith("CACTI 7")
    assert c2.detail["energy_breakdown_j"]["static"] == pytest.approx(0.1 * c2.time_s)


def test_multicore_tpu_like_splits_work():
    doc = load(ROOT / "hwconfigs/npu/tpuv4-like.yaml")
    spec = validate(NpuSpec, {k: v for k, v in doc.data.items() if k not in ("version", "kind", "name")},
                    file="tpu")
    from simulator.memory.spec import MemorySpec
    hbm = MemorySpec(name="hbm2-16ch", standard="HBM2", tck="0.833 ns", data_rate="2.4 Gbps",
                     organisation={"channels": 16, "bus_width_bits": 128})
    model = NpuModel(spec, hbm)
    cost = model.cost(gemm(4096, 4096, 4096, "bf16"))
    assert cost.detail["cores_used"] == 4
    assert cost.counts["noc.bit_hop"] > 0
    single = NpuModel(spec.model_copy(update={"cores": 1, "noc": None}), hbm).cost(gemm(4096, 4096, 4096, "bf16"))
    assert cost.cycles < single.cycles / 3


def test_fused_prefill_attention_is_compute_bound(neupims):
    q = kv = 1024
    heads, d = 8, 128
    flops = 4.0 * heads * d * (kv * q - q * (q - 1) / 2)
    op = Op("attn", "attention", shape(batch=2, heads=heads, kv_heads=heads, head_dim=d, q_len=q, kv_len=kv,
                                       kv_sum=2 * kv, causal=1), flops,
            (Tensor("q", 2 * q * heads * d, "fp16"), Tensor("kv_cache", 2 * 2 * kv * heads * d, "fp16", resident=True)),
            (Tensor("o", 2 * q * heads * d, "fp16"),))
    cost = neupims.cost(op)
    assert cost.bound == "compute"
    assert cost.detail["mapping"].startswith("flash[systolic")
    assert cost.detail["tiling"]["kv_rereads"] >= 1


def test_unsupported_dtype_is_a_config_error(neupims):
    from simulator.errors import ConfigError
    with pytest.raises(ConfigError, match="no fp32 MACs"):
        neupims.cost(gemm(64, 64, 64, "fp32"))


def test_llm_decode_layer_costs_every_op(neupims):
    from simulator.lowering.transformer import lower
    from simulator.workload.spec import load_workload
    graph = lower(load_workload(ROOT / "workloads/gpt3-7b-decode.yaml"))
    for op, _ in graph.ops():
        if op.op_class != "collective":
            assert neupims.cost(op).time_s > 0


def test_per_request_gemvs_stream_as_one_stage(neupims):
    """Decode attention on the NPU (NeuPIMs' NPU-only baseline) is mapped bandwidth-bound: the GEMVs of a batch
    stream back to back, fixed latencies paid once. The stage is never faster than its DMA or its compute, never
    slower than the ops one by one, and moves every request's K at >= 85 % of the DRAM stream bandwidth."""
    from simulator.lowering.builders import attention_request
    from simulator.npu.dma import dram_stream_bandwidth

    lens = [64 + 37 * i for i in range(256)]
    ops = [attention_request("a", i, n, 1, False, heads=8, kv_heads=8, head_dim=128, act="fp16", kv="fp16")[0]
           for i, n in enumerate(lens)]
    st = neupims.stage(ops)
    alone = [neupims.cost(op) for op in ops]
    assert st.detail["cycles"] >= max(st.detail["dma_cycles"], st.detail["compute_cycles"])
    assert st.cycles <= sum(c.cycles for c in alone)
    assert st.bytes[neupims.memory_name] == pytest.approx(sum(8 * 128 * n * 2 for n in lens), rel=0.02)
    rate = st.bytes[neupims.memory_name] / st.time_s
    assert rate >= 0.85 * dram_stream_bandwidth(neupims.memory)
    for action in alone[0].counts:
        assert st.counts[action] == pytest.approx(sum(c.counts.get(action, 0) for c in alone))


def test_run_energy_uses_the_npu_models_own_table(tmp_path):
    """Run-level NPU energy costs every action the ops counted (the NoC's bit-hops included), with the same
    per-action energies as `simulate op`: dynamic energy of the run = sum of the ops' dynamic energies."""
    from simulator.run import simulate

    repo = Path(__file__).resolve().parents[2]
    hw = tmp_path / "tpu.yaml"
    hw.write_text(f"""version: 1
kind: system
name: tpu-one
devices: 1
level: transaction
device:
  memories:
    hbm: {{include: {repo}/hwconfigs/memory/neupims-hbm2.yaml}}
  units:
    npu: {{include: {repo}/hwconfigs/npu/tpuv4-like.yaml, memory: hbm}}
""")
    run = simulate(hw, repo / "workloads/llama2-7b.yaml", ["workload.layers=1", "workload.schedule.memoise=false"])
    energy = run.summary["energy_j"]
    assert energy["uncosted"] == {}
    model = run.result.models["npu"]
    events = [ev for _, ev in run.result.timeline() if ev.unit == "npu"]
    assert any(ev.cost.counts.get("noc.bit_hop") for ev in events)
    per_op = sum(ev.cost.detail["energy_j"] - ev.cost.detail["energy_breakdown_j"]["static"] for ev in events)
    static = model.spec.static_power * run.summary["latency_s"]
    assert energy["by_component"]["npu"] - static == pytest.approx(per_op, rel=1e-6)
