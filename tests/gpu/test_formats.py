"""Number formats on the GPU model: KV dtype in attention, storage vs compute dtype, weight-only quantisation."""

from pathlib import Path

import numpy as np
import pytest

from simulator.errors import ConfigError
from simulator.lowering import builders as mk
from simulator.lowering.ops import DTYPE_BYTES
from simulator.run import simulate

REPO = Path(__file__).resolve().parents[2]


def _attention(kv: str, batch: int = 80, ctx: int = 2112, act: str = "bf16"):
    return mk.attention("attn", np.full(batch, ctx), 1, False, heads=32, kv_heads=32, head_dim=128, act=act, kv=kv)


def test_fp8_kv_decode_streams_one_byte_per_element(h100):
    """H100, batch 80, 2112 keys: the KV cache crosses HBM at its storage width and the memory-bound kernel
    takes about half the time of a bf16 cache."""
    g = h100["graph"]
    kv_elements = 2 * 80 * 2112 * 32 * 128
    qo = 2 * 80 * 32 * 128 * 2
    bf16, fp8 = g.cost(_attention("bf16")), g.cost(_attention("fp8"))
    assert bf16.bytes["hbm"] == pytest.approx(kv_elements * 2 + qo)
    assert fp8.bytes["hbm"] == pytest.approx(kv_elements * 1 + qo)
    assert 0.45 < fp8.time_s / bf16.time_s < 0.6
    assert fp8.bound == "memory"


def test_fp8_kv_whole_step_bytes():
    """A whole LLaMA-2-7B decode step with an fp8 cache moves the weights (bf16) plus the KV at one byte."""
    run = simulate(REPO / "hwconfigs/h100.yaml", REPO / "workloads/llama2-7b.yaml",
                   ["workload.batch=80", "workload.context_len=2111",
                              "workload.dtype={weights: bf16, activations: bf16, kv: fp8}"])
    kv = 32 * 2 * 80 * 2112 * 4096 * DTYPE_BYTES["fp8"]
    weights = 6.74e9 * 2
    hbm = run.summary["bandwidth"]["hbm"]["bytes"]
    assert hbm == pytest.approx(kv + weights, rel=0.03)
    run16 = simulate(REPO / "hwconfigs/h100.yaml", REPO / "workloads/llama2-7b.yaml",
                     ["workload.batch=40", "workload.context_len=2111", "workload.dtype=bf16"])
    run8 = simulate(REPO / "hwconfigs/h100.yaml", REPO / "workloads/llama2-7b.yaml",
                    ["workload.batch=40", "workload.context_len=2111",
                               "workload.dtype={weights: bf16, activations: bf16, kv: fp8}"])
    # the attention share of the step halves: the fp8-KV step is faster by about half the KV streaming time
    kv16 = 32 * 2 * 40 * 2112 * 4096 * 2 / 2.9e12
    saved = run16.summary["latency_s"] - run8.summary["latency_s"]
    assert saved == pytest.approx(kv16 / 2, rel=0.2)


def test_compute_dtype_defaults_to_the_wider_operand():
    assert mk.compute_dtype("int4", "bf16") == "bf16"
    assert mk.compute_dtype("fp8", "fp8") == "fp8"
    assert mk.compute_dtype("fp8", "bf16") == "bf16"
    assert mk.compute_dtype("int8", "int8") == "int8"


def test_fp8_weights_with_bf16_activations_run_at_the_bf16_rate(h100):
    """Large M: compute-bound. fp8 x fp8 runs near twice bf16; fp8 weights with bf16 activations compute in bf16."""
    g = h100["graph"]
    t = {k: g.cost(mk.gemm("g", 8192, 8192, 8192, weights=w, act=a)).time_s
         for k, (w, a) in {"bf16": ("bf16", "bf16"), "fp8": ("fp8", "fp8"), "w8a16": ("fp8", "bf16")}.items()}
    assert 1.6 < t["bf16"] / t["fp8"] < 2.05
    assert t["w8a16"] == pytest.approx(t["bf16"], rel=0.1)


def test_weight_only_quantisation_streams_packed_weights_with_scales(h100):
    g = h100["graph"]
    N = K = 4096
    for w, group, wbytes in (("int8", 128, 1.0), ("int4", 128, 0.5), ("int4", 32, 0.5), ("int4", None, 0.5)):
        op = mk.gemm("g", 1, N, K, weights=w, act="bf16", group_size=group)
        assert op.dtype == "bf16"
        scales = N * (K // group if group else 1) * 2
        assert op.bytes_in == pytest.approx(K * 2 + N * K * wbytes + scales)
        c = g.cost(op)
        assert c.bytes["hbm"] == pytest.approx(N * K * wbytes + scales + K * 2 + N * 2, rel=0.01)


def test_weight_only_gemv_gains_less_than_the_byte_ratio(h100):
    """Decode GEMV: narrower weights are faster, but the dequantisation in series with the stream keeps int4 from the
    ideal 4x over bf16 (gpt-fast on A100: int8 1.48x, int4 g32 1.88x over bf16)."""
    g = h100["graph"]
    t = {w: g.cost(mk.gemm("g", 1, 22016, 4096, weights=w, act="bf16")).time_s for w in ("bf16", "int8", "int4")}
    assert t["bf16"] > t["int8"] > t["int4"]
    assert t["bf16"] / t["int8"] < 2.0
    assert t["bf16"] / t["int4"] < 4.0


def test_dequantisation_is_charged_at_large_m(h100):
    """Compute-bound weight-only GEMM: the dequantisation of every B tile adds to the MMA time."""
    g = h100["graph"]
    bf16 = g.cost(mk.gemm("g", 8192, 8192, 8192, weights="bf16", act="bf16")).time_s
    int4 = g.cost(mk.gemm("g", 8192, 8192, 8192, weights="int4", act="bf16")).time_s
    assert int4 > bf16


def test_a100_has_int4_and_int8_rates_h100_has_no_int4(h100):
    from simulator.studies.gpu_validation import load_models

    a100 = load_models(REPO / "hwconfigs/a100.yaml")["graph"]
    big = dict(weights="int8", act="int8")
    t8 = a100.cost(mk.gemm("g", 8192, 8192, 8192, **big)).time_s
    t16 = a100.cost(mk.gemm("g", 8192, 8192, 8192, weights="bf16", act="bf16")).time_s
    t4 = a100.cost(mk.gemm("g", 8192, 8192, 8192, weights="int4", act="int4")).time_s
    assert t16 / t8 > 1.6 and t8 / t4 > 1.5
    with pytest.raises(ConfigError, match="int4"):
        h100["graph"].cost(mk.gemm("g", 64, 4096, 4096, weights="int4", act="int4"))


def test_workload_compute_dtype_and_quantisation_keys():
    run = simulate(REPO / "hwconfigs/h100.yaml", REPO / "workloads/llama2-7b.yaml",
                   ["workload.layers=1",
                              "workload.dtype={weights: int4, activations: bf16, kv: bf16, "
                              "quantisation: {group_size: 64}}"])
    gemms = [op for op, _ in run.graph.ops() if op.kind == "gemm"]
    assert gemms and all(op.dtype == "bf16" for op in gemms)
    scales = {op.name: next(t for t in op.inputs if t.name == "w_scale") for op in gemms}
    assert all(t.elements == op.dims["N"] * op.dims["K"] // 64 for op in gemms for t in [scales[op.name]])
    with pytest.raises(ConfigError):
        simulate(REPO / "hwconfigs/h100.yaml", REPO / "workloads/llama2-7b.yaml",
                 ["workload.dtype={weights: bf16, activations: bf16, kv: bf16, compute: fp7}"])
