"""PIM model: command timing on the DRAM table, row-buffer modes, mapping counts and the NeuPIMs stage-B calibration.

Calibration figures: ../shared/reference/neupims/README.md (GPT-3 7B, TP 4, one layer, first 16 rows of the
clb-0 trace, dual row buffer, sub-batch off): stage B 63 869 cycles, COMP 65 280, GWRITE 336.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from simulator.config.spec import validate
from simulator.hardware.system import load_system
from simulator.lowering.builders import attention_request, gemm
from simulator.memory.loader import load_memory_spec
from simulator.pim import mapping
from simulator.pim.model import PimModel, make_model
from simulator.pim.spec import PimSpec
from simulator.pim.timeline import channel_time, mixed_cycles
from simulator.workload.trace import read_trace

ROOT = Path(__file__).resolve().parents[2]
TRACES = ROOT / "workloads" / "traces"


@pytest.fixture(scope="module")
def neupims():
    system = load_system(ROOT / "hwconfigs" / "neupims.yaml")
    return make_model("pim", system.units["pim"], system.memories["hbm"])


def _requests(n: int, trace: str = "clb", heads: int = 8):
    seq, ch = read_trace(TRACES / f"share-gpt2-bs512-ms7B-tp4-{trace}-0.csv", limit=n)
    ops = []
    for i, length in enumerate(seq.tolist()):
        qk, _, sv = attention_request("l0.attn", i, length, 1, False, heads=heads, kv_heads=heads, head_dim=128,
                                      act="fp16", kv="fp16")
        ops += [qk, sv]
    return seq, ch, ops


def test_gwrite_is_96_cycles(neupims):
    t = neupims.timing
    assert t.gwrite == 96 == 32 * (t.ccd_s + t.ccd_l)
    prog = mapping.concat([mapping._program([mapping.GWRITE], [0], [0], [0])])
    assert channel_time(prog, t, refresh=False).end == 96


def test_comp_spacing_follows_the_timing_table(neupims):
    t = neupims.timing
    assert t.comp_spacing == max(t.burst, t.ccd_s) == 2
    one = mapping._program([mapping.ROW], [1], [32], [32])
    two = mapping._program([mapping.ROW], [2], [32], [64])
    gap = channel_time(two, t, refresh=False).end - channel_time(one, t, refresh=False).end
    assert gap == t.comp_spacing * (32 + 1)                      # COMPS_READRES(32) -> next: 33 COMP slots
    short = mapping._program([mapping.ROW], [2], [2], [4])
    shorter = mapping._program([mapping.ROW], [1], [2], [2])
    assert (channel_time(short, t, refresh=False).end - channel_time(shorter, t, refresh=False).end
            == t.comp_spacing * (t.fill + 1))                   # adder-tree fill: at least 6 COMPs
    # row switch: 32 bank precharges, P_HEADER, 4 G_ACTs per rank tFAW apart (ranks interleaved), tRCD
    assert t.open_row() == 32 + 1 + 3 * t.faw + 1 + t.rcd == 138


def test_blocked_vs_dual_on_a_mixed_stream(neupims):
    t = neupims.timing
    prog = mapping.sv_program(t, 8, 128, 2048)
    rows = int((prog["kind"] == mapping.ROW).sum())
    r = 4
    m = mixed_cycles(prog, t, reads_per_row=r)
    assert m["dual"] == m["pim_only"]                            # reads only take the slots PIM leaves free
    extra = m["blocked"] - m["dual"]
    assert extra > 0
    # 8 heads x 4 chunks of [GWRITE, 4 rows]: 96 row -> row switches pay ACT .. tRAS .. PRE + tRP, and the 31 rows
    # after a GWRITE one precharge less (the reads closed the bank during the GWRITE)
    assert rows == 128 and extra == 96 * (max(t.ras, t.rcd + (r - 1) * t.readres_spacing + t.rtp) + t.rp) - 31
    assert 0.1 < extra / m["dual"] < 0.5                         # 48 cycles on a ~143-cycle row


def test_kv_layout_counts_of_one_request(neupims):
    t = neupims.timing
    qk = mapping.counts(mapping.qk_program(t, 8, 128, 2048), t)
    sv = mapping.counts(mapping.sv_program(t, 8, 128, 2048), t)
    assert qk["cmd.GWRITE"] == 2 and qk["cmd.P_HEADER"] == 2 * 64          # 1024-wide query in 512-element chunks
    assert qk["cmd.COMP"] == 64 * 8 * 8                                       # 64 row groups x 8 heads x 128/16
    assert sv["cmd.GWRITE"] == 8 * 4 and sv["cmd.P_HEADER"] == 8 * 4 * 4      # heads x 512-token chunks x 128/32
    assert sv["cmd.COMP"] == 8 * 4 * 2048 // 16


def test_neupims_stage_b_calibration(neupims):
    seq, ch, ops = _requests(16)
    cost = neupims.stage(ops, ch)
    assert cost.counts["cmd.COMP"] == pytest.approx(65280, rel=0.05)
    assert cost.counts["cmd.GWRITE"] == pytest.approx(336, rel=0.05)
    assert cost.detail["pim_cycles"] == pytest.approx(63869, rel=0.10)
    assert cost.time_s == pytest.approx(cost.detail["pim_cycles"] * 1e-9)
    # the start phase against the refresh schedule moves the result by about one refresh, not more
    shifted = neupims.stage(ops, ch, start_cycle=27586).detail["pim_cycles"]
    assert abs(shifted - cost.detail["pim_cycles"]) < 1000


def test_single_request_cost_and_estimator(neupims):
    seq, ch, ops = _requests(1)
    alone = neupims.cost(ops[0]).detail["pim_cycles"] + neupims.cost(ops[1]).detail["pim_cycles"]
    staged = neupims.stage(ops, ch).detail["pim_cycles"]
    assert staged == pytest.approx(alone, rel=0.02)
    est = neupims.estimate(seq, ch, 8, 128)
    assert est.max() == pytest.approx(staged, rel=0.05)


def test_channels_run_in_parallel_and_placement_matters(neupims):
    seq, ch, ops = _requests(64)
    packed = neupims.stage(ops, np.zeros(64, dtype=int)).detail["pim_cycles"]
    spread = neupims.stage(ops, ch).detail["pim_cycles"]
    assert packed > 10 * spread
    rr = mapping.place_kv(seq, 32, "round-robin")
    assert rr.tolist() == [i % 32 for i in range(64)]
    ml = mapping.place_kv(seq, 32, "min-load")
    load = np.bincount(ml, weights=seq, minlength=32)
    assert load.max() - load.min() <= seq.max()


def test_gemv_uses_every_channel(neupims):
    op = gemm("fc", 1, 4096, 4096, weights="fp16", act="fp16")
    cost = neupims.cost(op)
    occ = np.array(cost.detail["channel_occupancy"])
    assert (occ > 0).all() and occ.max() == occ.min()
    assert cost.counts["cmd.COMP"] == 4096 * 4096 / 16 / 32      # every weight element once, 16 per bank-COMP


@pytest.mark.parametrize("unit, memory", [("aquabolt-xl-pim", "aquabolt-xl-hbm2"), ("aim-pim", "aim-gddr6")])
def test_presets_load_and_run(unit, memory):
    data = yaml.safe_load((ROOT / "hwconfigs" / "pim" / f"{unit}.yaml").read_text())
    assert data["kind"] == "unit" and data["source"]
    spec = validate(PimSpec, {k: v for k, v in data.items() if k not in ("version", "kind", "name")}, file=unit)
    mem = load_memory_spec(ROOT / "hwconfigs" / "pim" / f"{memory}.yaml")
    model = PimModel(unit, spec, mem)
    cost = model.cost(gemm("fc", 1, 2048, 2048, weights="fp16", act="fp16"))
    assert cost.time_s > 0 and cost.detail["energy_j"] > 0


def test_energy_methods(neupims):
    from simulator.pim.energy import command_energies

    spec, mem = neupims.spec, neupims.memory
    mult = command_energies(spec.model_copy(update={"energy": {}}), mem)
    assert mult["cmd.GWRITE"] == pytest.approx(16 * 804e-12)
    assert mult["cmd.G_ACT"] == pytest.approx(4 * 828e-12)
    assert mult["cmd.COMP"] == pytest.approx(4 * 804e-12)
    assert mult["cmd.READRES"] == pytest.approx(804e-12)
    bit = command_energies(spec.model_copy(update={"energy": {}, "energy_method": "per_bit"}), mem)
    assert bit["cmd.COMP"] == pytest.approx(32 * 16 * 16 * 1.57e-12 + 32 * 16 * 0.5e-12)


def test_min_load_placement_balances_the_estimated_latency(neupims):
    """`kv_placement: min-load` packs requests by the MHA latency estimator and overrides the trace's channels;
    its busiest channel is no busier than with round robin, and within one request's estimate of the idlest."""
    seq, ch, ops = _requests(128)
    system = load_system(ROOT / "hwconfigs" / "neupims.yaml")
    busiest = {}
    for method in ("min-load", "round-robin"):
        spec = system.units["pim"].model_copy(update={"kv_placement": method})
        model = PimModel("pim", spec, system.memories["hbm"])
        occ = np.array(model.stage(ops, ch).detail["channel_occupancy"])
        busiest[method] = occ.max()
        if method == "min-load":
            cost = model.request_cycles(seq, 8, 128)
            assert np.all(np.diff(cost[np.argsort(seq, kind="stable")]) >= 0)      # longer KV, more cycles
            assert occ.max() - occ.min() <= 1.5 * cost.max()
    assert busiest["min-load"] <= busiest["round-robin"]
