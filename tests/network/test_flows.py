"""Congestion-aware sharing: max-min fair rates, re-shared as flows finish, and the SimPy Fabric."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from simulator.network.flows import Fabric, finish_times, max_min_rates
from simulator.network.patterns import build_topology


def test_two_flows_on_one_link_get_half_each():
    rates = max_min_rates(np.array([0, 1]), np.array([0, 0]), 2, np.array([10.0]))
    assert rates.tolist() == [5.0, 5.0]


def test_max_min_gives_the_unbottlenecked_flow_the_rest():
    """Flows 0 and 1 share link 0 (cap 10); flow 1 also crosses link 1 (cap 2): flow 1 gets 2, flow 0 gets 8."""
    rates = max_min_rates(np.array([0, 1, 1]), np.array([0, 0, 1]), 2, np.array([10.0, 2.0]))
    assert rates == pytest.approx([8.0, 2.0])


def test_a_flow_speeds_up_when_its_neighbour_ends():
    """Sizes 1 and 2 on one link of rate 1: both at 1/2 until t = 2, then the second alone: done at 3."""
    t = finish_times(np.array([0, 1]), np.array([0, 0]), np.array([1.0, 2.0]), np.array([1.0]))
    assert t == pytest.approx([2.0, 3.0])


def star():
    return build_topology({"pattern": "switch", "link": {"bandwidth": "1 GB/s", "latency": "1 us"}}, {"d": 3},
                          file="t")


def test_fabric_shares_a_link_between_two_transfers():
    """Two collectives' flows into the same device share its downlink; no FIFO of whole messages."""
    env = simpy.Environment()
    fabric = Fabric(env, star())
    done = {}

    def send(name, src, nbytes, start):
        yield env.timeout(start)
        yield fabric.transfer([(src, 2, nbytes)])
        done[name] = env.now

    S = 1e6                                     # 1 ms alone at 1 GB/s
    env.process(send("a", 0, S, 0))
    env.process(send("b", 1, S, 0))
    env.run()
    lat = 2e-6
    assert done["a"] * 1e-12 == pytest.approx(2 * S / 1e9 + lat, rel=1e-6)
    assert done["b"] == done["a"]
    assert fabric.link_bytes.sum() == pytest.approx(4 * S)


def test_fabric_reshares_when_a_transfer_joins_late():
    env = simpy.Environment()
    fabric = Fabric(env, star())
    done = {}

    def send(name, src, nbytes, start):
        yield env.timeout(start)
        yield fabric.transfer([(src, 2, nbytes)])
        done[name] = env.now * 1e-12

    S = 1e6
    env.process(send("a", 0, S, 0))
    env.process(send("b", 1, S, int(0.5e-3 / 1e-12)))    # joins half way: a has 0.5 MB left, shared from then
    env.run()
    assert done["a"] == pytest.approx(1.5e-3 + 2e-6, rel=1e-6)
    assert done["b"] == pytest.approx(2.0e-3 + 2e-6, rel=1e-6)


def test_collective_on_a_fabric_matches_the_aware_cost_and_two_share_the_links():
    """One ring all-reduce through the Fabric takes its congestion-aware time; two at once on the same devices
    share every link and take twice the bandwidth term."""
    from simulator.network.collectives import collective, run_on_fabric

    topo = build_topology({"pattern": "switch", "link": {"bandwidth": "100 GB/s", "latency": "0 s"}}, {"d": 4},
                          file="t")
    S = 2.0 ** 24
    alone = collective(topo, "all-reduce", S, congestion_aware=True).time_s
    for copies in (1, 2):
        env = simpy.Environment()
        fabric = Fabric(env, topo)
        procs = [run_on_fabric(fabric, "all-reduce", S) for _ in range(copies)]
        env.run()
        assert all(p.value == "ring" for p in procs)
        assert env.now * 1e-12 == pytest.approx(copies * alone, rel=1e-6)
