"""Topologies: routed paths per pattern, fast domains, legacy files as one group, and bad input."""

from __future__ import annotations

import pytest

from simulator.cli import ROOT
from simulator.hardware.system import load_system
from simulator.lowering.builders import collective
from simulator.network.patterns import build_topology

LINK = {"bandwidth": "100 GB/s", "latency": "500 ns"}


def test_torus_routes_dimension_order_the_short_way_round():
    topo = build_topology({"pattern": "torus", "dims": [4, 4, 4], "link": LINK}, {"npu": 64}, file="t")
    assert len(topo.links) == 2 * 3 * 64
    for a, b in [(0, 63), (0, 3), (5, 42), (17, 17)]:
        ca = [a // 16, a // 4 % 4, a % 4]
        cb = [b // 16, b // 4 % 4, b % 4]
        hops = sum(min((x - y) % 4, (y - x) % 4) for x, y in zip(ca, cb))
        path = topo.path(a, b)
        assert len(path) == hops
        assert all(topo.links[i].dst == topo.links[j].src for i, j in zip(path, path[1:]))


def test_mesh_routes_manhattan():
    topo = build_topology({"pattern": "mesh", "dims": [3, 3], "link": LINK}, {"npu": 9}, file="t")
    assert len(topo.path(0, 8)) == 4 and len(topo.links) == 2 * 12


def test_hierarchical_paths_never_transit_a_gpu():
    topo = build_topology({"pattern": "hierarchical", "nodes": 2, "intra": {"link": LINK},
                           "inter": {"link": {"bandwidth": "50 GB/s", "latency": "1 us"}}}, {"gpu": 16}, file="t")
    inside = [topo.links[i].dst for i in topo.path(0, 7)]
    across = [topo.links[i].dst for i in topo.path(0, 9)]
    assert inside == ["node0.switch", "gpu.7"] and across == ["fabric", "gpu.9"]
    assert [topo.domains[d] for d in topo.devices] == [0] * 8 + [1] * 8


def test_legacy_file_loads_as_one_group():
    s = load_system(ROOT / "hwconfigs/neupims.yaml")
    assert list(s.groups) == ["device"] and s.devices == 4
    assert s.device_ids == [("device", i) for i in range(4)]
    assert s.units is s.groups["device"].units and s.link.bandwidth == 63e9


def test_link_model_keeps_the_ring_formula_on_a_single_link():
    s = load_system(ROOT / "hwconfigs/neupims.yaml")
    model = s.model("link")
    S, n, B, alpha = 3e6, 4, 63e9, 2 * 250e-9
    ar = model.cost(collective("x", "all_reduce", S, n, act="bf16"))
    assert ar.time_s == pytest.approx(2 * (n - 1) * (alpha + S / (n * B)), rel=1e-12)
    sr = model.cost(collective("x", "send_recv", S, 2, act="bf16"))
    assert sr.time_s == pytest.approx(alpha + S / B, rel=1e-12)


def test_grouped_system_lists_devices_in_file_order(tmp_path):
    (tmp_path / "s.yaml").write_text(GROUPED)
    s = load_system(tmp_path / "s.yaml")
    assert s.devices == 6 and s.device_ids[:2] == [("gpu", 0), ("gpu", 1)] and s.device_ids[-1] == ("npu", 1)
    assert s.topology.devices == [f"gpu.{i}" for i in range(4)] + ["npu.0", "npu.1"]
    assert s.link.name == "fast" and s.groups["npu"].static_power == 20.0


GROUPED = f"""
version: 1
kind: system
name: mixed
groups:
  gpu:
    count: 4
    memories: {{hbm: {{include: {ROOT}/hwconfigs/gpu/h100-hbm3.yaml}}}}
    units: {{gpu: {{include: {ROOT}/hwconfigs/gpu/h100-sxm.yaml, memory: hbm}}}}
  npu:
    count: 2
    static_power: 20 W
    memories: {{hbm: {{include: {ROOT}/hwconfigs/memory/hbm2e-3200.yaml}}}}
    units: {{npu: {{include: {ROOT}/hwconfigs/npu/tpuv4-like.yaml, memory: hbm}}}}
topology:
  pattern: switch
  link: {{name: fast, bandwidth: 450 GB/s, latency: 500 ns}}
  group_links: {{npu: {{name: slow, bandwidth: 50 GB/s, latency: 1 us}}}}
"""


def expect_error(cli, args, *needles):
    code, out, err = cli(*args)
    assert code == 2, (out, err)
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)


@pytest.mark.parametrize("edit,needles", [
    (("pattern: switch", "pattern: switch\n  members: [gpu, tpu]"), ["topology.members[1]", "unknown group 'tpu'",
                                                                      "allowed: gpu, npu"]),
    (("  group_links: {npu:", "  links: [{ends: [gpu.0, cxl9], bandwidth: 64 GB/s, latency: 1 us}]\n"
                              "  group_links: {npu:"), ["topology.links[0].ends", "unknown node 'cxl9'",
                                                        "allowed:"]),
    (("pattern: switch", "pattern: switch\n  members: [gpu]"), ["topology", "disconnected", "npu.0"]),
    (("pattern: switch", "pattern: torus\n  dims: [2, 2]"), ["topology.group_links", "no meaning for pattern torus"]),
    (("pattern: switch", "pattern: tree"), ["topology.pattern", "'tree' is not allowed"]),
])
def test_bad_topology_exits_2_naming_file_and_key(cli, tmp_path, edit, needles):
    (tmp_path / "s.yaml").write_text(GROUPED.replace(*edit))
    expect_error(cli, ["collective", str(tmp_path / "s.yaml"), "all-reduce", "--bytes", "1MiB"], "s.yaml", *needles)


def test_bad_collective_arguments_exit_2(cli, tmp_path):
    (tmp_path / "s.yaml").write_text(GROUPED)
    sysfile = str(tmp_path / "s.yaml")
    expect_error(cli, ["collective", sysfile, "all-reduce", "--bytes", "1MiB", "--group", "pim"],
                 "s.yaml", "--group", "unknown group 'pim'", "allowed: gpu, npu")
    expect_error(cli, ["collective", sysfile, "all-reduce", "--bytes", "1MiB", "--group", "9"],
                 "--group", "has 4 devices")
    expect_error(cli, ["collective", sysfile, "all-scatter", "--bytes", "1MiB"], "unknown collective", "all-reduce")
    expect_error(cli, ["collective", sysfile, "all-reduce", "--bytes", "1MiB", "--algorithm", "bucket"],
                 "unknown algorithm", "ring")
    expect_error(cli, ["collective", sysfile, "all-reduce", "--bytes", "lots"], "--bytes")


def test_single_description_keys_are_refused_beside_groups(cli, tmp_path):
    (tmp_path / "s.yaml").write_text(GROUPED)
    expect_error(cli, ["collective", str(tmp_path / "s.yaml"), "all-reduce", "--bytes", "1MiB", "--set",
                       "hw.devices=8"], "--set hw.devices", "groups.<name>.count")


def test_legacy_device_count_override_still_sizes_the_network(cli_json):
    out = cli_json("collective", str(ROOT / "hwconfigs/h100.yaml"), "all-reduce", "--bytes", "1GiB", "--set",
                   "hw.devices=8")
    assert out["devices"] == 8 and out["group"][0] == "device.0"
    assert out["busbw_gbps"] == pytest.approx(450 * 0.822, rel=0.01)


def test_domains_of_an_explicit_graph_follow_the_fast_links():
    """Two pairs of devices on fast links, the pairs joined by a slow switch: two domains."""
    fast, slow = {"bandwidth": "400 GB/s", "latency": "1 us"}, {"bandwidth": "25 GB/s", "latency": "1 us"}
    topo = build_topology({"pattern": "graph", "switches": ["sw"],
                           "links": [{"ends": ["d.0", "d.1"], **fast}, {"ends": ["d.2", "d.3"], **fast}]
                           + [{"ends": [f"d.{i}", "sw"], **slow} for i in range(4)]}, {"d": 4}, file="t")
    assert [topo.domains[d] for d in topo.devices] == [0, 0, 1, 1]
    assert [topo.links[i].dst for i in topo.path(0, 1)] == ["d.1"]          # the direct fast link
    assert [topo.links[i].dst for i in topo.path(0, 2)] == ["sw", "d.2"]    # devices of a graph do not forward


def test_a_key_of_another_pattern_is_refused():
    with pytest.raises(Exception, match="'dims' has no meaning for pattern switch"):
        build_topology({"pattern": "switch", "link": LINK, "dims": [2, 2]}, {"d": 4}, file="t")


def test_torus_dims_must_place_every_device():
    with pytest.raises(Exception, match="4 positions for 6 devices"):
        build_topology({"pattern": "torus", "dims": [2, 2], "link": LINK}, {"d": 6}, file="t")
