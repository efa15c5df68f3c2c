"""Attention mappings (simulator/npu/attention.py): FuseMax-style cascade, FLAT-style and unfused."""

import numpy as np
import pytest

from simulator.hardware.system import load_system
from simulator.lowering import builders as mk
from simulator.npu.model import NpuModel

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
LENGTHS = [1024, 2048, 4096, 8192, 16384, 32768, 65536]


@pytest.fixture(scope="module")
def models():
    system = load_system(ROOT / "hwconfigs/npu-only.yaml")
    spec = system.units["npu"]
    out = {}
    for kind in ("flash", "unfused", "flat", "fusemax"):
        m = spec.mapping.model_copy(update={"attention": spec.mapping.attention.model_copy(update={"cascade": kind})})
        out[kind] = NpuModel(spec.model_copy(update={"mapping": m}), system.memories[spec.memory])
    return out


def prefill(L, heads=32, kv_heads=32, d=128):
    return mk.attention("a", np.array([L]), L, True, heads=heads, kv_heads=kv_heads, head_dim=d, act="fp16", kv="fp16")


def test_fusemax_utilisation_rises_with_length_and_stays_at_most_one(models):
    util = []
    for L in LENGTHS:
        c = models["fusemax"].cost(prefill(L))
        u = c.detail["tiling"]["stage_utilisation"]
        assert all(0 <= v <= 1 + 1e-12 for v in u.values())
        assert c.detail["utilisation"]["pe"] <= 1 + 1e-12
        util.append(u["array"])
    assert all(b >= a for a, b in zip(util, util[1:]))
    assert util[-1] > util[0]


@pytest.mark.parametrize("kind", ["flash", "unfused", "flat", "fusemax"])
@pytest.mark.parametrize("L,kv_heads", [(1024, 32), (8192, 8), (65536, 32)])
def test_dram_traffic_at_least_q_k_v_o_once(models, kind, L, kv_heads):
    op = prefill(L, kv_heads=kv_heads)
    c = models[kind].cost(op)
    qkvo = op.bytes_in + op.bytes_out
    if kind != "flash":
        assert c.detail["tiling"]["q_k_v_o_bytes"] == pytest.approx(qkvo)
    assert c.detail["bytes"]["dram"] >= qkvo


def test_unfused_moves_scores_through_dram(models):
    op = prefill(4096)
    c = models["unfused"].cost(op)
    scores = 32 * (4096 * 4096 - 4096 * 4095 / 2)
    assert c.detail["bytes"]["dram"] == pytest.approx(op.bytes_in + op.bytes_out + 4 * scores * 2)


def test_fusemax_beats_flat_and_flat_buffer_grows_with_length(models):
    for L in (1024, 65536):
        fm, flat = models["fusemax"].cost(prefill(L)), models["flat"].cost(prefill(L))
        assert fm.cycles < flat.cycles
        assert fm.detail["tiling"]["buffer_bytes"] <= 8 * 2**20
    short, long = models["flat"].cost(prefill(1024)), models["flat"].cost(prefill(65536))
    assert long.detail["tiling"]["kv_rereads"] > short.detail["tiling"]["kv_rereads"]
    # FuseMax's buffers do not depend on the sequence length
    assert models["fusemax"].cost(prefill(1024)).detail["tiling"]["buffer_bytes"] == \
        models["fusemax"].cost(prefill(65536)).detail["tiling"]["buffer_bytes"]


def test_cascade_macs_match_the_flops(models):
    op = prefill(2048)
    c = models["fusemax"].cost(op)
    exp_macs = c.detail["tiling"]["exp_on_array"] * 32 * (2048 * 2048 - 2048 * 2047 / 2) * 5
    assert c.counts["mac.fp16"] == pytest.approx(op.flops / 2 + exp_macs, rel=1e-6)
