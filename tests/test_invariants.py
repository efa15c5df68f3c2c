"""Invariants checked at the end of every run (simulator/invariants.py): a violation is an internal error (exit 3,
one line asking for a bug report), never a result; utilisations within rounding of 1 are clamped to 1."""

import copy
import math

import pytest

from simulator import run as run_module
from simulator.cli import ROOT
from simulator.errors import InternalError
from simulator.invariants import check_run
from simulator.run import simulate

H100, LLAMA = str(ROOT / "hwconfigs/h100.yaml"), str(ROOT / "workloads/llama2-7b.yaml")


@pytest.fixture(scope="module")
def one_layer():
    r = simulate(H100, LLAMA, ["workload.layers=1"])
    return r, r.summary


def test_a_real_run_holds_them(one_layer):
    r, s = one_layer
    assert all(0 <= u <= 1 for u in s["utilisation"].values())
    assert s["bandwidth"]["hbm"]["bytes"] >= sum(op.weight_bytes * n for op, n in r.graph.ops())
    assert s["energy_j"]["total"] > 0


def test_rounding_above_one_is_clamped(one_layer):
    r, s = one_layer
    s = copy.deepcopy(s)
    s["utilisation"]["gpu"] = 1.0000000000000009
    check_run(r, s)
    assert s["utilisation"]["gpu"] == 1.0


@pytest.mark.parametrize("path,value,needle", [
    (("utilisation", "gpu"), 1.01, "outside [0, 1]"),
    (("latency_s",), math.nan, "finite"),
    (("energy_j", "total"), math.inf, "finite"),
    (("energy_j", "total"), 0.0, "energy_j.total"),
    (("bandwidth", "hbm", "gbps"), 1e9, "exceeds the peak"),
    (("bandwidth", "hbm", "bytes"), 1.0, "fewer than the"),
])
def test_violations_are_internal_errors(one_layer, path, value, needle):
    r, s = one_layer
    s = copy.deepcopy(s)
    node = s
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(InternalError, match=needle.replace("[", r"\[")):
        check_run(r, s)


def test_the_cli_reports_a_violation_as_exit_3_in_one_line(cli, monkeypatch):
    def broken(run, summary):
        raise InternalError("utilisation.gpu is 1.5, outside [0, 1]")
    monkeypatch.setattr(run_module, "check_run", broken)
    code, out, err = cli("run", H100, LLAMA, "--set", "workload.layers=1", "--json")
    assert code == 3 and out == ""
    assert err.startswith("error: internal error: utilisation.gpu") and err.count("\n") == 1
    assert "bug" in err and "Traceback" not in err


def test_an_unexpected_exception_is_exit_3_in_one_line(cli, monkeypatch):
    def boom(*a, **k):
        raise ZeroDivisionError("float division by zero")
    monkeypatch.setattr("simulator.run.simulate", boom)
    code, _, err = cli("run", H100, LLAMA)
    assert code == 3 and err.count("\n") == 1 and "ZeroDivisionError" in err and "report" in err
