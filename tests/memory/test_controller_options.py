"""Controller options (scheduler, page policy, refresh) and the compiled kernels against plain Python."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.memory.dram import command, kernel_bank_queues, kernel_shared_buffers
from simulator.memory.dram.timing import ACT, PRE, RDA, REF

from .conftest import preset, saturating


def with_controller(spec, **changes):
    return spec.model_copy(update={"controller": spec.controller.model_copy(update=changes)})


def with_timing(spec, **changes):
    return spec.model_copy(update={"timing": spec.timing.model_copy(update=changes)})


def run(spec, addr):
    return command.simulate_requests(spec, *saturating(addr))


def random_lines(spec, n, seed=3):
    tx = spec.organisation.tx_bytes
    return np.random.default_rng(seed).integers(0, (8 << 30) // tx, n) * tx


@pytest.mark.parametrize("name", ["dramsim3-hbm2", "ramulator-hbm2"])
def test_fcfs_is_never_faster_than_fr_fcfs(name):
    spec = preset(name)
    tx = spec.organisation.tx_bytes
    # two interleaved streams to the same banks: FR-FCFS groups the row hits
    a = np.arange(6000) * tx
    addr = np.ravel(np.column_stack([a, a + (1 << 24)]))
    fr = run(spec, addr).end
    fc = run(with_controller(spec, scheduler="fcfs"), addr).end
    assert fc >= fr


def test_capped_open_closes_rows_after_the_cap(hbm2):
    spec = with_controller(hbm2, page_policy="capped-open", row_hit_cap=4)
    n = 40                                          # one row, one access every 200 cycles: nothing else waits
    res = command.simulate_requests(spec, np.arange(n) * 200, np.zeros(n, np.int8), (np.arange(n) % 32) * 64)
    # the 4th access of each activation auto-precharges (a refresh may close one row before its 4th access)
    assert n // 4 - 2 <= res.counts[:, RDA].sum() <= n // 4
    assert res.counts[:, ACT].sum() <= n // 4 + res.counts[:, REF].sum()
    open_page = command.simulate_requests(hbm2, np.arange(n) * 200, np.zeros(n, np.int8), (np.arange(n) % 32) * 64)
    assert open_page.counts[:, ACT].sum() <= 1 + open_page.counts[:, REF].sum()


def test_per_bank_refresh_refreshes_banks_one_at_a_time(hbm2):
    spec = with_timing(with_controller(hbm2, refresh="per-bank"), tRFCpb=90, tREFIpb=244)
    res = run(spec, random_lines(spec, 20000))
    per_channel_refs = res.counts[:, REF].sum() / hbm2.organisation.channels
    assert per_channel_refs == pytest.approx(res.end / 244, rel=0.05)
    base = run(hbm2, random_lines(hbm2, 20000))
    assert res.end < 1.1 * base.end


def test_no_refresh_is_faster(hbm2):
    addr = random_lines(hbm2, 20000)
    assert run(with_controller(hbm2, refresh="none"), addr).end < run(hbm2, addr).end


def test_single_issue_is_at_most_one_command_per_cycle(hbm2):
    res = run(with_controller(hbm2, dual_command=False), np.arange(20000) * 64)
    assert (res.counts.sum(axis=1) <= res.end).all()
    dual = run(hbm2, np.arange(20000) * 64)
    assert dual.end <= res.end


@pytest.mark.parametrize("name, module", [("dramsim3-hbm2", kernel_bank_queues),
                                          ("ramulator-hbm2", kernel_shared_buffers)])
def test_compiled_kernel_equals_plain_python(name, module, monkeypatch):
    if not hasattr(module.run, "py_func"):
        pytest.skip("numba is not installed: the kernels already run as plain Python")
    spec = preset(name)
    rng = np.random.default_rng(4)
    n = 1200
    addr = rng.integers(0, 1 << 20, n) * spec.organisation.tx_bytes
    inject = np.sort(rng.integers(0, 3000, n))
    is_write = (rng.random(n) < 0.4).astype(np.int8)
    compiled = command.simulate_requests(spec, inject, is_write, addr)
    monkeypatch.setattr(module, "run", module.run.py_func)
    for helper in ("_timing_update", "_rank_update", "_faw_ready", "_faw_push", "_required", "_ready_time",
                   "_pre_allowed", "_win_ready", "_cmd_ready", "_best", "_remove"):
        for mod in (kernel_bank_queues, kernel_shared_buffers):
            f = getattr(mod, helper, None)
            if f is not None and hasattr(f, "py_func"):
                monkeypatch.setattr(mod, helper, f.py_func)
    plain = command.simulate_requests(spec, inject, is_write, addr)
    assert plain.end == compiled.end
    assert np.array_equal(plain.done, compiled.done)
    assert np.array_equal(plain.counts, compiled.counts)
    assert res_kinds(plain) == res_kinds(compiled)
    assert compiled.counts[:, ACT].sum() > 0 and compiled.counts[:, PRE].sum() > 0


def res_kinds(res):
    return np.bincount(res.kind[res.kind >= 0]).tolist()


def test_shared_buffers_coalesce_writes_and_forward_reads():
    spec = preset("ramulator-hbm2")
    inject = np.array([0, 0, 0, 2000])
    is_write = np.array([1, 1, 0, 0], np.int8)
    addr = np.array([4096, 4096, 4096, (1 << 16) + 32])   # the last: another channel, a closed bank
    res = command.simulate_requests(spec, inject, is_write, addr)
    assert res.counts[:, 2].sum() == 1              # the second write to 4096 was absorbed
    assert res.kind[2] == 3 and res.done[2] - res.arrive[2] == 1
    # a lone read to a closed bank: scheduled from the next cycle, ACT + tRCD + CL + tBURST
    tm = spec.timing
    assert res.done[3] - res.arrive[3] == 1 + tm.tRCD + tm.CL + 2


def test_hbm3_column_commands_and_act_on_rising_edges():
    spec = preset("ramulator-hbm3")
    rng = np.random.default_rng(6)
    addr = rng.integers(0, 1 << 27, 3000) * 32
    res = command.simulate_requests(spec, *saturating(addr))
    assert (res.issue % 2 == 1).all()
