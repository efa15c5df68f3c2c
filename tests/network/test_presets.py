"""The shipped systems of issue 10: their networks are what their sources describe, and each runs its workload."""

from __future__ import annotations

import pytest

from simulator.cli import ROOT
from simulator.hardware.system import load_system
from simulator.network.collectives import collective
from simulator.run import simulate

HW = ROOT / "hwconfigs"
LLAMA = ROOT / "workloads/llama2-7b.yaml"


@pytest.mark.parametrize("name,devices,groups", [
    ("dgx-a100", 8, ["gpu"]), ("hgx-h100", 8, ["gpu"]), ("h100-2node", 16, ["gpu"]), ("pcie-4xa100", 4, ["gpu"]),
    ("tpuv4-pod64", 64, ["npu"]), ("attacc", 16, ["gpu", "attacc"]), ("neupims-175b", 32, ["neupims"]),
    ("h100-cxl", 1, ["gpu"]),
])
def test_preset_loads_with_its_groups(name, devices, groups):
    s = load_system(HW / f"{name}.yaml")
    assert s.devices == devices and list(s.groups) == groups and s.source
    assert len(s.topology.devices) == devices


@pytest.mark.parametrize("name", ["dgx-a100", "hgx-h100", "h100-2node", "pcie-4xa100", "tpuv4-pod64", "attacc",
                                  "h100-cxl"])
def test_preset_runs_llama2_7b(name):
    r = simulate(HW / f"{name}.yaml", LLAMA, ["workload.layers=2"])
    assert r.summary["latency_s"] > 0


def test_neupims_175b_runs_gpt3_175b_at_tp8_pp4():
    r = simulate(HW / "neupims-175b.yaml", ROOT / "workloads/gpt3-7b-decode.yaml",
                 ["workload.model=gpt3-175b", "workload.tp=8", "workload.pp=4", "workload.requests=32",
                  "workload.layers=4"])
    assert r.summary["latency_s"] > 0


def test_two_node_h100_crosses_nodes_on_infiniband():
    s = load_system(HW / "h100-2node.yaml")
    names = [s.topology.links[i].name for i in s.topology.path("gpu.0", "gpu.8")]
    assert names == ["inter", "inter"]
    assert [s.topology.links[i].name for i in s.topology.path("gpu.0", "gpu.7")] == ["intra", "intra"]
    assert s.topology.links[s.topology.path("gpu.0", "gpu.8")[0]].bandwidth == 50e9
    big = collective(s.topology, "all-reduce", 2.0 ** 30)
    assert big.algorithm in ("ring", "tree", "hierarchical") and "2 nodes" in big.reason


def test_cxl_memory_sits_behind_the_host():
    s = load_system(HW / "h100-cxl.yaml")
    assert s.memory_nodes["cxl0"].capacity_bytes == 128 * 2 ** 30
    assert [s.topology.links[i].name for i in s.topology.path("gpu.0", "cxl0")] == ["pcie5", "cxl"]


def test_tpu_torus_neighbours_are_one_ici_hop():
    s = load_system(HW / "tpuv4-pod64.yaml")
    assert len(s.topology.links) == 64 * 6
    assert max(len(s.topology.path(0, d)) for d in range(64)) == 6      # 2 + 2 + 2 hops across a 4x4x4 torus
