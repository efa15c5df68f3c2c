"""The command-line contracts of DESIGN.md: run --json keys, --out files, op, list, show, regress."""

import csv
import json

import pytest

from simulator.cli import ROOT
from simulator.report.outputs import MARKER

H100, LLAMA = str(ROOT / "hwconfigs/h100.yaml"), str(ROOT / "workloads/llama2-7b.yaml")
DESIGN_KEYS = {"latency_s", "cycles", "throughput_tokens_per_s", "energy_j", "bandwidth", "utilisation", "stages",
               "params", "flops", "config"}


def test_default_job_json_summary(cli_json):
    s = cli_json("run", H100, LLAMA)
    assert DESIGN_KEYS <= set(s)
    assert s["params"] == pytest.approx(6.74e9, rel=0.005)
    assert set(s["energy_j"]["by_component"]) >= {"gpu", "hbm"}
    assert {"bytes", "gbps", "utilisation"} <= set(s["bandwidth"]["hbm"])
    assert s["config"]["hw"]["name"] == "h100" and s["config"]["workload"]["model"] == "llama2-7b"
    assert s["config"]["hw"]["device"]["units"]["gpu"]["sms"] == 132  # includes resolved


def test_set_overrides_both_files(cli_json):
    base = cli_json("run", H100, LLAMA)
    faster = cli_json("run", H100, LLAMA, "--set", "hw.device.memories.hbm.data_rate=10 Gbps",
                      "--set", "hw.device.memories.hbm.tck=0.2 ns", "--set", "workload.batch=2")
    assert faster["tokens"]["batch"] == 2
    assert faster["config"]["hw"]["device"]["memories"]["hbm"]["data_rate"] == "10 Gbps"
    assert faster["latency_s"] < base["latency_s"]


def test_out_directory(cli, tmp_path):
    out = tmp_path / "run1"
    code, text, err = cli("run", H100, LLAMA, "--set", "workload.layers=2", "--out", out)
    assert code == 0, err
    assert {p.name for p in out.iterdir()} - {MARKER} == {"summary.json", "ops.csv", "trace.json", "hw.yaml",
                                                          "workload.yaml", "time_by_op.png", "roofline.png"}
    trace = json.loads((out / "trace.json").read_text())
    tracks = {e["args"]["name"] for e in trace["traceEvents"] if e.get("name") == "thread_name"}
    assert tracks == {"gpu"}
    spans = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert max(e["ts"] + e["dur"] for e in spans) == pytest.approx(
        json.loads((out / "summary.json").read_text())["latency_s"] * 1e6, rel=1e-9)
    with (out / "ops.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {"op", "kind", "unit", "count", "time_us", "flops", "bytes", "bound"} <= set(rows[0])
    # a second run replaces the directory whole
    code, _, _ = cli("run", H100, LLAMA, "--set", "workload.layers=1", "--out", out)
    assert code == 0
    assert json.loads((out / "summary.json").read_text())["layers_simulated"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["run1"]


def test_multi_unit_trace_has_a_track_per_unit_engine(cli, tmp_path):
    out = tmp_path / "np"
    code, _, err = cli("run", ROOT / "hwconfigs/neupims.yaml", ROOT / "workloads/gpt3-7b-decode.yaml", "--set",
                       "workload.requests=4", "--set", "workload.layers=1", "--out", out)
    assert code == 0, err
    trace = json.loads((out / "trace.json").read_text())
    network = next(e["pid"] for e in trace["traceEvents"] if e.get("args", {}).get("name") == "network")
    tracks = {e["args"]["name"] for e in trace["traceEvents"] if e.get("name") == "thread_name" and e["pid"] != network}
    assert tracks == {"npu", "npu.vector", "pim", "link"}          # the NPU's vector units have their own track
    links = {e["args"]["name"] for e in trace["traceEvents"] if e.get("name") == "thread_name" and e["pid"] == network}
    assert links == {f"device.{i}->switch (link)" for i in range(4)} | {f"switch->device.{i} (link)" for i in range(4)}
    assert {e["pid"] for e in trace["traceEvents"] if e["ph"] == "X"} == {0, 1, 2, 3, network}   # a process per rank
    for track in {(e["pid"], e["tid"]) for e in trace["traceEvents"] if e["ph"] == "X"}:   # one op at a time
        spans = sorted((e["ts"], e["ts"] + e["dur"]) for e in trace["traceEvents"]
                       if e["ph"] == "X" and (e["pid"], e["tid"]) == track)
        assert all(b[0] >= a[1] - 1e-6 for a, b in zip(spans, spans[1:]))


def test_readable_summary(cli):
    code, out, _ = cli("run", H100, LLAMA)
    assert code == 0
    assert "latency" in out and "tokens/s" in out and "energy" in out


@pytest.mark.parametrize("args,kind", [
    (["gemm", "16", "4096", "4096"], "gemm"),
    (["attention-decode", "--batch", "8", "--heads", "32", "--head-dim", "128", "--kv-len", "1024"], "attention"),
    (["attention-prefill", "--heads", "32", "--kv-heads", "8", "--head-dim", "128", "--seq", "512", "--causal"],
     "attention"),
    (["rmsnorm", "--tokens", "1", "--hidden", "4096", "--implementation", "eager-pytorch"], "rmsnorm"),
    (["softmax", "--rows", "32", "--cols", "32000"], "softmax"),
])
def test_op(cli_json, args, kind):
    r = cli_json("op", H100, *args)
    assert r["op"] == kind and r["latency_s"] > 0 and r["unit"] == "gpu"
    assert 0 <= r["utilisation"] <= 1


def test_op_gemm_is_memory_bound_at_small_m_and_compute_bound_at_large_m(cli_json):
    assert cli_json("op", H100, "gemm", "1", "4096", "4096")["bound"] == "memory"
    assert cli_json("op", H100, "gemm", "8192", "8192", "8192")["bound"] == "compute"


def test_list_and_show(cli):
    code, out, _ = cli("list")
    assert code == 0 and "hwconfigs/h100.yaml" in out and "workloads/models/llama2-70b.yaml" in out
    code, out, _ = cli("show", "neupims")
    assert code == 0 and "channels: 32" in out and "include:" not in out
    code, out, _ = cli("show", "llama2-7b", "--set", "workload.batch=8")
    assert code == 0 and "batch: 8" in out


def test_regress_passes_on_the_committed_baseline(cli):
    code, out, err = cli("regress")
    assert code == 0, out + err
    assert "MOVED" not in out


def test_regress_fails_with_a_readable_diff(cli, tmp_path):
    rows = list(csv.DictReader((ROOT / "reports/baseline.csv").open()))[:3]
    rows[0]["value"] = str(float(rows[0]["value"]) * 1.5)
    path = tmp_path / "x" / "baseline.csv"
    path.parent.mkdir()
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    code, out, err = cli("regress", "--baseline", path)
    assert code == 1
    assert "MOVED" in out and "-33.33%" in out
    assert cli("regress", "--baseline", path, "--update")[0] == 0
    assert cli("regress", "--baseline", path)[0] == 0


def test_memtrace(cli_json, tmp_path):
    trace = tmp_path / "seq.trace"
    trace.write_text("".join(f"0 R 0x{i * 64:x}\n" for i in range(2000)))
    r = cli_json("memtrace", ROOT / "hwconfigs/memory/dramsim3-hbm2.yaml", trace)
    assert {"bandwidth_gbps", "avg_read_latency_ns", "avg_read_latency_cycles", "row_hit_rate", "sim_cycles",
            "commands", "energy_j"} <= set(r)
    assert 0 < r["bandwidth_gbps"] <= 256.0 and r["row_hit_rate"] > 0.9


def test_memtrace_bad_line(cli, tmp_path):
    trace = tmp_path / "bad.trace"
    trace.write_text("0 R 0x0\n5 Q 0x40\n")
    code, _, err = cli("memtrace", ROOT / "hwconfigs/memory/dramsim3-hbm2.yaml", trace)
    assert code == 2 and "bad.trace" in err and "line 2" in err


def test_noc_zero_load(cli_json):
    r = cli_json("noc", ROOT / "hwconfigs/noc/booksim-mesh8x8.yaml", "--injection-rate", "0.01")
    assert r["avg_hops"] == pytest.approx(6.25, rel=0.03)
    assert r["avg_packet_latency_cycles"] == pytest.approx(33.4, rel=0.03)
