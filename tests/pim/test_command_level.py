"""Command level of the PIM model (simulator/pim/bank_machine.py): the timing rules emerge from the per-bank state
machine, and it agrees with the transaction level's closed forms (simulator/pim/timeline.py).

Stated tolerance between the levels: 0.5 % of a channel's span (measured: 0 on the programs and stages below; 1.5
cycles of 64 k on stage B through `simulate run`, which starts it at a fractional cycle). The closed forms miss only
edge cases, e.g. a refresh that must wait for a GWRITE still reading its row.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

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
TOLERANCE = 0.005


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
    assert cmd.busy == pytest.approx(tx.busy, rel=TOLERANCE)
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
    assert cmd.detail["pim_cycles"] == pytest.approx(tx.detail["pim_cycles"], rel=TOLERANCE)
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
    assert ct.busy == pytest.approx(channel_time(prog, t).busy, rel=TOLERANCE)


def test_plain_python_kernel_gives_the_same_result(t):
    """SIMULATOR_NO_JIT=1 runs the kernel as ordinary Python (no numba): same cycles."""
    code = ("from simulator.hardware.system import load_system; from simulator.pim.model import PimModel; "
            "from simulator.pim import bank_machine, mapping; s = load_system('hwconfigs/neupims.yaml'); "
            "t = PimModel('pim', s.units['pim'], s.memories['hbm']).timing; "
            "print(bank_machine.run_channel(mapping.qk_program(t, 8, 128, 512), t).end)")
    env = {**os.environ, "SIMULATOR_NO_JIT": "1"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert float(out.stdout) == bank_machine.run_channel(mapping.qk_program(t, 8, 128, 512), t).end
