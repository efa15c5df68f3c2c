"""Collectives: congestion-unaware costs equal their alpha-beta formulas (docs/network.md) on uniform networks,
congestion-aware costs never beat them, and the default is the algorithm NCCL's rule picks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.network.algorithms import binary_tree
from simulator.network.collectives import collective, default_chunks, route, schedule
from simulator.network.patterns import build_topology

B, LAT = 100e9, 500e-9            # payload rate (bytes/s) and latency per hop of the test links
LINK = {"bandwidth": "100 GB/s", "latency": "500 ns"}
SIZES = [1024.0, 3 * 2.0 ** 20, 2.0 ** 30]


def switch(n: int):
    return build_topology({"pattern": "switch", "link": LINK}, {"d": n}, file="t")


def formula(alg: str, op: str, n: int, S: float, C: int) -> float:
    a = 2 * LAT                    # device -> switch -> device
    lg = int(math.log2(n)) if n & (n - 1) == 0 else None
    if op == "send_recv":
        return a + S / B
    table = {
        ("ring", "all_reduce"): 2 * (n - 1) * (a + S / (n * B)),
        ("ring", "all_gather"): (n - 1) * (a + S / (n * B)),
        ("ring", "reduce_scatter"): (n - 1) * (a + S / (n * B)),
        ("ring", "all_to_all"): (n - 1) * a + (n - 1) * S / (2 * B),
        ("ring", "broadcast"): (n - 2 + C) * (a + S / (C * B)),
        ("direct", "all_reduce"): 2 * (a + (n - 1) * S / (n * B)),
        ("direct", "all_gather"): a + (n - 1) * S / (n * B),
        ("direct", "reduce_scatter"): a + (n - 1) * S / (n * B),
        ("direct", "all_to_all"): a + (n - 1) * S / (n * B),
        ("direct", "broadcast"): a + (n - 1) * S / B,
    }
    if lg is not None:
        table.update({
            ("halving_doubling", "all_reduce"): 2 * lg * a + 2 * (n - 1) / n * S / B,
            ("halving_doubling", "all_gather"): lg * a + (n - 1) / n * S / B,
            ("halving_doubling", "reduce_scatter"): lg * a + (n - 1) / n * S / B,
            ("halving_doubling", "broadcast"): lg * (a + S / B),
        })
    return table[(alg, op)]


CASES = [(alg, op) for alg in ("ring", "direct", "halving_doubling")
         for op in ("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "broadcast")
         if not (alg == "halving_doubling" and op == "all_to_all")]
SIZED = [(alg, op, n) for alg, op in CASES for n in (2, 3, 4, 8, 16)
         if not (alg == "halving_doubling" and n & (n - 1))]      # halving-doubling runs on 2^k devices


@pytest.mark.parametrize("alg,op,n", SIZED)
def test_unaware_equals_alpha_beta(alg, op, n):
    topo = switch(n)
    for S in SIZES:
        C = default_chunks(S)
        got = collective(topo, op, S, algorithm=alg).time_s
        assert got == pytest.approx(formula(alg, op, n, S, C), rel=1e-12), (alg, op, n, S)


def test_send_recv_is_one_transfer():
    topo = switch(4)
    for S in SIZES:
        assert collective(topo, "send-recv", S, [1, 3]).time_s == pytest.approx(2 * LAT + S / B, rel=1e-12)


@pytest.mark.parametrize("n", [2, 3, 5, 8, 16])
@pytest.mark.parametrize("C", [1, 4, 16])
def test_tree_equals_per_step_port_count(n, C):
    """Double binary tree on a switch: T = sum over steps of (alpha + m_t S / (2 C B)), with m_t the most
    chunk transfers any one device port carries at step t, counted here from the two trees' parent maps."""
    S = 2.0 ** 26
    trees = [binary_tree(list(range(n))), binary_tree(list(range(n))[::-1])]
    sends: dict[int, np.ndarray] = {}
    for parent in trees:
        depth = {}
        for r in parent:
            d, p = 0, parent[r]
            while p != -1:
                d, p = d + 1, parent[p]
            depth[r] = d
        D = max(depth.values())
        for r, p in parent.items():
            if p == -1:
                continue
            for c in range(C):
                for t, (a, b) in ((D - depth[r] + c, (r, p)), (D + depth[r] - 1 + c, (p, r))):
                    ports = sends.setdefault(t, np.zeros((2, n)))
                    ports[0, a] += 1
                    ports[1, b] += 1
    expected = sum(2 * LAT + ports.max() * S / (2 * C * B) for ports in sends.values())
    got = collective(switch(n), "all-reduce", S, algorithm="tree", chunks=C).time_s
    assert got == pytest.approx(expected, rel=1e-12)


def hier(k: int, L: int, inter_bw: str = "25 GB/s", intra: dict = LINK):
    return build_topology({"pattern": "hierarchical", "nodes": k,
                           "intra": {"pattern": "switch", "link": intra},
                           "inter": {"link": {"bandwidth": inter_bw, "latency": "1 us"}}}, {"gpu": k * L}, file="t")


@pytest.mark.parametrize("k,L", [(2, 4), (2, 8), (4, 2), (3, 4)])
def test_hierarchical_equals_alpha_beta(k, L):
    topo = hier(k, L)
    Be, ae = 25e9, 2e-6
    for S in SIZES:
        expected = 2 * (L - 1) * (2 * LAT + S / (L * B)) + 2 * (k - 1) * (ae + S / (L * k * Be))
        got = collective(topo, "all-reduce", S, algorithm="hierarchical").time_s
        assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("alg,op", CASES + [("tree", "all_reduce")])
def test_aware_never_beats_the_bandwidth_bound(alg, op):
    """Sharing links can only slow a step below what its busiest link allows; with one latency for every
    path (a switch) the aware time is at least the unaware one."""
    torus = build_topology({"pattern": "torus", "dims": [4, 2], "link": LINK}, {"npu": 8}, file="t")
    for topo in (switch(8), hier(2, 4), torus):
        for S in (4096.0, 2.0 ** 24):
            slow = collective(topo, op, S, algorithm=alg, congestion_aware=True).time_s
            steps = schedule(topo, op, S, list(range(8)), alg, default_chunks(S))
            bound = 0.0
            for src, dst, size in steps:
                flow_of, link_of, _ = route(topo, src, dst)
                bound += (np.bincount(link_of, weights=size[flow_of], minlength=len(topo.links)) / topo.rate).max()
            assert slow >= bound * (1 - 1e-9)
            if topo.graph.has_node("switch"):
                assert slow >= collective(topo, op, S, algorithm=alg).time_s * (1 - 1e-9)


def test_aware_equals_unaware_when_no_link_is_shared_unevenly():
    """A ring all-reduce on a switch loads every port equally: sharing changes nothing."""
    topo = switch(8)
    a = collective(topo, "all-reduce", 2.0 ** 28, congestion_aware=True).time_s
    u = collective(topo, "all-reduce", 2.0 ** 28).time_s
    assert a == pytest.approx(u, rel=1e-9)


def test_hierarchical_all_reduce_over_two_nodes_is_bound_by_inter_node_links():
    """One 100 Gb/s NIC per GPU under an NVLink-4-class node: the NICs carry the inter-node ring."""
    S, nvlink = 2.0 ** 30, {"bandwidth": "450 GB/s", "latency": "468 ns"}
    slow, fast = hier(2, 8, "12.5 GB/s", nvlink), hier(2, 8, "25 GB/s", nvlink)
    t_slow = collective(slow, "all-reduce", S, algorithm="hierarchical", congestion_aware=True)
    t_fast = collective(fast, "all-reduce", S, algorithm="hierarchical", congestion_aware=True).time_s
    inter = 2 * (2 - 1) * S / (8 * 2 * 12.5e9)          # bytes each NIC carries over its rate
    assert t_slow.time_s >= inter
    assert inter / t_slow.time_s > 0.6                   # most of the time is the inter-node phase
    assert t_slow.time_s / t_fast == pytest.approx(1 + inter / 2 / t_fast, rel=1e-6)   # only that phase moves
    nic = [i for i, lk in enumerate(slow.links) if lk.dst == "fabric"]
    util = t_slow.link_bytes / (t_slow.time_s * slow.rate)
    assert util[nic].min() == pytest.approx(util.max())  # the NIC links are the busiest


def test_link_bytes_count_every_hop():
    n, S = 8, 2.0 ** 20
    c = collective(switch(n), "all-reduce", S, algorithm="ring")
    assert c.link_bytes.sum() == pytest.approx(2 * (2 * (n - 1) / n * S * n))   # up and down link per transfer
    assert c.energy_j == 0.0


def test_default_is_ring_in_one_node_and_fastest_across_nodes():
    c = collective(switch(8), "all-reduce", 2.0 ** 30)
    assert c.algorithm == "ring" and "one fast domain" in c.reason
    topo = hier(2, 8)
    for S in (8192.0, 2.0 ** 30):
        c = collective(topo, "all-reduce", S)
        best = min(("ring", "tree", "hierarchical"),
                   key=lambda a: collective(topo, "all-reduce", S, algorithm=a).time_s)
        assert c.algorithm == best and "2 nodes" in c.reason
    assert collective(topo, "all-to-all", 2.0 ** 20).algorithm == "direct"
    assert collective(topo, "all-gather", 2.0 ** 20).algorithm == "ring"


def test_schedule_moves_the_data_each_op_needs():
    """Bytes each rank sends over a whole schedule: the minimum the op needs (ring/HD bandwidth optimal)."""
    n, S = 8, 800.0
    topo = switch(n)
    for alg in ("ring", "halving_doubling", "direct"):
        sent = sum(np.bincount(s, weights=b, minlength=n) for s, _, b in schedule(topo, "all_reduce", S,
                                                                                   list(range(n)), alg, 1))
        assert np.allclose(sent, 2 * (n - 1) / n * S)


@pytest.mark.parametrize("k,L", [(2, 4), (2, 8), (4, 2)])
def test_ring_across_nodes_runs_one_ring_per_nic(k, L):
    """NCCL's channels: L rings, each 1/L of the data, crossing nodes on their own NIC. A step's busiest link is
    an intra-node port (L-1 transfers of S/(nL)) or a NIC (one), its latency the inter-node path's."""
    topo, n, Be = hier(k, L), k * L, 25e9
    for S in SIZES:
        per = S / (n * L)
        step = 2e-6 + max((L - 1) * per / B, per / Be)
        got = collective(topo, "all-reduce", S, algorithm="ring").time_s
        assert got == pytest.approx(2 * (n - 1) * step, rel=1e-12)
        nic = [i for i, lk in enumerate(topo.links) if lk.dst == "fabric"]
        c = collective(topo, "all-gather", S, algorithm="ring")
        assert np.allclose(c.link_bytes[nic], (n - 1) * per)          # every NIC carries one ring


def test_curves_rise_with_size_and_mark_the_default():
    from simulator.network.curves import collective_curves

    topo = hier(2, 4)
    df = collective_curves(topo, "all-reduce", sizes=[2.0 ** 12, 2.0 ** 20, 2.0 ** 28], counts=[2, 4, 8])
    for (_, _), g in df.groupby(["devices", "algorithm"]):
        assert g["time_s"].is_monotonic_increasing
    assert set(df[df.devices == 8].algorithm) == {"ring", "tree", "halving_doubling", "direct", "hierarchical"}
    assert "hierarchical" not in set(df[df.devices == 4].algorithm)        # 4 devices are one node
    assert (df.groupby(["devices", "bytes"])["default"].sum() == 1).all()
    eight = df[df.devices == 8]
    for _, g in eight.groupby("bytes"):                                     # across nodes: the fastest NCCL one
        nccl = g[g.algorithm.isin(["ring", "tree", "hierarchical"])]
        assert g[g["default"]].time_s.iloc[0] == nccl.time_s.min()


@pytest.mark.parametrize("dims", [(4, 4, 4), (2, 8), (8,)])
def test_torus_all_reduce_dimension_by_dimension(dims):
    """T = 2 sum_d (k_d - 1)(alpha + S / (2 k_0 ... k_d B)) with alpha one hop: a torus line runs a ring each
    way with half the data (a line of 2: one ring, S / (k_0 ... k_d B))."""
    n = int(np.prod(dims))
    topo = build_topology({"pattern": "torus", "dims": list(dims), "link": LINK}, {"npu": n}, file="t")
    for S in SIZES:
        expected, prefix = 0.0, 1
        for k in dims:
            prefix *= k
            expected += 2 * (k - 1) * (LAT + S / (prefix * B * (2 if k > 2 else 1)))
        c = collective(topo, "all-reduce", S, algorithm="hierarchical")
        assert c.time_s == pytest.approx(expected, rel=1e-12)
    assert collective(topo, "all-reduce", 2.0 ** 20).algorithm == ("hierarchical" if len(dims) > 1 else "ring")
