"""Placement: op-kind and phase rules put ops on named units; tensor homes move weights or KV cache to another
memory, read over its path at its bandwidth, with each memory's capacity checked."""

import pytest

from simulator.cli import ROOT
from simulator.mapping.homes import memory_latency
from simulator.run import simulate

NEUPIMS, NPU_ONLY = ROOT / "hwconfigs/neupims.yaml", ROOT / "hwconfigs/npu-only.yaml"
GPT3, LLAMA = ROOT / "workloads/gpt3-7b-decode.yaml", ROOT / "workloads/llama2-7b.yaml"
DDR = ROOT / "tests/data/h100-ddr.yaml"
SMALL = ["workload.requests=16", "workload.layers=1"]


def test_decode_attention_rule_moves_attention_off_pim():
    """NeuPIMs with decode attention placed on the NPU is the NPU-only system: same latency to the picosecond."""
    moved = simulate(NEUPIMS, GPT3, [*SMALL, "workload.placement.ops={decode.attention: npu}"])
    npu = simulate(NPU_ONLY, GPT3, SMALL)
    assert moved.result.latency_ps == npu.result.latency_ps
    assert set(moved.ops[moved.ops["class"] == "attention"]["unit"]) == {"npu"}


def test_a_prefill_rule_leaves_decode_attention_alone():
    base = simulate(NEUPIMS, GPT3, SMALL)
    ruled = simulate(NEUPIMS, GPT3, [*SMALL, "workload.placement.ops={prefill.attention: npu}"])
    assert ruled.result.latency_ps == base.result.latency_ps


def test_kv_cache_in_a_remote_memory_is_read_at_its_bandwidth():
    """KV homed in the DDR5 memory: the attention op takes at least latency + KV bytes / DDR bandwidth, and the
    KV bytes move from HBM to DDR (the total is conserved)."""
    sets = ["workload.batch=8", "workload.layers=2"]
    local = simulate(DDR, LLAMA, sets)
    remote = simulate(DDR, LLAMA, [*sets, "workload.placement.homes={kv_cache: dram}"])
    ddr = remote.system.memories["dram"]
    for _, ev in remote.result.timeline():
        kv = sum(t.bytes for t in ev.op.inputs + ev.op.outputs if t.resident and "cache" in t.name)
        if kv:
            assert (ev.end_ps - ev.start_ps) * 1e-12 >= memory_latency(ddr) + kv / ddr.peak_bandwidth - 1e-12
            assert ev.cost.bytes["dram"] == pytest.approx(kv, rel=1e-12)
    bw_l, bw_r = local.summary["bandwidth"], remote.summary["bandwidth"]
    assert bw_r["dram"]["bytes"] > 0
    assert bw_r["hbm"]["bytes"] + bw_r["dram"]["bytes"] == pytest.approx(bw_l["hbm"]["bytes"], rel=1e-9)
    assert remote.summary["latency_s"] > local.summary["latency_s"]


@pytest.mark.parametrize("sets,needles", [
    (["workload.placement.homes={kv_cache: ssd}"], ["placement.homes.kv_cache: unknown memory 'ssd'",
                                                    "allowed: dram, hbm"]),
    (["workload.placement.homes={weights: dram}", "hw.device.memories.dram.capacity=1 GiB"],
     ["placement.homes.weights: weights need", "more than the 1 GiB of memory 'dram'", "allowed: at most 1 GiB"]),
    (["workload.placement.ops={softmax: tpu}"], ["placement.ops.softmax: unknown unit 'tpu'", "allowed: gpu"]),
    (["workload.placement.ops={softmx: gpu}"], ["did you mean 'softmax'"]),
    (["workload.placement.ops={decoding.attention: gpu}"], ["unknown phase 'decoding'", "allowed: decode"]),
])
def test_bad_placements_exit_2(cli, sets, needles):
    args = ["run", DDR, LLAMA]
    for s in sets:
        args += ["--set", s]
    code, _, err = cli(*args)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, (needle, err)


def test_a_unit_that_cannot_serve_the_op_is_rejected(cli):
    code, _, err = cli("run", NEUPIMS, GPT3, "--set", "workload.placement.ops={softmax: pim}")
    assert code == 2 and "unit 'pim' (pim) cannot run vector ops" in err, err
