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


CXL, ATTACC = ROOT / "hwconfigs/h100-cxl.yaml", ROOT / "hwconfigs/attacc.yaml"


def test_kv_in_cxl_crosses_pcie_and_cxl_links():
    """KV homed in the expander behind the host: an attention op takes at least the path latency + its KV bytes at
    the slowest hop's payload rate; those bytes cost every hop's pJ/bit as link energy; the expander's standby and
    traffic are the system's."""
    sets = ["workload.batch=8", "workload.layers=2"]
    hbm = simulate(CXL, LLAMA, sets).summary
    run = simulate(CXL, LLAMA, [*sets, "workload.placement.homes={kv_cache: cxl0}"])
    topo = run.system.topology
    links = [topo.links[i] for i in topo.path("gpu.0", "cxl0")]
    rate, lat = min(lk.rate for lk in links), sum(lk.latency for lk in links)
    kv_total = 0.0
    for p, ev in run.result.timeline():
        kv = sum(t.bytes for t in ev.op.inputs + ev.op.outputs if t.resident and "cache" in t.name)
        if kv:
            assert (ev.end_ps - ev.start_ps) * 1e-12 >= lat + kv / rate - 1e-12
            kv_total += kv
    s = run.summary
    epb = sum(lk.energy_per_bit for lk in links)
    assert s["energy_j"]["by_component"]["link"] == pytest.approx(kv_total * 8 * epb, rel=1e-9)
    assert s["energy_j"]["by_component"]["cxl0"] > hbm["energy_j"]["by_component"]["cxl0"] > 0
    assert s["latency_s"] > hbm["latency_s"]


def test_decode_attention_on_the_attacc_group():
    """AttAcc: attention runs on the paired PIM device (its HBM traffic under 'attacc.hbm'), the GPUs keep the
    FC layers; each of the eight PIM devices is busy, and the KV cache no longer counts against GPU memory."""
    sets = ["workload.layers=2", "workload.batch=8", "workload.placement.ops={decode.attention: attacc.pim}"]
    run = simulate(ATTACC, ROOT / "workloads/gpt3-175b-decode.yaml", sets)
    s = run.summary
    assert set(run.ops[run.ops["class"] == "attention"]["unit"]) == {"attacc.pim"}
    assert s["memory_footprint_bytes"]["kv_cache"] == 0.0
    pim = [s["energy_j"]["by_device"][f"attacc.{i}"]["by_component"]["attacc.pim"] for i in range(8)]
    assert min(pim) == max(pim) > 0
    transfer = [ev.cost.detail["transfer_s"] for _, ev in run.result.timeline() if ev.unit == "attacc.pim"]
    assert transfer and min(transfer) > 0


@pytest.mark.parametrize("rule,needles", [
    ("{decode.attention: nope.pim}", ["placement.ops.decode.attention: unknown group 'nope'", "allowed: attacc"]),
    ("{decode.attention: attacc.npu}", ["unknown unit 'npu' of group 'attacc'", "allowed: pim"]),
])
def test_bad_group_placements_exit_2(cli, rule, needles):
    code, _, err = cli("run", ATTACC, ROOT / "workloads/gpt3-175b-decode.yaml", "--set", "workload.batch=8",
                       "--set", f"workload.placement.ops={rule}")
    assert code == 2 and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, (needle, err)


def test_kv_home_without_room_in_the_expander(cli):
    code, _, err = cli("run", CXL, ROOT / "workloads/llama2-70b-tp8.yaml", "--set", "workload.tp=1", "--set",
                       "workload.batch=512", "--set", "workload.placement.homes={kv_cache: cxl0}")
    assert code == 2 and "placement.homes.kv_cache" in err and "of memory 'cxl0'" in err, err
