"""The analytic relations of ../shared/reference/dram/README.md, on the command level."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.memory.dram.command import simulate_requests

from .conftest import preset, saturating


def one_bank_stride(spec, n=6000):
    """Every request to the same channel and bank, a different row (the generator's stride_1bank)."""
    org = spec.organisation
    stride = org.tx_bytes << (int(np.log2(spec.capacity_bytes // org.tx_bytes)) - int(np.log2(org.rows)))
    return np.arange(n, dtype=np.int64) * stride % int(spec.capacity_bytes)


@pytest.mark.parametrize("name", ["dramsim3-hbm2", "ramulator-hbm2", "dramsim3-ddr4", "ramulator-ddr4",
                                  "ramulator-hbm3"])
def test_one_bank_stride_is_trc_plus_refresh(name):
    spec = preset(name)
    tm = spec.timing
    res = simulate_requests(spec, *saturating(one_bank_stride(spec)))
    assert len({(c, b) for c, b in zip(res.layout.ctl, res.layout.bank)}) == 1
    scale = 2 if spec.controller.half_tick else 1
    expect = tm.rc * scale * (1 + tm.tRFC / tm.tREFI)
    per_request = res.end / res.issue.size
    assert per_request == pytest.approx(expect, rel=0.03)


def test_random_reads_are_bound_by_the_activation_window():
    spec = preset("dramsim3-hbm2")
    org, tm = spec.organisation, spec.timing
    rng = np.random.default_rng(5)
    n = 60000
    addr = rng.integers(0, spec.capacity_bytes // org.tx_bytes, n) * org.tx_bytes
    res = simulate_requests(spec, *saturating(addr))
    bw = n * org.tx_bytes / (res.end * spec.tck)
    # 4 ACT per tFAW per rank and channel, less refresh: 68 GB/s -> 64 GB/s (README); never above
    bound = 4 / (tm.tFAW * spec.tck) * org.channels * org.ranks * org.tx_bytes * (1 - tm.tRFC / tm.tREFI)
    assert bound / 1e9 == pytest.approx(64.0, rel=0.01)
    assert 0.9 * bound <= bw <= bound
    # and not by tRC: 16 banks x 64 B / tRC would allow far more
    assert bw < 0.5 * org.channels * org.banks * org.tx_bytes / (tm.rc * spec.tck)


def test_ranks_raise_the_activation_bound():
    one = preset("ramulator-ddr4")
    two = preset("dramsim3-ddr4")
    rng = np.random.default_rng(8)
    addr = rng.integers(0, (8 << 30) // 64, 20000) * 64
    bws = []
    for spec in (one, two):
        res = simulate_requests(spec, *saturating(addr))
        bws.append(addr.size * 64 / (res.end * spec.tck))
    assert bws[1] > 1.5 * bws[0]


def test_unloaded_latency_is_the_sum_of_the_row_and_column_delays(hbm2):
    tm = hbm2.timing
    burst = hbm2.organisation.burst_length // 2
    # a closed bank: ACT, tRCD, RD, CL + burst (+1 cycle from queue to command)
    res = simulate_requests(hbm2, np.array([0]), np.array([0], np.int8), np.array([0]))
    assert res.done[0] - res.arrive[0] == 1 + tm.tRCD + tm.CL + burst
    # another row of the same bank afterwards: PRE first, so tRP more (README: 14+14+14+2 = 44 plus a cycle)
    res = simulate_requests(hbm2, np.array([0, 1000]), np.array([0, 0], np.int8), np.array([0, 1 << 18]))
    assert res.done[1] - res.arrive[1] == 1 + tm.tRP + tm.tRCD + tm.CL + burst
    assert list(res.kind) == [1, 2]


def test_streaming_efficiency_follows_the_mapping():
    """README: the same HBM2 streams at ~50 % of peak with RoBaRaCoCh and ~87 % with MOP4CLXOR."""
    out = {}
    for name in ("ramulator-hbm2", "ramulator-hbm2-mop", "dramsim3-hbm2"):
        spec = preset(name)
        n = 60000
        addr = np.arange(n, dtype=np.int64) * spec.organisation.tx_bytes
        res = simulate_requests(spec, *saturating(addr))
        out[name] = n * spec.organisation.tx_bytes / (res.end * spec.tck) / spec.peak_bandwidth
    assert 0.45 <= out["ramulator-hbm2"] <= 0.56
    assert 0.8 <= out["ramulator-hbm2-mop"] <= 0.92
    assert out["dramsim3-hbm2"] == pytest.approx(0.92, abs=0.02)


def test_writes_drain_and_reads_forward_from_the_write_buffer(hbm2):
    inject = np.array([0, 0, 5])
    is_write = np.array([1, 0, 0], np.int8)
    addr = np.array([4096, 4096, 8192])
    res = simulate_requests(hbm2, inject, is_write, addr)
    assert res.kind[1] == 3                 # served from the write buffer
    assert res.done[1] - res.arrive[1] == 1
    assert res.done[2] > res.arrive[2]


def test_closed_page_uses_auto_precharge(hbm2):
    closed = hbm2.model_copy(update={"controller": hbm2.controller.model_copy(update={"page_policy": "closed"})})
    addr = np.arange(2000, dtype=np.int64) * 64
    res = simulate_requests(closed, *saturating(addr))
    assert res.counts[:, 3].sum() == 2000   # RDA
    assert res.counts[:, 0].sum() == pytest.approx(2000, rel=0.01)   # every access activates (a few twice: refresh)
