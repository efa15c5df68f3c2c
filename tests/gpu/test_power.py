"""Board power model: static + activity-based dynamic power, the clock a power limit allows, energy per token."""

from pathlib import Path

import numpy as np
import pytest

from simulator.gpu import gemm as G
from simulator.gpu.power import limit_clock
from simulator.studies.gpu_validation import load_models
from simulator.lowering import builders as mk
from simulator.run import simulate

REPO = Path(__file__).resolve().parents[2]


def test_limit_clock_meets_the_limit_with_the_cube_law():
    f0 = 1.83e9
    assert limit_clock(700, 100, 500, 50, f0) == f0                     # under the limit: boost
    f = limit_clock(500, 100, 500, 50, f0)
    assert 100 + 500 * (f / f0) ** 3 + 50 == pytest.approx(500, abs=0.5)
    assert f == pytest.approx(f0 * (350 / 500) ** (1 / 3), rel=1e-3)
    assert limit_clock(400, 100, 500, 50, f0) < f                        # a lower limit, a lower clock


def _sustained_power(model, dtype: str) -> float:
    """Board power of a long 8192^3 GEMM at the clock the model gives it (SM power scaled by the cube law)."""
    m = model.machine
    cand = G._candidates(m)
    r = G._evaluate(m, 8192, 8192, 8192, dtype, "bf16", m.spec.clock, cand)
    i = int(np.argmin(r["rank"]))
    t = float(max(r["t_waves"][i], r["t_hbm"][i]))
    e = m.spec.energy
    sm = (e[f"mac.{dtype}"] * 8192 ** 3 + e["sram.byte"] * float(r["l2"][i])) / t
    mem = float(r["hbm"][i]) * 8 * m.hbm_j_per_bit / t
    f = m.spec.power_cap.sustained_clock
    return m.spec.static_power + sm * (f / m.spec.clock) ** 3 + mem


def test_h100_sustained_gemm_power_matches_the_measured_board_power(h100):
    """ceilings.csv: 10 s of back-to-back 8192^3 bf16 GEMMs settle at 698 W (limit 700 W); fp8 at 690 W."""
    g = h100["graph"]
    assert _sustained_power(g, "bf16") == pytest.approx(698, rel=0.03)
    assert _sustained_power(g, "fp8") == pytest.approx(690, rel=0.03)


def test_a_lower_power_limit_slows_long_gemms_by_the_cube_root(h100):
    """A100 at 330 W instead of 400 W: a compute-bound GEMM long enough for the controller runs at the clock
    where static + SM (f/f0)^3 + HBM = 330 W; a memory-bound GEMV does not slow down."""
    a100 = load_models(REPO / "hwconfigs/a100.yaml")["graph"]
    capped = type(a100)(a100.spec.model_copy(update={"power_limit": 330.0}), a100._memory)
    big = mk.gemm("g", 16384, 16384, 16384, weights="bf16", act="bf16")
    t400, t330 = a100.cost(big).time_s, capped.cost(big).time_s
    assert 1.04 < t330 / t400 < 1.15
    f330 = capped.cost(big).detail["clock_hz"]
    assert f330 < a100.cost(big).detail["clock_hz"]
    gemv = mk.gemm("g", 1, 16384, 16384, weights="bf16", act="bf16")
    assert capped.cost(gemv).time_s == pytest.approx(a100.cost(gemv).time_s, rel=1e-6)


def test_power_limited_kernels_spend_less_energy_per_mac(h100):
    """Energy per action ~ V^2: a GEMM slowed by the power limit counts its SM actions at (f/f0)^2."""
    g = h100["graph"]
    small = g.cost(mk.gemm("g", 256, 4096, 4096, weights="bf16", act="bf16"))
    long = g.cost(mk.gemm("g", 16384, 16384, 16384, weights="bf16", act="bf16"))
    per_mac = lambda c, n: c.counts["mac.bf16"] / n  # noqa: E731
    assert per_mac(small, 256 * 4096 * 4096) == pytest.approx(1.0, rel=0.02)
    f = long.detail["clock_hz"] / g.spec.clock
    assert per_mac(long, 16384 ** 3) == pytest.approx(f ** 2, rel=1e-6) and f < 0.97


def test_energy_per_token_and_board_power_of_a_decode_step():
    """Batch-1 decode is memory-bound: board power well under the limit, above static; energy per token =
    energy / new tokens."""
    run = simulate(REPO / "hwconfigs/h100.yaml", REPO / "workloads/llama2-7b.yaml", ["workload.batch=4"])
    s = run.summary
    power = s["energy_j"]["total"] / s["latency_s"]
    assert 100 < power < 700
    assert s["energy_per_token_j"] == pytest.approx(s["energy_j"]["total"] / 4, rel=1e-6)
