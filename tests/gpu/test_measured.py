"""The GPU model against this project's own H100 measurements (tests/data/gpu_h100, method in its README)."""

import csv
from pathlib import Path

import numpy as np
import pytest

from simulator.run import simulate
from simulator.studies.measured import DATA, kernel_table, step_table

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def table():
    return kernel_table(DATA)


def _group(table, name, what=""):
    return np.array([r["err_pct"] for r in table if r["group"] == name and what in r["what"]])


def test_prefill_attention_within_10_percent_no_systematic_sign(table):
    err = _group(table, "prefill attention")
    assert len(err) == 13
    assert np.mean(np.abs(err)) <= 10
    assert abs(np.mean(err)) <= 5


def test_fp8_gemms_predicted_from_the_datasheet_rate(table):
    """No fp8 row was fitted: the tensor rate is the datasheet's, the rest the bf16 calibration."""
    assert np.mean(np.abs(_group(table, "fp8 GEMM"))) <= 10
    assert np.mean(np.abs(_group(table, "bf16 GEMM"))) <= 10


def test_eager_int8_weight_only_and_int_mm(table):
    """Eager `F.linear(x, w.to(bf16)) * s` (cast on the generic path + bf16 GEMM + scale) within 10 %; torch._int_mm
    (CUTLASS's sm80 mma.sync kernel at half Hopper's int8 rate) within 15 %, from 37 % at the wgmma rate."""
    assert np.mean(np.abs(_group(table, "int8 weight-only, eager dequant"))) <= 10
    assert np.mean(np.abs(_group(table, "int8 GEMM (torch._int_mm, sm80 kernel)"))) <= 15


def test_fused_int4_weight_only_gemv(table):
    """tinygemm int4 (group 128) at M = 1: the fused mixed-input kernel the model describes."""
    err = np.array([r["err_pct"] for r in table if r["what"].startswith("w4 M1 ")])
    assert len(err) == 5 and np.mean(np.abs(err)) <= 10 and np.all(np.abs(err) <= 15)


def _steps():
    with open(DATA / "steps.csv") as f:
        return [r for r in csv.reader(f) if r and r[0] == "step" and r[1] == "4096"]


@pytest.mark.parametrize("row", _steps(), ids=lambda r: f"batch{r[3]}")
def test_eager_steps_of_llama2_7b_layers(row):
    """4 LLaMA-2-7B layers at a 512-token context, eager: host-bound (about 14.6 us per kernel), and the model's
    eager profile bounds it from above (no run-ahead credit)."""
    _, _, layers, batch, ctx, kernels, eager_us, _, graph_us = row
    sets = [f"workload.batch={batch}", f"workload.context_len={ctx}", f"workload.layers={layers}",
            "workload.scope=layers", "workload.implementation=eager-pytorch", "workload.execution=eager"]
    eager = simulate(REPO / "hwconfigs/h100.yaml", REPO / "workloads/llama2-7b.yaml", sets).summary["latency_s"]
    assert float(eager_us) <= eager * 1e6 <= 1.5 * float(eager_us)


@pytest.fixture(scope="module")
def steps():
    return step_table(DATA)


def test_whole_cuda_graph_steps_within_5_percent(steps):
    """14 whole steps (LLaMA-2-7B / 13B, decode batch 1-64 at 512-2048 tokens, prefill 128-2048 tokens): MAPE
    within 5 % of one replay timed alone and of the replay's kernel span, none off by more than 8 %."""
    assert len(steps) == 14
    for key in ("err_single_pct", "err_span_pct"):
        err = np.array([r[key] for r in steps])
        assert np.mean(np.abs(err)) <= 5, key
        assert np.all(np.abs(err) <= 8), key


def test_batch_1_steps_have_no_systematic_sign(steps):
    """At batch 1 (decode and prefill) the errors against the kernel span are not all of one sign, and their
    mean is within 3 %."""
    err = np.array([r["err_span_pct"] for r in steps if r["batch"] == 1])
    assert len(err) >= 6
    assert np.any(err > 0) and np.any(err < 0)
    assert abs(np.mean(err)) <= 3
