"""Invariants of a simulation: time bounds, utilisation <= 1, bandwidth <= peak, energy = counts x table,
memoisation changes nothing, and the pieces add up."""

import pytest

from simulator.cli import ROOT
from simulator.engine.executor import Executor
from simulator.engine.stats import energy_table
from simulator.engine.time import to_s
from simulator.lowering.ops import DTYPE_BYTES
from simulator.memory.analytical import sustained_bandwidth
from simulator.run import simulate

H100, LLAMA = ROOT / "hwconfigs/h100.yaml", ROOT / "workloads/llama2-7b.yaml"
PAIRS = [
    (H100, LLAMA, []),
    (H100, LLAMA, ["workload.phase=prefill", "workload.batch=2", "workload.prompt_len=256"]),
    (ROOT / "hwconfigs/a100.yaml", ROOT / "workloads/llama2-13b.yaml", ["workload.batch=8"]),
    (ROOT / "hwconfigs/neupims.yaml", ROOT / "workloads/gpt3-7b-decode.yaml", ["workload.requests=32", "workload.layers=2"]),
    (ROOT / "hwconfigs/npu-only.yaml", ROOT / "workloads/gpt3-7b-decode.yaml", ["workload.requests=8", "workload.layers=2"]),
    (ROOT / "hwconfigs/pim-gpt.yaml", ROOT / "workloads/gpt2-decode.yaml", []),
    (H100, ROOT / "workloads/mixtral-8x7b.yaml", ["workload.layers=4"]),
]


@pytest.fixture(scope="module", params=range(len(PAIRS)), ids=[f"{p[0].stem}-{p[1].stem}" for p in PAIRS])
def run(request):
    hw, wl, sets = PAIRS[request.param]
    return simulate(hw, wl, sets)


@pytest.mark.parametrize("batch", [1, 4])
def test_decode_never_faster_than_weights_over_peak_bandwidth(batch):
    r = simulate(H100, LLAMA, [f"workload.batch={batch}"])
    weight_bytes = r.workload.model.params * DTYPE_BYTES["bf16"]
    peak = r.system.memories["hbm"].peak_bandwidth
    assert r.summary["latency_s"] >= weight_bytes / peak


def test_utilisation_at_most_one(run):
    for unit, u in run.summary["utilisation"].items():
        assert 0.0 <= u <= 1.0 + 1e-9, unit


def test_single_unit_memory_bandwidth_at_most_sustained(run):
    """A memory used by one unit cannot deliver more than its sustained bandwidth over the run."""
    s = run.summary
    users = {spec.memory for spec in run.system.units.values()}
    for name, mem in run.system.memories.items():
        n_users = sum(1 for spec in run.system.units.values() if spec.memory == name)
        if name in users and n_users == 1:
            assert s["bandwidth"][name]["gbps"] * 1e9 <= sustained_bandwidth(mem) * (1 + 1e-9)


@pytest.mark.parametrize("index", range(len(PAIRS)), ids=[f"{p[0].stem}-{p[1].stem}" for p in PAIRS])
def test_bytes_moved_equal_bytes_needed(index):
    """At the analytical level each op moves exactly its operands once (PIM keeps resident operands in banks)."""
    hw, wl, sets = PAIRS[index]
    run = simulate(hw, wl, sets, level="analytical")
    moved = sum(b["bytes"] for n, b in run.summary["bandwidth"].items() if n != "link")
    needed = 0.0
    for p, ev in run.result.timeline():
        if ev.op.op_class == "collective":
            continue
        on_pim = run.system.units[ev.unit].type == "pim"
        needed += ev.op.bytes - (ev.op.weight_bytes if on_pim else 0.0)
    assert moved == pytest.approx(needed, rel=1e-9)


def test_energy_is_counts_times_table_plus_static(run):
    s, sys = run.summary, run.system
    latency = s["latency_s"]
    for unit, spec in sys.units.items():
        counts = {}
        for _, ev in run.result.timeline():
            if ev.unit == unit:
                for a, n in ev.cost.counts.items():
                    counts[a] = counts.get(a, 0.0) + n
        table = energy_table(run.result.models[unit], spec)
        expected = sum(n * table[a] for a, n in counts.items() if a in table)
        expected += spec.static_power * latency
        devices = s["energy_j"]["by_device"]
        assert devices["device.0"]["by_component"][unit] == pytest.approx(expected, rel=1e-9)   # the simulated shard
        assert s["energy_j"]["by_component"][unit] == pytest.approx(
            sum(d["by_component"][unit] for d in devices.values()), rel=1e-12)           # whole system
    assert s["energy_j"]["total"] == pytest.approx(sum(s["energy_j"]["by_component"].values()), rel=1e-12)


def test_latency_is_the_sum_of_blocks(run):
    st = run.summary["stages"]
    total = st["prologue_s"] + st["layers_s"] + st["pipeline_handoff_s"] + st["epilogue_s"]
    assert run.summary["latency_s"] == pytest.approx(total, rel=1e-12)
    assert st["layers_s"] == pytest.approx(st["layer_s"] * run.summary["layers_simulated"], rel=1e-12)


def test_ops_on_one_engine_never_overlap(run):
    """One engine runs one op at a time (an NPU's vector units and systolic arrays are two engines)."""
    for p in run.result.placements:
        spans = sorted((ev.start_ps, ev.end_ps, ev.unit, ev.engine) for ev in p.run.events)
        last_end: dict[tuple[str, str], int] = {}
        for start, end, unit, engine in spans:
            assert start >= last_end.get((unit, engine), 0)
            last_end[(unit, engine)] = end


def test_block_is_at_least_its_critical_path(run):
    """A block cannot finish before its longest dependency chain of op durations."""
    import networkx as nx

    g = Executor(run.schedule).group_stages(run.graph.layer)  # stage-costed PIM attention is one node
    dur = {ev.name: ev.end_ps - ev.start_ps for p in run.result.placements if p.block == "layer" for ev in p.run.events}
    longest = {}
    for n in nx.topological_sort(g):
        longest[n] = dur[n] + max((longest[p] for p in g.predecessors(n)), default=0)
    layer = next(p.run for p in run.result.placements if p.block == "layer")
    assert layer.duration_ps >= max(longest.values())


def test_memoisation_changes_nothing():
    sets = ["workload.layers=3", "workload.batch=4", "workload.implementation=unfused"]
    a = simulate(H100, LLAMA, sets, memoise=True)
    b = simulate(H100, LLAMA, sets, memoise=False)
    sa, sb = a.summary, b.summary
    for key in ("latency_s", "flops", "throughput_tokens_per_s"):
        assert sa[key] == sb[key]
    assert sa["energy_j"] == sb["energy_j"]
    assert sa["bandwidth"] == sb["bandwidth"]
    assert a.result.latency_ps == b.result.latency_ps


def test_time_base_is_integer_picoseconds(run):
    assert isinstance(run.result.latency_ps, int)
    assert to_s(run.result.latency_ps) == run.summary["latency_s"]
    for unit, cycles in run.summary["cycles"].items():
        assert cycles > 0, unit


def test_more_batch_more_throughput_until_compute_bound():
    t = [simulate(H100, LLAMA, [f"workload.batch={b}"]).summary["throughput_tokens_per_s"] for b in (1, 8, 64)]
    assert t[0] < t[1] < t[2]


def test_pipeline_parallel_adds_handoffs():
    r = simulate(ROOT / "hwconfigs/h100.yaml", LLAMA, ["hw.devices=4", "workload.pp=4"])
    assert r.summary["stages"]["pipeline_handoff_s"] > 0
    assert sorted({p.device for p in r.result.placements}) == [0, 1, 2, 3]


def test_neupims_stages_and_commands_in_summary():
    r = simulate(ROOT / "hwconfigs/neupims.yaml", ROOT / "workloads/gpt3-7b-decode.yaml",
                 ["workload.requests=16", "workload.layers=1"])
    st = r.summary["stages"]
    assert {"A", "B", "E"} <= set(st)
    for name in "ABE":
        assert st[name]["cycles"] > 0
        assert 0 <= st[name]["bandwidth_utilisation"]["hbm"] <= 1
    assert st["B"]["pim_cycles"] > 0 and st["A"]["pim_cycles"] == 0
    # the stages tile the layer: their cycles plus exposed communication equal the layer time (1 GHz NPU), to the
    # rounding of each of the six whole-cycle counts
    total = sum(st[n]["cycles"] + st[n]["communication_cycles"] for n in "ABE")
    assert total == pytest.approx(st["layer_s"] * 1e9, abs=3)
    assert isinstance(r.summary["commands"], dict)
