"""Command level of the PIM model (simulator/pim/bank_machine.py): the timing rules emerge from the per-bank state
machine, and it agrees with the transaction level's closed forms (simulator/pim/timeline.py).

The levels agree to the cycle on any program from an integer start cycle, with and without refresh (the property
test below: random programs on every preset and on variants of their row rules). From a fractional start they
differ by less than a cycle: the command level runs from the integer cycle and adds the fraction to the end, the
transaction level keeps it until a refresh realigns the ops to the refresh's cycles (stated tolerance 0.5 %;
measured 0.5 cycle of 64 k on stage B through `simulate run`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.errors import ConfigError
from simulator.config.spec import validate
from simulator.hardware.system import load_system
from simulator.lowering.builders import attention_request
from simulator.memory.loader import load_memory_spec
from simulator.pim import bank_machine, mapping
from simulator.pim.model import PimModel
from simulator.pim.spec import PimSpec
from simulator.pim.timeline import channel_time, mixed_cycles
from simulator.workload.trace import read_trace

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def system():
    return load_system(ROOT / "hwconfigs" / "neupims.yaml")


@pytest.fixture(scope="module")
def t(system):
    return PimModel("pim", system.units["pim"], system.memories["hbm"]).timing


def _rows(kinds: list[int], comps: int = 32, readres: int = 1) -> dict[str, np.ndarray]:
    kind = np.array(kinds)
    rows = kind == mapping.ROW
    return mapping._program(kind, rows * readres, rows * comps, rows * comps * readres)


def test_gwrite_is_96_cycles_and_blocks_the_pim_queue(t):
    one = bank_machine.run_channel(_rows([mapping.GWRITE]), t, refresh=False)
    assert one.end == t.gwrite == 96
    two = bank_machine.run_channel(_rows([mapping.GWRITE, mapping.GWRITE]), t, refresh=False)
    assert two.op_issue.tolist() == [0, t.gwrite + 1]           # the next command on the cycle after
    assert two.counts["cmd.GWRITE"] == 2


def test_comp_spacing_at_command_level(t):
    def first_comps(comps: int, readres: int) -> float:
        return bank_machine.run_channel(_rows([mapping.ROW], comps, readres), t, refresh=False).end

    assert first_comps(32, 2) - first_comps(32, 1) == t.comp_spacing * (32 + 1) == 66
    assert first_comps(2, 2) - first_comps(2, 1) == t.comp_spacing * (t.fill + 1)   # adder-tree fill


def test_open_row_emerges_from_the_rules(t):
    """32 precharges, P_HEADER, rank 0 / rank 1 G_ACTs tFAW apart in a rank, tRCD: 138 cycles to the first COMP."""
    ct = bank_machine.run_channel(_rows([mapping.ROW, mapping.ROW]), t, refresh=False)
    assert ct.op_issue[0] == t.open_row() == 32 + 1 + 3 * t.faw + 1 + t.rcd == 138
    assert ct.op_issue[1] - ct.op_issue[0] == t.rtp + 138 == 143      # an S.V row repeats every 143 cycles
    assert ct.pim_counts == mapping.counts(_rows([mapping.ROW, mapping.ROW]), t)


def _preset(unit: str, memory: str, **fields) -> PimModel:
    """A PIM preset of hwconfigs/pim/ on its memory, with `fields` of the unit replaced."""
    data = yaml.safe_load((ROOT / f"hwconfigs/pim/{unit}.yaml").read_text())
    spec = validate(PimSpec, {k: v for k, v in data.items() if k not in ("version", "kind", "name")} | fields,
                    file=unit)
    return PimModel(unit, spec, load_memory_spec(ROOT / f"hwconfigs/pim/{memory}.yaml"))


def _aim(**fields) -> PimModel:
    return _preset("aim-pim", "aim-gddr6", **fields)


def test_trp_binds_the_first_gact_of_a_short_precharge_sweep():
    """Aquabolt-XL: 16 banks, tRP 17: the first bank group's G_ACT waits tRP after its 4th precharge (cycle 3),
    not just for the P_HEADER (cycle 16); the closed form has the same rule."""
    t = _preset("aquabolt-xl-pim", "aquabolt-xl-hbm2").timing
    ct = bank_machine.run_channel(_rows([mapping.ROW], comps=8), t, refresh=False)
    assert ct.op_issue[0] == 3 + t.rp + 3 * t.faw + t.rcd == t.open_row() > t.banks + 1 + 3 * t.faw + t.rcd


def test_aim_row_switch_is_one_all_bank_precharge_and_activate():
    """AiM (PREA, ACT16): precharge at cycle 0, ACT16 tRP later (no tFAW chain), first MAC act_to_comp after it:
    16 + 28 = 44 cycles, against 111 with NeuPIMs' per-bank precharges and tFAW-spaced G_ACTs. The next row
    precharges tRTP after the last MAC of a 48-COMP COMPS_READRES, so rows repeat every 47 + 6 + 44 = 97."""
    t = _aim().timing
    assert (t.rp, t.act_to_comp, t.rtp) == (16, 28, 6)
    assert t.open_row() == t.rp + t.act_to_comp == 44
    assert _aim(row_commands="per-bank-group", row_release="issue").timing.open_row() == 3 + t.rp + 3 * t.faw + 28
    prog = _rows([mapping.ROW, mapping.ROW, mapping.ROW], comps=48)
    ct = bank_machine.run_channel(prog, t, refresh=False)
    assert ct.op_issue.tolist() == [44, 44 + 97, 44 + 2 * 97]
    assert ct.end == channel_time(prog, t, refresh=False).end
    assert ct.pim_counts == mapping.counts(prog, t)
    assert ct.counts["cmd.PIM_PRE"] == ct.counts["cmd.G_ACT"] == 3           # one of each per row
    fused = _aim(row_release="issue").timing      # NeuPIMs' release would precharge while the 48 MACs still read
    gaps = np.diff(bank_machine.run_channel(prog, fused, refresh=False).op_issue)
    assert gaps.tolist() == [t.rtp + t.open_row()] * 2 == [50, 50]


def test_aim_gwrite_is_64_wrgb_bursts():
    """AiM's WRGB is a channel-level write: 2 KB in 64 bursts max(tBURST, tCCD_S) = 1 ns apart, not NeuPIMs'
    tCCD_S + tCCD_L; the row after it opens all banks after it."""
    t = _aim().timing
    assert t.gwrite == 64 == 64 * max(t.burst, t.ccd_s)
    assert _aim(gwrite_spacing="ccd_s+ccd_l").timing.gwrite == 64 * (t.ccd_s + t.ccd_l)
    ct = bank_machine.run_channel(_rows([mapping.GWRITE, mapping.ROW]), t, refresh=False)
    assert ct.op_issue.tolist() == [0, 64 + 1 + 44]


def test_tras_binds_short_all_bank_rows():
    """With act_to_comp = tRCD (18), a one-COMP row would precharge 24 cycles after its ACT16; tRAS (27) holds the
    PREA, so rows repeat every tRAS + tRP = tRC = 43, at both levels."""
    t = _aim(act_to_comp=None).timing
    assert t.act_to_comp == t.rcd == 18 and t.rcd + t.rtp < t.ras
    prog = _rows([mapping.ROW] * 3, comps=1)
    ct = bank_machine.run_channel(prog, t, refresh=False)
    assert np.diff(ct.op_issue).tolist() == [t.ras + t.rp] * 2 == [t.rc] * 2 == [43, 43]
    assert ct.end == channel_time(prog, t, refresh=False).end


@pytest.mark.parametrize("unit, memory", [("aim-pim", "aim-gddr6"), ("aquabolt-xl-pim", "aquabolt-xl-hbm2")])
@pytest.mark.parametrize("row_commands", ["per-bank-group", "all-bank"])
@pytest.mark.parametrize("refresh", [False, True])
def test_levels_agree_on_the_16_bank_presets(unit, memory, row_commands, refresh):
    """Q.K^T, S.V and GEMV programs (and PIM-GPT's spread batch-1 attention) on AiM and Aquabolt-XL, in both
    row-command modes: the same cycles, holds, refreshes and counts at both levels."""
    t = _preset(unit, memory, row_commands=row_commands).timing
    progs = [mapping.qk_program(t, 8, 128, 2048), mapping.sv_program(t, 8, 128, 2048),
             mapping.gemv_program(t, 1, 4096, 2048), mapping.gemv_program(t, 1, 768, 768),
             mapping.sv_program(t, 2, 64, 40), *mapping.spread_qk(t, 12, 64, 513).values(),
             *mapping.spread_sv(t, 12, 64, 513).values()]
    for prog in progs:
        cmd = bank_machine.run_channel(prog, t, 1234.0, refresh=refresh)
        tx = channel_time(prog, t, 1234.0, refresh=refresh)
        assert (cmd.end, cmd.held, cmd.refreshes) == (tx.end, tx.held, tx.refreshes)
        assert cmd.pim_counts == mapping.counts(prog, t)


TIMINGS = {    # the presets, and variants of their row rules
    "neupims": lambda: load_system(ROOT / "hwconfigs" / "neupims.yaml").model("pim").timing,
    "pim-gpt": lambda: load_system(ROOT / "hwconfigs" / "pim-gpt.yaml").model("pim").timing,
    "aquabolt-xl": lambda: _preset("aquabolt-xl-pim", "aquabolt-xl-hbm2").timing,
    "neupims last-comp no-guard": lambda: replace(_timing("neupims"), row_release="last-comp", refresh_guard=False),
    "aim per-bank-group issue": lambda: _aim(row_commands="per-bank-group", row_release="issue").timing,
    "aim issue tRCD": lambda: _aim(row_release="issue", act_to_comp=None).timing,
    "aquabolt-xl all-bank": lambda: replace(_timing("aquabolt-xl"), row_commands="all-bank"),
    "neupims naive (Newton)": lambda: replace(_timing("neupims"), row_buffer="blocked", row_release="readres"),
    "neupims naive no-guard": lambda: replace(_timing("neupims naive (Newton)"), refresh_guard=False),
}


@cache
def _timing(name: str):
    return TIMINGS[name]()


ROW_OP = st.tuples(st.integers(1, 8), st.one_of(st.integers(1, 4), st.integers(1, 64)), st.booleans())
PROGRAM = st.lists(st.one_of(st.none(), ROW_OP), min_size=1, max_size=48)   # None: a GWRITE


def _program(ops: list) -> dict[str, np.ndarray]:
    """A channel program from rows (readres, comps, S.V-style) and GWRITEs (None), headers as mapping.py sets them:
    Q.K^T / GEMV readres x comps, S.V one COMPS_READRES with comps rounded up to a power of two."""
    rows = [(0, 0, False) if op is None else op for op in ops]
    return mapping._program([mapping.GWRITE if op is None else mapping.ROW for op in ops],
                            [1 if sv else r for r, _, sv in rows], [c for _, c, _ in rows],
                            [int(mapping._pow2_ceil(c)) if sv else r * c for r, c, sv in rows])


def _assert_levels_agree(name: str, ops: list, start: int, refresh: bool) -> None:
    t, prog = _timing(name), _program(ops)
    cmd = bank_machine.run_channel(prog, t, float(start), refresh=refresh)
    tx = channel_time(prog, t, float(start), refresh=refresh)
    assert (cmd.end, cmd.held, cmd.refreshes) == (tx.end, tx.held, tx.refreshes)
    if prog["kind"][-1] == mapping.ROW:
        assert cmd.pim_counts == mapping.counts(prog, t)


@settings(max_examples=500, deadline=None)
@given(name=st.sampled_from(list(TIMINGS)), ops=PROGRAM, start=st.integers(0, 30_000), refresh=st.booleans())
def test_levels_agree_on_random_programs(name, ops, start, refresh):
    """Any sequence of GWRITEs and rows (1-8 COMPS_READRES of 1-64 COMPs; programs that start or end with either,
    consecutive GWRITEs, short rows), from any integer start cycle, with and without refresh: the same cycles,
    holds and refreshes at both levels on the presets and on variants of their row rules. The command counts are
    mapping.counts unless refreshes close PIM rows after the last row (a program ending in GWRITEs), which the
    command level counts as PIM_PRE too."""
    _assert_levels_agree(name, ops, start, refresh)


R, SV = (1, 1, False), (1, 33, True)      # a one-COMP row; an S.V row


@pytest.mark.parametrize("name, ops, start, refresh", [
    pytest.param("neupims", [(1, 41, False), None], 0, False, id="a long row's data outlasts the GWRITE after it"),
    pytest.param("aquabolt-xl", [(1, 24, False), None, R], 0, False,
                 id="the previous COMPS_READRES span binds a row after a GWRITE"),
    pytest.param("aquabolt-xl all-bank", [(1, 7, False), R, R], 0, False,
                 id="the span sets a row's first COMP, its ACT16 ran early: the next row's tRC"),
    pytest.param("pim-gpt", [None] * 8 + [R], 1446, True, id="held GWRITEs, then a row with its rank closed"),
    pytest.param("neupims", [None, None, R, R, R, SV, None], 24339, True,
                 id="GWRITE row re-opened after a restarted row: rank 0's G_ACTs trail"),
    pytest.param("aquabolt-xl", [(7, 1, False), (7, 23, False), R, None, None], 2655, True,
                 id="GWRITE row re-opened after a row whose G_ACTs ran early"),
    pytest.param("aquabolt-xl", [(1, 47, False), None, R], 4067, True,
                 id="the span of the row before a re-opened GWRITE binds the row after it"),
    pytest.param("aquabolt-xl all-bank", [None, (5, 1, False), R, R], 13668, True,
                 id="a restarted row's ACT16 no longer early: the next rows' tRAS and tRC"),
    pytest.param("aquabolt-xl", [(8, 64, False), None, None], 13801, True,
                 id="a held row's long estimate does not hold the ops after it"),
    pytest.param("neupims last-comp no-guard", [None] * 5, 5480, True,
                 id="the refresh waits for the GWRITE reading its row"),
    pytest.param("neupims last-comp no-guard", [None, None], 3834, True,
                 id="a held op restarts no earlier than it reaches the queue head"),
    pytest.param("neupims last-comp no-guard", [None, None, R, R], 11363, True,
                 id="no guard: the refresh waits for the admitted op (command level deadlocked)"),
])
def test_levels_agree_on_the_disagreements_found(name, ops, start, refresh):
    """The smallest programs of each class of disagreement the random programs found (each failed before its
    fix; docs/pim.md, Command level)."""
    _assert_levels_agree(name, ops, start, refresh)


def test_all_bank_needs_a_single_rank_and_keeps_the_activate_energy():
    """An all-bank G_ACT opens 16 banks (16 x ACT energy), four times fewer of them than per-bank-group G_ACTs:
    the same activation energy per row. HBM2 with two ranks is refused."""
    aim, per_group = _aim(), _aim(row_commands="per-bank-group")
    prog = mapping.gemv_program(aim.timing, 1, 768, 768)
    rows = float((prog["kind"] == mapping.ROW).sum())
    assert aim.energy_table["cmd.G_ACT"] == 16 * aim.memory.energy.act == 4 * per_group.energy_table["cmd.G_ACT"]
    assert (mapping.counts(prog, aim.timing)["cmd.G_ACT"] * aim.energy_table["cmd.G_ACT"]
            == mapping.counts(prog, per_group.timing)["cmd.G_ACT"] * per_group.energy_table["cmd.G_ACT"]
            == rows * 16 * aim.memory.energy.act)
    system = load_system(ROOT / "hwconfigs" / "neupims.yaml")
    with pytest.raises(ConfigError, match="single-rank"):
        PimModel("pim", system.units["pim"].model_copy(update={"row_commands": "all-bank"}), system.memories["hbm"])


@pytest.mark.parametrize("phase", ["qk", "sv"])
@pytest.mark.parametrize("refresh", [False, True])
def test_command_level_matches_the_closed_forms(t, phase, refresh):
    prog = (mapping.qk_program if phase == "qk" else mapping.sv_program)(t, 8, 128, 2048)
    cmd = bank_machine.run_channel(prog, t, 1234.0, refresh=refresh)
    tx = channel_time(prog, t, 1234.0, refresh=refresh)
    assert cmd.busy == tx.busy
    assert (cmd.held, cmd.refreshes) == (tx.held, tx.refreshes)
    assert cmd.pim_counts == mapping.counts(prog, t)
    if refresh:
        assert cmd.counts["cmd.REF"] >= cmd.held > 0            # the guard held rows back before refreshes


def test_stage_b_at_command_level(system):
    seq, ch = read_trace(ROOT / "workloads/traces/share-gpt2-bs512-ms7B-tp4-clb-0.csv", limit=16)
    ops = []
    for i, length in enumerate(seq.tolist()):
        qk, _, sv = attention_request("l0.attn", i, length, 1, False, heads=8, kv_heads=8, head_dim=128,
                                      act="fp16", kv="fp16")
        ops += [qk, sv]
    tx = PimModel("pim", system.units["pim"], system.memories["hbm"]).stage(ops, ch, start_cycle=27586)
    cmd = system.model("pim", "command").stage(ops, ch, start_cycle=27586)
    assert cmd.detail["level"] == "command" and tx.detail["level"] == "transaction"
    assert cmd.detail["pim_cycles"] == tx.detail["pim_cycles"]
    assert cmd.detail["pim_cycles"] == pytest.approx(63_869, rel=0.10)        # NeuPIMs artifact
    assert cmd.counts["cmd.COMP"] == 65_280 and cmd.counts["cmd.GWRITE"] == 336
    assert cmd.counts == tx.counts                               # the machine's counts are mapping.counts


def test_blocked_vs_dual_mixed_stream_matches_the_closed_form(t):
    """S.V of a 2048-token request, 4 normal reads per PIM row to one bank of a first bank group."""
    prog = mapping.sv_program(t, 8, 128, 2048)
    cmd = bank_machine.mixed_run(prog, t, reads_per_row=4)
    closed = mixed_cycles(prog, t, reads_per_row=4)
    assert cmd["dual"] == cmd["pim_only"] == closed["dual"]      # reads only take slots PIM leaves free
    extra = cmd["blocked"] - cmd["dual"]
    assert 0.1 < extra / cmd["dual"] < 0.5
    assert cmd["blocked"] == pytest.approx(closed["blocked"], rel=0.02)
    assert cmd["latency_blocked"] > cmd["latency_dual"] >= t.read_latency


def test_blocked_reads_on_aim_cost_the_same_switch_in_all_bank_mode():
    """AiM, S.V of a 2048-token request with 4 reads per row to bank 0: the reads' ACT takes the ACT16's slot, PRE
    max(tRAS, tRCD + 3 tCCD_L + tRTP) after it, tRP, then the ACT16: 27 + 16 = 43 cycles per row followed by a
    row, and none saved after a GWRITE (the PREA still closes the other banks); both levels agree."""
    t = _aim().timing
    prog = mapping.sv_program(t, 8, 128, 2048)
    cmd = bank_machine.mixed_run(prog, t, reads_per_row=4, bank=0)
    closed = mixed_cycles(prog, t, reads_per_row=4)
    row_row = int(np.sum((prog["kind"][:-1] == mapping.ROW) & (prog["kind"][1:] == mapping.ROW)))
    assert cmd["dual"] == closed["dual"] == cmd["pim_only"]
    assert cmd["blocked"] == closed["blocked"] == cmd["dual"] + row_row * 43


def test_blocked_reads_cost_trcd_tras_trp_per_row_switch(t):
    """Two rows back to back with reads to bank 16: ACT in the slot of its bank group's G_ACT, PRE tRAS later
    (the 4 reads end before), tRP, G_ACT: the next row's first COMP moves by tRAS + tRP = 48 cycles."""
    prog = _rows([mapping.ROW, mapping.ROW])
    reads = {"arrival": np.zeros(4), "op": np.zeros(4), "bank": np.full(4, 16), "row": np.ones(4)}
    alone = bank_machine.run_channel(prog, replace(t, row_buffer="blocked"), refresh=False)
    mixed = bank_machine.run_channel(prog, replace(t, row_buffer="blocked"), refresh=False, reads=reads)
    assert np.diff(mixed.op_issue)[0] - np.diff(alone.op_issue)[0] == t.ras + t.rp == 48
    assert mixed.counts["cmd.ACT"] == 1 and mixed.counts["cmd.RD"] == 4 and mixed.counts["cmd.PRE"] == 1
    dual = bank_machine.run_channel(prog, t, refresh=False, reads=reads)
    assert dual.end == alone.end and dual.counts["cmd.RD"] == 4


def test_the_kernel_is_event_driven(t):
    """One loop iteration per command issued, none per idle cycle: a row of 500 COMPS_READRES of 1000 COMPs
    spans a million cycles in 541 iterations; S.V of a 100 000-token request (1.4 M cycles with refresh) in
    one iteration per PIM command plus the refresh precharges and REFs."""
    long_row = _rows([mapping.ROW], comps=1000, readres=500)
    ct = bank_machine.run_channel(long_row, t, refresh=False)
    assert ct.end > 1_000_000 and ct.steps == len(bank_machine.expand(long_row, t)[0]) == 32 + 1 + 8 + 500
    prog = mapping.sv_program(t, 8, 128, 100_000)
    ct = bank_machine.run_channel(prog, t)
    assert ct.end > 1_000_000
    assert ct.steps <= len(bank_machine.expand(prog, t)[0]) + ct.refreshes * (2 * t.banks_per_rank + 2)
    assert ct.busy == channel_time(prog, t).busy


def test_plain_python_kernel_gives_the_same_result(t):
    """SIMULATOR_NO_JIT=1 runs the kernel as ordinary Python (no numba): same cycles."""
    code = ("from simulator.hardware.system import load_system; from simulator.pim.model import PimModel; "
            "from simulator.pim import bank_machine, mapping; s = load_system('hwconfigs/neupims.yaml'); "
            "t = PimModel('pim', s.units['pim'], s.memories['hbm']).timing; "
            "print(bank_machine.run_channel(mapping.qk_program(t, 8, 128, 512), t).end)")
    env = {**os.environ, "SIMULATOR_NO_JIT": "1"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert float(out.stdout) == bank_machine.run_channel(mapping.qk_program(t, 8, 128, 512), t).end


@pytest.mark.parametrize("program, comps", [("qk", 8), ("sv", 32)])
def test_naive_branch_costs_the_readres_release_and_the_gwrite_eviction(t, program, comps):
    """The artifact's naive branch (one row buffer, COMPs and READRES as separate commands, docs/pim.md) on a
    2048-token request, refresh-free: each row switch starts when the row's READRES has issued, max(2n, 6) cycles
    after its last head's first COMP (16 for a Q.K^T head, 64 for a 32-COMP S.V row), and a GWRITE after a row
    first precharges and re-activates bank 0 (tRTP + tRP + tRCD = 33 cycles after that READRES instead of one burst,
    2): the closed-form difference from the dual branch, the same at both levels."""
    naive = replace(t, row_buffer="blocked", row_release="readres")
    assert naive.gwrite_evicts and naive.gwrite_after_row == t.rtp + t.rp + t.rcd == 33
    prog = getattr(mapping, f"{program}_program")(t, 8, 128, 2048)
    kind = prog["kind"]
    row_row = int(np.sum((kind[:-1] == mapping.ROW) & (kind[1:] == mapping.ROW)))
    row_gwrite = int(np.sum((kind[:-1] == mapping.ROW) & (kind[1:] == mapping.GWRITE)))
    drain = 2 * comps
    expected = row_row * drain + row_gwrite * (drain + naive.gwrite_after_row - t.comp_spacing)
    for run in (channel_time, bank_machine.run_channel):
        dual, blocked = run(prog, t, refresh=False).end, run(prog, naive, refresh=False).end
        assert blocked - dual == expected
    assert bank_machine.run_channel(prog, naive, refresh=False).pim_counts == mapping.counts(prog, t)


def test_auto_release_follows_the_row_buffer(system):
    """`row_release: auto` (the neupims-pim preset): fused COMPS_READRES with the dual row buffer, NeuPIMs' branch;
    COMPs + READRES with one row buffer, the artifact's Newton branch."""
    from simulator.pim.commands import pim_timing

    spec = system.units["pim"]
    assert spec.row_release == "auto"
    assert pim_timing(spec, system.memories["hbm"]).row_release == "issue"
    blocked = pim_timing(spec.model_copy(update={"row_buffer": "blocked"}), system.memories["hbm"])
    assert blocked.row_release == "readres" and blocked.gwrite_evicts
