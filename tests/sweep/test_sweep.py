"""sweep(): one flat row per point, infeasible points kept with their reason, results cached on disk and read
back, and the same DataFrame from this process, local processes and a Dask LocalCluster."""

import pandas as pd
import pytest

from simulator.cache import cache_dir
from simulator.sweep import sweep
from simulator.sweep.api import Evaluator
from tests.sweep.conftest import GPT3, H100, LLAMA, NEUPIMS

SPACE = {"workload.batch": [1, 16, 512], "hw.device.units.gpu.sms": [66, 132]}
KW = dict(sets=["workload.context_len=2048"], level="analytical", progress=False)


def test_rows_are_flat_and_physical_and_infeasible_points_keep_their_reason():
    df = sweep(SPACE, H100, LLAMA, executor="serial", **KW)
    assert list(df["point"]) == list(range(6)) and list(df.columns[:3]) == ["point", *SPACE]
    assert not any(isinstance(v, (dict, list)) for v in df.iloc[0])
    bad = df[~df["feasible"]]
    assert set(bad["workload.batch"]) == {512}               # 512 x 2k tokens of KV do not fit in 80 GB
    assert bad["reason"].str.contains("memory|fit|capacity", case=False).all()
    ok = df[df["feasible"]]
    tokens = ok["tokens.generated"]
    assert (abs(ok["throughput_tokens_per_s"] - tokens / ok["latency_s"]) <= 1e-9 * ok["throughput_tokens_per_s"]).all()
    assert (abs(ok["perf_per_mm2"] * ok["area_mm2.total"] - ok["throughput_tokens_per_s"]) < 1e-6).all()
    assert (abs(ok["power_w"] * ok["latency_s"] - ok["energy_j.total"]) < 1e-12).all()
    half = ok.set_index(["workload.batch", "hw.device.units.gpu.sms"])["area_mm2.total"]
    assert half[(1, 66)] == pytest.approx(half[(1, 132)] / 2)     # area scales with SMs


def test_results_come_back_from_the_disk_cache(cache_root):
    first = sweep(SPACE, H100, LLAMA, executor="serial", **KW)
    assert cache_dir() == cache_root
    assert len(list((cache_root / "sweep").rglob("*.json"))) == 6

    class Fail:
        def run(self, tasks):
            assert not tasks, "a cached point was simulated again"
            return iter(())

        def close(self):
            pass

    with Evaluator(H100, LLAMA, sets=KW["sets"], level="analytical", executor="serial", progress=False) as ev:
        ev.runner = Fail()
        from simulator.sweep.api import as_space, table
        pts = as_space(SPACE).points()
        again = table(pts, ev.rows(pts))
    pd.testing.assert_frame_equal(first, again)


def test_an_interrupted_sweep_resumes_where_it_stopped(cache_root):
    sweep({"workload.batch": [1, 16], "hw.device.units.gpu.sms": [66, 132]}, H100, LLAMA, executor="serial", **KW)
    done = set((cache_root / "sweep").rglob("*.json"))
    full = sweep(SPACE, H100, LLAMA, executor="serial", **KW)
    assert len(set((cache_root / "sweep").rglob("*.json")) - done) == 2     # only the two new points ran
    pd.testing.assert_frame_equal(full, sweep(SPACE, H100, LLAMA, executor="serial", cache=False, **KW))


def test_local_processes_and_a_dask_local_cluster_give_identical_frames():
    distributed = pytest.importorskip("distributed")
    space = {"workload.requests": [8, 24], "hw.device.units.pim.macs_per_bank": [8, 16]}
    kw = dict(sets=["workload.layers=1"], progress=False, cache=False,
              objectives={"throughput_tokens_per_s": "max", "area_mm2.total": "min"})
    local = sweep(space, NEUPIMS, GPT3, executor="local", workers=2, **kw)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        dask = sweep(space, NEUPIMS, GPT3, executor=client, **kw)
        by_address = sweep(space, NEUPIMS, GPT3, executor=cluster.scheduler_address, **kw)
    pd.testing.assert_frame_equal(local, dask)
    pd.testing.assert_frame_equal(local, by_address)
    serial = sweep(space, NEUPIMS, GPT3, executor="serial", **kw)
    pd.testing.assert_frame_equal(local, serial)
    assert local["feasible"].all() and local["pareto"].any()
    # more PIM MACs per bank: more PIM logic area, never a slower layer
    g = local.set_index(["workload.requests", "hw.device.units.pim.macs_per_bank"])
    for n in (8, 24):
        pim = g["area_mm2.by_component.pim"]
        assert pim[(n, 16)] == pytest.approx(2 * pim[(n, 8)])
        assert g.at[(n, 16), "latency_s"] <= g.at[(n, 8), "latency_s"] * (1 + 1e-9)


def test_the_cache_never_lands_in_the_current_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("XPUSIM_CACHE")
    monkeypatch.chdir(tmp_path)
    assert tmp_path not in cache_dir().parents and cache_dir() != tmp_path
    assert "xpusim" in str(cache_dir())


def test_keys_follow_the_resolved_inputs_and_the_code(monkeypatch):
    from simulator import cache
    from simulator.sweep.point import Task, key

    base = Task(str(H100), str(LLAMA), ("workload.batch=4",), "analytical")
    same = Task(str(H100), str(LLAMA), ("workload.batch=4", "hw.devices=1"), "analytical")   # the file's value
    assert key(base) == key(same)
    assert key(base) != key(Task(str(H100), str(LLAMA), ("workload.batch=8",), "analytical"))
    assert key(base) != key(Task(str(H100), str(LLAMA), ("workload.batch=4",), "transaction"))
    assert key(Task(str(H100), str(LLAMA), ("workload.batchh=4",), None)) is None     # unresolvable: not cached
    before = key(base)
    monkeypatch.setattr("simulator.sweep.point.code_version", lambda: cache.code_version() + "-changed")
    assert key(base) != before                                                          # new code, new key
