"""The PIM-GPT system runs end to end for every GPT-2 size and GPT-3 XL, its report is regenerated, and its
per-token time obeys the physics: batch-1 attention spreads over every channel, GEMVs dominate, and the token
time sits above the weight-streaming bound of the in-bank bandwidth, within a small factor of it."""

from pathlib import Path

import numpy as np
import pytest

from simulator.hardware.system import load_system
from simulator.lowering.builders import attention_request
from simulator.studies import pim_gpt
from simulator.pim.model import make_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def table():
    return pim_gpt.rows()


@pytest.fixture(scope="module")
def pim():
    system = load_system(ROOT / "hwconfigs" / "pim-gpt.yaml")
    return make_model("pim", system.units["pim"], system.memories["gddr6"])


def _gpt2_small_attention(kv_len: int = 513):
    qk, _, sv = attention_request("l0.attn", 0, kv_len, 1, False, heads=12, kv_heads=12, head_dim=64,
                                  act="bf16", kv="bf16")
    return [qk, sv]


def test_report_rows_and_markdown(table, tmp_path):
    assert [r["model"] for r in table] == list(pim_gpt.MODELS)
    for r in table:
        assert r["pim_us"] > 0 and r["pim_mj"] > 0
        assert abs(r["h100_speedup"] - r["h100_us"] / r["pim_us"]) < 1e-9 * r["h100_speedup"]
        parts = r["gemv_us"] + r["attention_us"] + r["asic_us"] + r["movement_us"]
        assert parts == pytest.approx(r["pim_us"], rel=1e-6)      # batch 1: the parts run one after another
    # bigger models take longer on PIM: latency follows weight bytes over in-bank bandwidth
    gpt2 = [r["pim_us"] for r in table if r["model"].startswith("gpt2")]
    assert gpt2 == sorted(gpt2)
    out = tmp_path / "pim_gpt.md"
    pim_gpt.main(["--out", str(out)])
    assert "gpt2-xl" in out.read_text()


def test_batch1_attention_uses_every_channel(pim):
    """One request's KV cache spread over all 16 channels: every channel works, none more than ~1.5x another
    (33 key row groups over 16 channels, 48 value row groups holding one or two heads each)."""
    cost = pim.stage(_gpt2_small_attention())
    occupancy = np.array(cost.detail["channel_occupancy"])
    assert (occupancy > 0).all()
    assert occupancy.max() < 1.5 * occupancy.min()
    one = make_model("pim", pim.spec.model_copy(update={"kv_layout": "channel"}), pim.memory)
    alone = one.stage(_gpt2_small_attention())
    assert np.count_nonzero(alone.detail["channel_occupancy"]) == 1
    assert alone.time_s > 5 * cost.time_s
    est = pim.estimate(np.array([513]), np.array([0]), 12, 64)
    assert np.count_nonzero(est) == pim.channels


def test_attention_is_small_next_to_gemv(table):
    """GPT-2 small at 512 tokens: 1.5 MB of KV per layer against 14 MB of weights."""
    small = table[0]
    assert small["attention_us"] < small["gemv_us"] / 3


def test_token_time_follows_weight_streaming(table):
    """Every GEMV weight passes the MACs once: the token takes at least weight bytes / in-bank bandwidth. The
    rest is a row switch (AiM's PREA + ACT16: 50 cycles after the last MAC) per DRAM row of 48-64 COMPs,
    global-buffer writes (64 cycles), attention and the ASIC: within 5x of the bound."""
    for r in table:
        assert r["row_switch"] == 50 and r["gwrite"] == 64
        assert r["bound_us"] < r["gemv_us"] < r["pim_us"] < 5 * r["bound_us"]
