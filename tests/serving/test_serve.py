"""Serving acceptance: static batching against `simulate run`, Little's law, TTFT at low load, replay,
cache on/off, preemption (recompute and swap) without loss or duplication, disaggregation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulator.run import simulate
from simulator.serving.api import serve
from simulator.serving.kv import kv_bytes_per_token, weight_bytes
from simulator.serving.requests import Stream
from simulator.hardware.system import load_system
from simulator.workload.spec import load_workload

H100, LLAMA = "hwconfigs/h100.yaml", "workloads/llama2-7b.yaml"


def burst(prompts, outputs, at=0.0) -> Stream:
    n = len(prompts)
    return Stream(np.full(n, at), np.asarray(prompts, dtype=np.int64), np.asarray(outputs, dtype=np.int64))


def test_static_batch_equals_prefill_plus_decode_steps():
    """B requests (prompts padded to the longest) take prefill + the decode steps of `simulate run`, exactly."""
    prompts, outputs = [100, 180, 150], [3, 5, 2]
    res = serve(H100, LLAMA, scheduler_name="static", stream=burst(prompts, outputs))
    p, b = max(prompts), len(prompts)
    expected = simulate(H100, LLAMA, ["workload.phase=prefill", f"workload.batch={b}",
                                      f"workload.prompt_len={p}"]).summary["latency_s"]
    first_token = expected
    for j in range(1, max(outputs)):       # decode step j: context p + j - 1 cached tokens
        expected += simulate(H100, LLAMA, [f"workload.batch={b}",
                                           f"workload.context_len={p + j - 1}"]).summary["latency_s"]
    assert res.requests["first_token_s"].tolist() == pytest.approx([first_token] * b, rel=1e-12)
    assert res.requests["finish_s"].max() == pytest.approx(expected, rel=1e-12)
    assert res.iterations["latency_s"].sum() == pytest.approx(expected, rel=1e-12)


def test_littles_law_on_a_steady_run():
    res = serve(H100, LLAMA, rate=30, requests=1500, lengths="fixed:64:16", seed=3)
    law = res.summary["littles_law"]
    assert law["ratio"] == pytest.approx(1.0, abs=0.02)


def test_ttft_at_low_load_is_the_prefill_time():
    res = serve(H100, LLAMA, rate=0.01, requests=5, lengths="fixed:256:4", seed=1)
    prefill = simulate(H100, LLAMA, ["workload.phase=prefill", "workload.batch=1",
                                     "workload.prompt_len=256"]).summary["latency_s"]
    assert res.requests["ttft_s"].to_numpy() == pytest.approx(np.full(5, prefill), rel=1e-9)
    assert (res.requests["queue_s"] == 0).all()


def test_same_seed_same_metrics_and_cache_off_changes_nothing():
    kw = dict(rate=8, requests=40, scheduler_name="sarathi", seed=5, slo="ttft=100ms,tpot=20ms")
    a = serve(H100, LLAMA, **kw)
    b = serve(H100, LLAMA, **kw)
    off = serve(H100, LLAMA, cache="off", **kw)
    pd.testing.assert_frame_equal(a.requests, b.requests)
    pd.testing.assert_frame_equal(a.requests, off.requests, rtol=1e-12)
    assert a.summary["energy"]["total_j"] == pytest.approx(off.summary["energy"]["total_j"], rel=1e-12)
    cache = a.summary["cache"]["serve"]
    assert cache["hits"] + cache["misses"] == len(a.iterations)
    c = serve(H100, LLAMA, **{**kw, "seed": 6})
    assert not np.allclose(a.requests["arrival_s"], c.requests["arrival_s"])


def tight_memory(tokens: int) -> str:
    """serve.memory_fraction leaving about `tokens` of KV after the weights on one H100."""
    wl, system = load_workload(LLAMA), load_system(H100)
    need = weight_bytes(wl) + tokens * kv_bytes_per_token(wl)
    return f"serve.memory_fraction={need / system.memory_capacity:.6f}"


@pytest.mark.parametrize("mode", ["recompute", "swap"])
@pytest.mark.parametrize("policy", ["vllm", "sarathi"])
def test_preemption_loses_and_duplicates_nothing(mode, policy):
    stream = burst([200] * 30, [60] * 30)
    res = serve(H100, LLAMA, [tight_memory(2000), f"serve.preemption={mode}"], scheduler_name=policy,
                stream=stream)
    req, it = res.requests, res.iterations
    assert res.summary["preemptions"] > 0
    if mode == "swap":
        assert res.summary["swaps"] > 0 and it["swap_blocks"].sum() > 0
    assert req["id"].is_unique and len(req) == 30 and req["finish_s"].notna().all()
    assert it["emitted"].sum() == req["output_len"].sum()     # every token once
    assert (it["kv_blocks_used"] <= it["kv_blocks"]).all()
    assert (req["first_token_s"] <= req["finish_s"]).all()


def test_disaggregation_sends_every_kv_cache():
    res = serve(H100, LLAMA, ["serve.disaggregation.prefill=1", "serve.disaggregation.decode=1"], rate=10,
                requests=60, seed=2)
    req, tr, it = res.requests, res.transfers, res.iterations
    multi = req[req["output_len"] > 1]
    assert sorted(tr["request"]) == sorted(multi["id"])
    assert (multi["kv_arrive_s"] > multi["first_token_s"]).all()      # sent after the prefill's first token
    assert set(it["group"]) == {"prefill", "decode"}
    assert set(it.loc[it["group"] == "prefill", "kind"]) == {"prefill"}
    assert set(it.loc[it["group"] == "decode", "kind"]) == {"decode"}
    assert it["emitted"].sum() == req["output_len"].sum()
    per_token = kv_bytes_per_token(load_workload(LLAMA))
    assert tr["bytes"].to_numpy() == pytest.approx(req.set_index("id").loc[tr["request"], "prompt_len"] * per_token)


def test_replaying_a_run_as_a_trace_gives_the_same_metrics(tmp_path):
    """A run's requests written as `arrival_s,prompt_len,output_len` and replayed serve identically."""
    a = serve(H100, LLAMA, rate=6, requests=25, seed=9)
    trace = tmp_path / "trace.csv"
    a.requests[["arrival_s", "prompt_len", "output_len"]].to_csv(
        trace, index=False, float_format="%.17g")
    b = serve(H100, LLAMA, trace=trace)
    pd.testing.assert_frame_equal(a.requests, b.requests)
    assert a.summary["energy"] == b.summary["energy"]
