"""NeuPIMs sub-batch interleaving (workload `schedule.sub_batch_interleaving`): how the halves are formed, how a
model's time composes from the two-layer block, and that the overlap and the re-read weights show up."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.cli import ROOT
from simulator.lowering.transformer import sub_batches


def _run(layers: int, interleave: bool, requests: int = 64):
    from simulator.run import simulate

    return simulate(ROOT / "hwconfigs/neupims.yaml", ROOT / "workloads/gpt3-7b-decode.yaml",
                    [f"workload.requests={requests}", f"workload.layers={layers}",
                     f"workload.schedule.sub_batch_interleaving={str(interleave).lower()}"]).summary


@pytest.fixture(scope="module")
def runs():
    return {(n, sb): _run(n, sb) for n in (2, 3) for sb in (False, True)}


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 7), min_size=2, max_size=64))
def test_sub_batches_split_every_channel_in_halves(channels):
    ch = np.array(channels)
    first, second = sub_batches(np.ones(len(ch)), ch)
    assert sorted(np.r_[first, second].tolist()) == list(range(len(ch)))
    for c in np.unique(ch):
        a, b = (ch[first] == c).sum(), (ch[second] == c).sum()
        assert a - b in (0, 1)                       # the first half takes the odd one
        mine = np.flatnonzero(ch == c)
        assert set(mine[:a].tolist()) <= set(first.tolist())   # in trace order


def test_model_time_composes_from_the_two_layer_block(runs):
    """A + B + (C + D)(N - 1) + E + F, as the artifact composes it; the layers' time is the stages' sum plus the
    communication the stage cycles leave out."""
    two, three = runs[(2, True)]["stages"], runs[(3, True)]["stages"]
    steady_s = three["layers_s"] - two["layers_s"]
    cyc = {k: two[k]["cycles"] + two[k]["communication_cycles"] for k in "ABCDEF"}
    assert steady_s * 1e9 == pytest.approx(cyc["C"] + cyc["D"], rel=1e-6)      # 1 GHz NPU clock
    assert two["layers_s"] * 1e9 == pytest.approx(sum(cyc.values()), rel=1e-6)
    assert three["layer_s"] == two["layer_s"]     # the block is simulated once


def test_attention_overlaps_the_other_half_gemms(runs):
    stages = runs[(2, True)]["stages"]
    assert stages["A"]["pim_cycles"] == 0 and stages["F"]["pim_cycles"] == 0
    for k in "BCDE":                                      # one half's MHA under the other half's GEMMs
        assert 0 < stages[k]["pim_cycles"] <= stages[k]["cycles"] + stages[k]["communication_cycles"]
    assert runs[(3, True)]["latency_s"] < runs[(3, False)]["latency_s"]


def test_each_half_rereads_the_layer_weights(runs):
    """GPT-3 7B at TP 4: 12 x 4096^2 / 4 FP16 weights per layer and device, read once more per layer."""
    extra = runs[(3, True)]["bandwidth"]["hbm"]["bytes"] - runs[(3, False)]["bandwidth"]["hbm"]["bytes"]
    assert extra == pytest.approx(3 * 12 * 4096 ** 2 / 4 * 2, rel=0.05)


def test_pim_commands_do_not_depend_on_the_schedule(runs):
    a, b = runs[(3, False)]["commands"], runs[(3, True)]["commands"]
    for name in ("GWRITE", "G_ACT", "COMP", "READRES"):
        assert b[name] == pytest.approx(a[name], rel=1e-9)


def test_pim_activity_counts_the_normal_reads_it_shares_the_banks_with(runs):
    """Naive: the NPU waits for the attention, so no normal read overlaps PIM work; interleaved: the other half's
    weights stream while PIM computes. Busiest channel <= PIM busy time; 32 channels."""
    naive, inter = runs[(3, False)]["pim"]["pim"], runs[(3, True)]["pim"]["pim"]
    assert naive["normal_reads_during_pim"] == 0
    assert inter["normal_reads_during_pim"] > 1e6
    for p in (naive, inter):
        assert len(p["channel_busy_cycles"]) == 32
        assert max(p["channel_busy_cycles"]) <= p["busy_cycles"] * (1 + 1e-9)


def test_contention_stretches_only_overlapped_work(runs, monkeypatch):
    """Naive: PIM never overlaps NPU streams, nothing is stretched. Interleaved: the overlapping ops are, by at most
    1 / read_share at the data-bus limit, and the layer is slower than without contention."""
    from simulator.engine import executor

    def stretched(summary_key):
        from simulator.run import simulate

        n, sb = summary_key
        r = simulate(ROOT / "hwconfigs/neupims.yaml", ROOT / "workloads/gpt3-7b-decode.yaml",
                     ["workload.requests=64", f"workload.layers={n}",
                      f"workload.schedule.sub_batch_interleaving={str(sb).lower()}"])
        return r, [ev.cost.detail["contention_factor"] for p in r.result.placements for ev in p.run.events
                   if "contention_factor" in ev.cost.detail]

    _, naive = stretched((2, False))
    assert naive == []
    run, factors = stretched((2, True))
    share = run.result.models["pim"].contention.read_share.min()
    assert factors and all(1.0 < f <= 1.0 / share + 1e-9 for f in factors)
    monkeypatch.setattr(executor, "CONTENTION_PASSES", 0)
    _, none = stretched((2, True))
    assert none == []
    assert runs[(2, True)]["latency_s"] > _run(2, True)["latency_s"]
