"""The iteration model against the executor: exact mode equals `simulate run` and the full simulation."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.hardware.system import load_system
from simulator.run import simulate
from simulator.serving.step import IterationModel, Shape
from simulator.workload.spec import load_workload

H100, LLAMA = "hwconfigs/h100.yaml", "workloads/llama2-7b.yaml"


@pytest.fixture(scope="module")
def h100():
    return load_system(H100), load_workload(LLAMA)


@pytest.mark.parametrize("sets, shape", [
    (["workload.batch=32", "workload.context_len=700"], Shape((701,) * 32, (), 32)),
    (["workload.phase=prefill", "workload.batch=3", "workload.prompt_len=300"], Shape((), ((300, 300),) * 3, 3)),
])
def test_pure_steps_equal_simulate_run(h100, sets, shape):
    """A pure decode or uniform prefill iteration lowers to the very ops of `simulate run`: same ps, same J."""
    run = simulate(H100, LLAMA, sets)
    for mode in ("exact", "off"):
        cost = IterationModel(*h100, cache=mode).cost(shape)
        assert cost.latency_s == run.summary["latency_s"]
        assert cost.energy_j == pytest.approx(run.summary["energy_j"]["total"], rel=1e-12)


def test_exact_decomposition_equals_full_simulation(h100):
    """Mixed iterations (decodes + chunks of several lengths): serial-block sums equal the discrete-event run."""
    rng = np.random.default_rng(1)
    exact, full = IterationModel(*h100), IterationModel(*h100, cache="off")
    for _ in range(5):
        decode = tuple(int(x) for x in rng.integers(2, 3000, rng.integers(1, 40)))
        chunks = tuple((int(q), int(q + k)) for q, k in zip(rng.integers(1, 400, 3), rng.integers(0, 900, 3)))
        shape = Shape(decode, chunks, len(decode) + 1)
        a, b = exact.cost(shape), full.cost(shape)
        assert a.latency_s == b.latency_s
        assert a.energy_j == pytest.approx(b.energy_j, rel=1e-12)


def test_an_iteration_where_nothing_samples_has_no_lm_head(h100):
    """Only partial prefill chunks: no sequence samples, so no final norm, LM head or sampling."""
    exact, full = IterationModel(*h100), IterationModel(*h100, cache="off")
    partial, sampling = Shape((), ((512, 512),), 0), Shape((), ((512, 512),), 1)
    assert exact.cost(partial).latency_s == full.cost(partial).latency_s
    assert exact.cost(partial).latency_s < exact.cost(sampling).latency_s


def test_key_is_exact(h100):
    """Shapes with the same key (fused attention: count, sum and max of KV lengths) cost the same when fully
    simulated; a different sum costs differently."""
    full = IterationModel(*h100, cache="off")
    a, b = Shape((100, 500, 900), (), 3), Shape((300, 300, 900), (), 3)
    model = IterationModel(*h100)
    assert model.key(a) == model.key(b)
    assert full.cost(a) == full.cost(b)
    assert full.cost(Shape((100, 500, 901), (), 3)).latency_s > full.cost(a).latency_s


def test_overlapping_units_fall_back_to_the_executor():
    """NPU + PIM with per-request attention is not serial: the exact mode runs the executor, equal to 'off'."""
    system = load_system("hwconfigs/neupims.yaml")
    wl = load_workload("workloads/gpt3-7b-decode.yaml", {"layers": 2})
    shape = Shape((130, 400, 77, 1000), ((64, 64),), 5)
    exact, full = IterationModel(system, wl), IterationModel(system, wl, cache="off")
    a, b = exact.cost(shape), full.cost(shape)
    assert a.latency_s == b.latency_s and a.energy_j == pytest.approx(b.energy_j, rel=1e-12)
    assert exact._fixed and all(v is None for v in exact._fixed.values())


def test_interpolating_mode_states_its_error(h100):
    model = IterationModel(*h100, cache="interpolate")
    rng = np.random.default_rng(2)
    for _ in range(64):
        model.cost(Shape(tuple(int(x) for x in rng.integers(2, 3000, 20)), (), 20))
    err = model.interpolation_error()
    assert err["sampled_iterations"] == 4
    assert 0 < err["latency_rel_error_max"] < 0.05


def test_trimming_the_memos_changes_nothing(h100, monkeypatch):
    """The caches start afresh past CACHE_LIMIT entries (bounded memory); costs stay the same."""
    import simulator.serving.step as step

    rng = np.random.default_rng(3)
    shapes = [Shape(tuple(int(x) for x in rng.integers(2, 3000, rng.integers(1, 9))), (), 3) for _ in range(12)]
    plain = [IterationModel(*h100).cost(s) for s in shapes]
    monkeypatch.setattr(step, "CACHE_LIMIT", 4)
    model = IterationModel(*h100)
    assert [model.cost(s) for s in shapes + shapes] == plain + plain
    assert len(model._cache) <= 6


def test_prefill_attention_leaves_a_decode_only_pim_unit():
    """NeuPIMs prefills on its NPU: a chunk's attention runs on the GEMM unit, decode attention on PIM."""
    system = load_system("hwconfigs/neupims.yaml")
    wl = load_workload("workloads/gpt3-7b-decode.yaml", {"layers": 1})
    model = IterationModel(system, wl, cache="off")
    shape = Shape((300, 40), ((32, 32),), 3)
    from simulator.serving.step import lower_iteration

    low_wl = model._workload(shape)
    sched = model._schedule(lower_iteration(low_wl), low_wl)
    units = {(d["op"].kind, dict(d["op"].shape).get("q_len")): sched.unit_of(d["op"])
             for _, d in sched.graph.layer.nodes(data=True) if d["op"].op_class == "attention"}
    assert units == {("attention_qk", 1): "pim", ("attention_sv", 1): "pim",
                     ("attention_qk", 32): system.mapping["gemm"], ("attention_sv", 32): system.mapping["gemm"]}
    assert model.cost(shape).latency_s > 0
