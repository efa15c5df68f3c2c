"""Parallel plans: a step's MACs are the model's whatever tp/pp/dp/ep; the pipeline schedule fills and drains;
data-parallel replicas and expert-parallel MoE layers; whole-system energy."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.cli import ROOT
from simulator.engine.executor import pipeline_starts
from simulator.lowering.transformer import expert_loads
from simulator.mapping.plan import plan_graphs
from simulator.run import simulate
from simulator.workload.spec import load_workload

LLAMA, MIXTRAL = ROOT / "workloads/llama2-7b.yaml", ROOT / "workloads/mixtral-8x7b.yaml"
H100 = ROOT / "hwconfigs/h100.yaml"
MATRIX = ("gemm", "attention")


def macs(path, **overrides) -> float:
    return plan_graphs(load_workload(path, overrides)).total_flops(MATRIX) / 2


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tp=st.sampled_from([1, 2, 4, 8]), pp=st.sampled_from([1, 2, 4]), dp=st.sampled_from([1, 2, 3]),
       mb=st.sampled_from([1, 2]), batch=st.integers(6, 24), phase=st.sampled_from(["decode", "prefill"]))
def test_dense_step_macs_are_the_models_whatever_the_plan(tp, pp, dp, mb, batch, phase):
    """Sum over every device of the plan of its GEMM and attention MACs = the single-device step's: TP splits
    heads, MLP and vocabulary, PP the layers, DP and micro-batches the requests."""
    base = dict(batch=batch, phase=phase, layers=4, **({"prompt_len": 64} if phase == "prefill" else {}))
    one = macs(LLAMA, **base)
    assert macs(LLAMA, **base, parallel={"tp": tp, "pp": pp, "dp": dp, "microbatches": mb}) == pytest.approx(
        one, rel=1e-12)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tp=st.sampled_from([1, 2, 4]), ep=st.sampled_from([1, 2, 4, 8]), batch=st.integers(8, 40),
       skew=st.sampled_from([0.0, 0.5, 2.0]))
def test_moe_step_macs_are_the_models_whatever_the_plan(tp, ep, batch, skew):
    """With expert parallelism each expert group routes its tokens' top-k copies to the experts; summed over the
    group the expert MACs are tokens x k x one expert's. The router is replicated on every tensor rank (as in
    Megatron), so tp adds (tp - 1) routers."""
    layers, dp = 2, 8
    w = load_workload(MIXTRAL, {"layers": layers, "batch": batch})
    m = w.model
    one = macs(MIXTRAL, layers=layers, batch=batch)
    router = layers * w.new_tokens * m.moe.experts * m.hidden
    got = macs(MIXTRAL, layers=layers, batch=batch,
               parallel={"tp": tp, "dp": dp, "ep": ep, "expert_skew": skew})
    assert got == pytest.approx(one + (tp - 1) * router, rel=1e-12)


@given(tokens=st.integers(1, 300), experts=st.sampled_from([4, 8, 16, 64]), k=st.integers(1, 4),
       skew=st.floats(0, 3))
def test_expert_loads_route_every_token_copy_once(tokens, experts, k, skew):
    k = min(k, experts)
    loads = expert_loads(tokens, experts, k, skew)
    assert loads.sum() == tokens * k and loads.max() <= tokens and loads.min() >= 0


def test_skewed_routing_loads_the_first_experts_more():
    uniform, skewed = expert_loads(64, 8, 2), expert_loads(64, 8, 2, 1.0)
    assert np.ptp(uniform) <= 1 and skewed[0] > uniform[0] and np.all(np.diff(skewed) <= 0)


def test_pipeline_starts_fill_and_drain():
    """Equal stages of D with no handoff: m micro-batches through p stages take (p + m - 1) D; stage s starts
    micro-batch j at (s + j) D."""
    p, m, d = 4, 3, 10
    starts = pipeline_starts([[d] * m for _ in range(p)], [[0] * (p - 1)] * m)
    assert starts == [[(s + j) * d for j in range(m)] for s in range(p)]
    handoff = pipeline_starts([[d] * m for _ in range(p)], [[2] * (p - 1)] * m)
    assert handoff[-1][-1] + d == (p + m - 1) * d + (p - 1) * 2


def run(path, *sets):
    return simulate(H100, path, ["hw.level=analytical", *sets])


def test_microbatched_pipeline_runs_stages_concurrently():
    """PP 4 x 4 micro-batches: the last stage's first micro-batch starts before the first stage's last ends (the
    trace shows the fill), and the step is shorter than the four micro-batches one after another."""
    sets = ["hw.devices=4", "workload.batch=8", "workload.layers=8", "workload.parallel.pp=4"]
    piped = run(LLAMA, *sets, "workload.parallel.microbatches=4")
    stage_span = {}
    for p in piped.result.placements:
        if p.block == "layer":
            lo, hi = stage_span.get((p.device, p.micro), (p.start_ps, 0))
            stage_span[(p.device, p.micro)] = (min(lo, p.start_ps), max(hi, p.start_ps + p.run.duration_ps))
    assert stage_span[(3, 0)][0] < stage_span[(0, 3)][1]
    serial = 4 * run(LLAMA, *sets[:-1], "workload.batch=2", "workload.parallel.pp=4").summary["latency_s"]
    assert piped.summary["latency_s"] < serial
    assert piped.summary["macs"] == pytest.approx(run(LLAMA, *sets).summary["macs"], rel=1e-12)


def test_data_parallel_replicas_take_a_share_of_the_batch():
    """DP 2 of batch 8: the latency of batch 4 on one device; energy of two such devices; tokens of the batch."""
    dp = run(LLAMA, "hw.devices=2", "workload.batch=8", "workload.parallel.dp=2").summary
    half = run(LLAMA, "workload.batch=4").summary
    assert dp["latency_s"] == pytest.approx(half["latency_s"], rel=1e-12)
    assert dp["energy_j"]["total"] == pytest.approx(2 * half["energy_j"]["total"], rel=1e-9)
    assert dp["tokens"]["generated"] == 8 and dp["devices_used"] == 2


def test_expert_parallel_emits_and_costs_the_all_to_all():
    r = run(MIXTRAL, "hw.devices=4", "workload.parallel.dp=4", "workload.parallel.ep=4")
    s, ops = r.summary, r.ops
    a2a = ops[ops["kind"] == "all_to_all"]
    assert set(a2a["op"]) == {"moe_dispatch", "moe_combine"} and (a2a["time_us"] > 0).all()
    assert s["energy_j"]["by_component"]["link"] > 0


def test_idle_devices_count_their_static_power():
    """One device of eight used: the other seven add static power and memory standby over the step."""
    one = run(LLAMA).summary
    eight = run(LLAMA, "hw.devices=8").summary
    idle = eight["energy_j"]["by_device"]["device.7"]["total"]
    assert idle > 0 and eight["energy_j"]["total"] == pytest.approx(one["energy_j"]["total"] + 7 * idle, rel=1e-9)


def test_tp8_energy_per_token_is_at_least_tp1_compute_energy():
    """Whole-system accounting: eight shards' energy cannot undercut one device's compute energy of the step."""
    sets = ["workload.batch=1", "workload.layers=8"]
    hw, wl = ROOT / "hwconfigs/h200.yaml", ROOT / "workloads/llama2-70b-tp8.yaml"   # 70B bf16 fits one H200
    tp1 = simulate(hw, wl, [*sets, "workload.tp=1"]).summary
    tp8 = simulate(hw, wl, [*sets, "hw.devices=8"]).summary
    assert tp8["macs"] == pytest.approx(tp1["macs"], rel=1e-12)
    assert tp8["energy_per_token_j"] >= tp1["energy_j"]["by_component"]["gpu"] / tp1["tokens"]["generated"]


@pytest.mark.parametrize("workload,sets,needles", [
    (LLAMA, ["workload.batch=2", "workload.parallel.dp=2"],
     ["parallel: tp x pp x dp = 2 devices but h100 has 1", "allowed: at most 1"]),
    (MIXTRAL, ["hw.devices=3", "workload.parallel.dp=3", "workload.parallel.ep=3"],
     ["parallel.ep: ep=3 must divide the 8 experts and dp=3", "allowed: a common divisor"]),
    (LLAMA, ["hw.devices=2", "workload.batch=2", "workload.parallel.dp=2", "workload.parallel.ep=2"],
     ["parallel.ep: ep=2 needs a mixture-of-experts model", "allowed: ep: 1"]),
    (LLAMA, ["hw.devices=4", "workload.batch=3", "workload.parallel.dp=4"],
     ["parallel: dp x microbatches = 4 exceeds the 3 requests", "allowed: at most 3"]),
])
def test_bad_plans_exit_2_naming_the_key(cli, workload, sets, needles):
    args = ["run", H100, workload]
    for s in sets:
        args += ["--set", s]
    code, out, err = cli(*args)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, (needle, err)


def test_conflicting_tp_settings_are_an_error(cli, tmp_path):
    wl = tmp_path / "wl.yaml"
    wl.write_text(LLAMA.read_text().replace("tp: 1", "tp: 2\nparallel: {tp: 4}"))
    code, _, err = cli("run", H100, wl)
    assert code == 2 and "tp=2 and parallel.tp=4 disagree" in err and err.count("\n") == 1, err


def test_congestion_aware_groups_share_a_trunk():
    """TP 2 x DP 2 with both pairs across one trunk: congestion-aware, the two all-reduces share it and each takes
    longer; one pair alone (same message: half the batch) is as fast aware as unaware (its two flows go opposite
    ways)."""
    trunk = ROOT / "tests/data/trunk-4xh100.yaml"
    sets = ["workload.batch=64", "workload.layers=1", "workload.parallel={tp: 2, dp: 2}"]

    def allreduce(run):
        return max(ev.end_ps - ev.start_ps for _, ev in run.result.timeline() if ev.op.kind == "all_reduce")

    alone = allreduce(simulate(trunk, LLAMA, sets))
    shared = allreduce(simulate(trunk, LLAMA, [*sets, "workload.schedule.congestion_aware=true"]))
    one_group = allreduce(simulate(trunk, LLAMA, ["workload.batch=32", "workload.layers=1", "workload.parallel={tp: 2}",
                                                   "workload.schedule.congestion_aware=true"]))
    assert one_group == pytest.approx(alone, rel=0.01)
    assert shared > 1.5 * alone


def test_concurrent_all_reduces_share_the_link_on_the_fabric():
    """Sub-batch interleaving: congestion-unaware, the link runs one all-reduce at a time (a queue); congestion-
    aware, the two halves' all-reduces run at once on the Fabric, sharing the links, each slower than alone, the
    bytes and link energy unchanged."""
    base = ["workload.requests=256", "workload.layers=2", "workload.schedule.sub_batch_interleaving=true"]
    runs = {aware: simulate(ROOT / "hwconfigs/neupims.yaml", ROOT / "workloads/gpt3-7b-decode.yaml",
                            [*base, f"workload.schedule.congestion_aware={aware}"]) for aware in ("false", "true")}

    def collectives(run):
        return sorted((ev.start_ps, ev.end_ps) for _, ev in run.result.timeline() if ev.op.op_class == "collective")

    def overlaps(spans):
        return sum(1 for a, b in zip(spans, spans[1:]) if b[0] < a[1])

    queue, shared = collectives(runs["false"]), collectives(runs["true"])
    assert all(isinstance(t, int) for span in shared for t in span)     # the Fabric keeps integer picoseconds
    assert isinstance(runs["true"].result.latency_ps, int)
    assert overlaps(queue) == 0 and overlaps(shared) > 0
    assert max(e - s for s, e in shared) > max(e - s for s, e in queue)
    e0, e1 = (runs[a].summary["energy_j"]["by_component"]["link"] for a in ("false", "true"))
    assert e1 == pytest.approx(e0, rel=1e-12)
