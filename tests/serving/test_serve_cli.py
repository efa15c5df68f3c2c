"""`simulate serve` and `simulate plan` end to end: outputs, sweep, plan ranking; arrival statistics."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from simulator.report.outputs import MARKER
from simulator.serving.requests import arrivals, synthetic


def test_serve_writes_its_outputs(cli, tmp_path):
    out = tmp_path / "run"
    code, text, err = cli("serve", "h100", "llama2-7b", "--rate", "4", "--requests", "30", "--slo",
                          "ttft=200ms,tpot=50ms", "--out", out)
    assert code == 0, err
    assert "TTFT" in text and "goodput" in text
    names = {p.name for p in out.iterdir()} - {MARKER}        # the run-record marker (docs/errors.md)
    assert names == {"requests.csv", "iterations.csv", "transfers.csv", "summary.json", "trace.json",
                     "latency_cdf.png", "timeline.png"}
    req = pd.read_csv(out / "requests.csv")
    assert len(req) == 30 and (req["ttft_s"] > 0).all()
    trace = json.loads((out / "trace.json").read_text())
    it = pd.read_csv(out / "iterations.csv")
    assert sum(1 for e in trace["traceEvents"] if e["ph"] == "X") == len(it)


def test_sweep_finds_the_highest_rate_meeting_the_slo(cli_json, tmp_path):
    out = cli_json("serve", "h100", "llama2-7b", "--sweep-rate", "2:6:2", "--requests", "20", "--lengths",
                   "fixed:128:32", "--slo", "ttft=1s,tpot=1s", "--out", tmp_path / "sweep")
    assert {p.name for p in (tmp_path / "sweep").iterdir()} - {MARKER} == {"sweep.csv", "latency_vs_load.png"}
    rates = [r["rate"] for r in out["sweep"]]
    assert rates == [2.0, 6.0] and out["max_rate_meeting_slo"] == 6.0
    strict = cli_json("serve", "h100", "llama2-7b", "--sweep-rate", "2:6:2", "--requests", "20", "--lengths",
                      "fixed:128:32", "--slo", "tpot=1us")
    assert strict["max_rate_meeting_slo"] is None


def test_plan_lists_plans_and_a_pareto_set(cli_json):
    out = cli_json("plan", "h100", "llama2-7b", "--rate", "4", "--devices", "2", "--requests", "20",
                   "--lengths", "fixed:128:16", "--slo", "ttft=500ms,tpot=100ms")
    labels = {p["plan"] for p in out["plans"]}
    assert labels == {"tp1 pp1 dp2", "tp1 pp1 P1:D1", "tp2 pp1 dp1", "tp1 pp2 dp1"}
    goodput = [p["goodput_rps"] for p in out["plans"]]
    assert goodput == sorted(goodput, reverse=True)
    assert out["pareto"] and {p["plan"] for p in out["pareto"]} <= labels


@pytest.mark.parametrize("process, cv", [("poisson", 1.0), ("gamma", 3.0), ("gamma", 0.5)])
def test_arrivals_have_the_asked_rate_and_burstiness(process, cv):
    t = arrivals(200_000, 5.0, process, cv, rng=np.random.default_rng(0))
    gaps = np.diff(t)
    assert gaps.mean() == pytest.approx(0.2, rel=0.02)
    assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.03)


def test_dataset_lengths_fit_the_model_and_follow_the_table():
    s = synthetic(20_000, 1.0, "sharegpt", 4096, seed=1)
    assert (s.prompt >= 1).all() and (s.output >= 1).all() and (s.prompt + s.output <= 4096).all()
    table = pd.read_csv("workloads/traces/sharegpt_token_lengths.tsv", sep="\t")
    fit = table[(table.input_toks >= 1) & (table.output_toks >= 1) & (table.input_toks + table.output_toks <= 4096)]
    assert s.prompt.mean() == pytest.approx(fit.input_toks.mean(), rel=0.05)
    assert s.output.mean() == pytest.approx(fit.output_toks.mean(), rel=0.05)
