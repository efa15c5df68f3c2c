"""On-chip reuse applied in runs: an NPU with a `fusion` policy keeps a layer's intermediates in its scratchpad
(simulator/npu/fusion.py, docs/npu.md) and its ops' DRAM traffic, DMA time and energy drop by what they no longer
move."""

import pytest

from simulator.cli import ROOT
from simulator.run import simulate

NPU_ONLY, LLAMA = ROOT / "hwconfigs/npu-only.yaml", ROOT / "workloads/llama2-7b.yaml"
LAYERS = 2
CASES = {
    "decode": {"workload.phase": "decode", "workload.batch": 64, "workload.context_len": 512},
    "prefill": {"workload.phase": "prefill", "workload.batch": 1, "workload.prompt_len": 512},
}


def run(phase: str, policy: str = "off", memoise: bool = True, **hw):
    sets = {**CASES[phase], "workload.dtype": "fp16", "workload.layers": LAYERS,
            "hw.device.units.npu.fusion.policy": policy, **{f"hw.device.units.npu.fusion.{k}": v for k, v in hw.items()}}
    return simulate(NPU_ONLY, LLAMA, overrides=sets, memoise=memoise)


@pytest.fixture(scope="module")
def runs():
    return {(phase, policy): run(phase, policy) for phase in CASES for policy in ("off", "search", "first-fit")}


def hbm(r) -> int:
    return r.summary["bandwidth"]["hbm"]["bytes"]


@pytest.mark.parametrize("phase", CASES)
@pytest.mark.parametrize("policy", ["search", "first-fit"])
def test_dram_bytes_drop_by_exactly_what_the_kept_tensors_saved(runs, phase, policy):
    off, on = runs[(phase, "off")].summary, runs[(phase, policy)].summary
    f = on["fusion"]["npu"]
    assert f["policy"] == policy and f["kept"]
    # the run's DRAM bytes drop by exactly the traffic the kept tensors' producers and consumers no longer make
    assert hbm(runs[(phase, "off")]) - hbm(runs[(phase, policy)]) == pytest.approx(f["dram_saved_bytes"], abs=1)
    assert f["dram_saved_bytes"] == pytest.approx(LAYERS * sum(t["dram_saved_bytes_per_layer"] for t in f["kept"]))
    for t in f["kept"]:
        # at least the write and the reads the tensor needs (more where a GEMM re-read its input per output panel)
        assert t["dram_saved_bytes_per_layer"] >= t["write_bytes"] + t["read_bytes"] - 1e-6
    assert f["needed_saved_bytes_per_layer"] == pytest.approx(sum(t["write_bytes"] + t["read_bytes"]
                                                                  for t in f["kept"]))
    assert on["flops"] == off["flops"]
    assert on["latency_s"] <= off["latency_s"]
    assert on["energy_j"]["total"] < off["energy_j"]["total"]
    assert "fusion" not in off


def test_consumers_that_read_once_save_exactly_the_write_and_reads(runs):
    """Decode at batch 64: every consumer that is not a GEMM reads its input once, so a tensor consumed by vector,
    attention or memory ops saves exactly its write plus its reads."""
    f = runs[("decode", "search")].summary["fusion"]["npu"]
    gemms = {n for n, d in runs[("decode", "off")].graph.layer.nodes(data=True) if d["op"].kind == "gemm"}
    exact = [t for t in f["kept"] if not set(t["consumers"]) & gemms]
    assert exact
    for t in exact:
        assert t["dram_saved_bytes_per_layer"] == pytest.approx(t["write_bytes"] + t["read_bytes"])


@pytest.mark.parametrize("phase", CASES)
def test_bytes_moved_cover_weights_kv_and_spilled_intermediates(runs, phase):
    r = runs[(phase, "search")]
    f = r.summary["fusion"]["npu"]
    layer = r.graph.layer
    resident = sum(t.bytes for _, d in layer.nodes(data=True) for t in d["op"].inputs if t.resident)
    kinds = {n: d["op"].kind for n, d in layer.nodes(data=True)}
    spilled = sum(t["dram_bytes"] if kinds[t["producer"]] != "kv_write" else t["bytes"] for t in f["spilled"])
    layer_bytes = sum(ev.cost.bytes.get("hbm", 0.0) for p in r.result.placements if p.block == "layer"
                      for ev in p.run.events)
    assert layer_bytes >= LAYERS * (resident + spilled)


def test_tiny_scratchpad_keeps_nothing_and_equals_off_exactly(runs):
    off = runs[("decode", "off")].summary
    tiny = run("decode", "search", reserve=0.999).summary     # 8 KiB for tensors of 512 KiB and more
    f = tiny["fusion"]["npu"]
    assert f["kept"] == [] and f["dram_saved_bytes"] == 0 and f["fused_chains"] == []
    for key in ("latency_s", "bandwidth", "energy_j", "flops", "cycles", "utilisation"):
        assert tiny[key] == off[key], key


def test_llama_chains_fuse_qkv_rotary_attention_and_the_gated_mlp(runs):
    chains = runs[("decode", "search")].summary["fusion"]["npu"]["fused_chains"]

    def inside(seq):
        return any(any(c[i:i + len(seq)] == seq for i in range(len(c))) for c in chains)

    assert inside(["mlp.gate_up_proj", "mlp.act", "mlp.down_proj"])
    assert any({"qkv_proj", "rotary", "attention"} <= set(c) for c in chains)


def test_memoise_off_changes_nothing_with_fusion_on(runs):
    on = runs[("decode", "search")].summary
    again = run("decode", "search", memoise=False).summary
    assert again["latency_s"] == on["latency_s"]
    assert again["bandwidth"] == on["bandwidth"]
    assert again["fusion"]["npu"]["dram_saved_bytes"] == on["fusion"]["npu"]["dram_saved_bytes"]


@pytest.mark.parametrize("key,value,needle", [
    ("policy", "best", "'best' is not allowed; expected 'off', 'first-fit' or 'search'"),
    ("reserve", "1", "must be less than 1"),
    ("reserve", "-0.1", "greater than or equal to 0"),
])
def test_bad_fusion_keys_exit_2_with_one_line(cli, key, value, needle):
    code, out, err = cli("run", NPU_ONLY, LLAMA, "--set", f"hw.device.units.npu.fusion.{key}={value}", "--json")
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err and f"fusion.{key}" in err


def test_yaml_bare_off_is_the_off_policy(runs):
    """YAML 1.1 reads `policy: off` as false; it means the policy `off` (nothing fused, the summary unchanged)."""
    s = run("decode", False).summary
    assert "fusion" not in s and s["latency_s"] == runs[("decode", "off")].summary["latency_s"]


def test_fusion_with_sub_batch_interleaving_keeps_flops_and_is_never_slower():
    """NeuPIMs with sub-batch interleaving (a block of two layers x two halves with order-only join nodes between
    the attention parts): fusion on the NPU runs, moves fewer NPU DRAM bytes and keeps the FLOPs."""
    sets = ["workload.requests=16", "workload.layers=2", "workload.schedule.sub_batch_interleaving=true"]
    off = simulate(ROOT / "hwconfigs/neupims.yaml", ROOT / "workloads/gpt3-7b-decode.yaml", sets)
    on = simulate(ROOT / "hwconfigs/neupims.yaml", ROOT / "workloads/gpt3-7b-decode.yaml",
                  [*sets, "hw.device.units.npu.fusion.policy=first-fit"])
    assert on.summary["flops"] == off.summary["flops"]
    assert on.summary["latency_s"] <= off.summary["latency_s"] * (1 + 1e-9)
    assert on.summary["fusion"]["npu"]["dram_saved_bytes"] > 0
    assert on.summary["bandwidth"]["hbm"]["bytes"] < off.summary["bandwidth"]["hbm"]["bytes"]
