"""Transaction level against the command level (within 3 % on bandwidth) and its API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import simpy

from simulator.memory.dram import transaction
from simulator.memory.dram.command import simulate_requests

from .conftest import preset, saturating


def patterns(spec):
    tx = spec.organisation.tx_bytes
    lines = int(spec.capacity_bytes // tx)
    rng = np.random.default_rng(99)
    return {
        "streaming": (np.arange(40000) + 12345) * tx,
        "random": rng.integers(0, lines, 30000) * tx,
        "strided 256 B every 4 KB": (np.arange(8000)[:, None] * 4096 + np.arange(4)[None, :] * tx).ravel(),
        "strided 2 KB every 64 KB": (np.arange(1000)[:, None] * 65536 + np.arange(2048 // tx)[None, :] * tx).ravel(),
        "strided one line per 8 rows": np.arange(20000) * spec.organisation.row_bytes * 8 % (lines * tx),
    }


@pytest.mark.parametrize("name", ["streaming", "random", "strided 256 B every 4 KB", "strided 2 KB every 64 KB",
                                  "strided one line per 8 rows"])
def test_levels_agree_on_bandwidth(name, hbm2):
    addr = np.asarray(patterns(hbm2)[name], np.int64)
    res = simulate_requests(hbm2, *saturating(addr))
    command_bw = addr.size * hbm2.organisation.tx_bytes / (res.end * hbm2.tck)
    t = transaction.transfer_addresses(hbm2, addr)
    assert t.bandwidth == pytest.approx(command_bw, rel=0.03)


def test_tile_transfer_forms_match_the_address_list(hbm2):
    a = transaction.transfer(hbm2, 4096, 256, rows=500, stride=4096)
    addr = (4096 + np.arange(500)[:, None] * 4096 + np.arange(4)[None, :] * 64).ravel()
    b = transaction.transfer_addresses(hbm2, addr)
    assert a.cycles == pytest.approx(b.cycles, rel=1e-9)
    c = transaction.transfer(hbm2, 0, 1 << 20)
    d = transaction.transfer_addresses(hbm2, np.arange((1 << 20) // 64) * 64)
    assert c.cycles == pytest.approx(d.cycles, rel=1e-9)


def test_one_gib_stream_over_neupims_hbm2():
    spec = preset("neupims-hbm2")
    t = transaction.transfer(spec, 0, 1 << 30)
    assert t.requests == (1 << 30) // 64
    assert t.bandwidth == pytest.approx(0.92 * spec.peak_bandwidth, rel=0.05)
    assert t.bound in ("bus", "command")
    assert t.energy_j > 0


def test_simpy_component_serialises_channels(hbm2):
    env = simpy.Environment()
    mem = transaction.TransactionMemory(env, spec=hbm2)
    done = []

    def proc():
        t1 = yield mem.transfer(0, 1 << 20)
        done.append(env.now)
        t2 = yield mem.transfer(0, 1 << 20)
        done.append(env.now)
        assert t1.cycles == t2.cycles

    env.process(proc())
    env.run()
    one = transaction.transfer(hbm2, 0, 1 << 20).seconds / 1e-12
    assert done[0] == pytest.approx(one, rel=1e-6)
    assert done[1] == pytest.approx(2 * one, rel=1e-6)
    assert mem.bytes_moved == 2 << 20


def test_bad_transfer_arguments(hbm2):
    with pytest.raises(ValueError, match="nbytes > 0"):
        transaction.transfer(hbm2, 0, 0)
    with pytest.raises(ValueError, match="time_unit"):
        transaction.TransactionMemory(simpy.Environment(), spec=hbm2, time_unit=0)


def test_stream_on_a_channel_count_that_is_not_a_power_of_two():
    """AttAcc's 80 HBM3 channels: each channel sees the same interleaved stream as in a 64-channel memory, so the
    stream's bandwidth is the 64-channel one times 80 / 64, with the same activations per request (no mapping
    error)."""
    from simulator.hardware.system import load_system
    from simulator.memory.dram.transaction import stream

    spec = load_system(Path(__file__).resolve().parents[2] / "hwconfigs/attacc.yaml").groups["attacc"].memories["hbm"]
    assert spec.organisation.channels == 80
    p2 = spec.model_copy(update={"organisation": spec.organisation.model_copy(update={"channels": 64})})
    got, ref = stream(spec, 16 << 20), stream(p2, 16 << 20)
    assert got.bandwidth == pytest.approx(ref.bandwidth * 80 / 64, rel=1e-12)
    assert got.activations / got.requests == pytest.approx(ref.activations / ref.requests, rel=1e-12)
    assert got.bandwidth <= spec.peak_bandwidth
