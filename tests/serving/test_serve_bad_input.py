"""Bad serving input: exit code 2 and one line naming the file or option, the key and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest


def write(tmp_path, text: str):
    p = tmp_path / "trace.csv"
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("body, args, needle", [
    ("prompt_len,output_len\n10,5\n", [], "no arrival_s column and no --rate"),
    ("arrival_s,prompt_len,output_len\n0,-3,5\n", [], "line 2: prompt_len must be an integer >= 1"),
    ("arrival_s,prompt_len,output_len\n0,nan,5\n", [], "line 2: prompt_len is not a finite number"),
    ("arrival_s,prompt_len,output_len\n0,10,0\n", [], "line 2: output_len must be an integer >= 1"),
    ("arrival_s,prompt_len,output_len\n0,5000,10\n", [], "exceeds the model's 4096 positions"),
    ("arival_s,prompt_len,output_len\n0,5,10\n", [], "did you mean 'arrival_s'"),
])
def test_bad_traces(cli, tmp_path, body, args, needle):
    path = write(tmp_path, body)
    code, out, err = cli("serve", "h100", "llama2-7b", "--trace", path, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: {path}") and needle in err


@pytest.mark.parametrize("args, needle", [
    (["--rate", "0"], "error: --rate: rate must be > 0"),
    (["--rate", "-1"], "error: --rate: rate must be > 0"),
    (["--rate", "1", "--slo", "ttft=200"], "error: --slo: ttft: '200' is not a positive time; allowed:"),
    (["--rate", "1", "--slo", "latency=2s"], "error: --slo: latency: 'latency=2s' is not an SLO; allowed:"),
    (["--rate", "1", "--scheduler", "vlm"], "unknown scheduler 'vlm' (did you mean 'vllm'?); allowed: sarathi, "
                                              "static, vllm"),
    (["--rate", "1", "--lengths", "fixed:5000:10"], "error: --lengths: fixed:5000:10: prompt_len + output_len"),
    (["--rate", "1", "--lengths", "fixed:0:10"], "error: --lengths: fixed:0:10: prompt_len must be"),
    (["--rate", "1", "--set", "serve.max_bach=3"], "error: --set: serve.max_bach"),
    (["--rate", "1", "--set", "workload.model=llama2-70b"], "fewer than one request's"),
    (["--sweep-rate", "5:1:3"], "error: --sweep-rate:"),
])
def test_bad_options(cli, args, needle):
    code, out, err = cli("serve", "h100", "llama2-7b", *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and needle in err, err


def test_prefill_group_that_cannot_hold_one_request(cli, tmp_path):
    """A prefill system with 15 GiB per device: 13.5 GB of LLaMA-2-7B weights leave too little for 3100 tokens."""
    small = tmp_path / "small-h100.yaml"
    root = Path(__file__).resolve().parents[2] / "hwconfigs"
    small.write_text(f"""version: 1
kind: system
name: small-h100
devices: 1
level: transaction
device:
  memories:
    hbm: {{include: {root}/gpu/h100-hbm3.yaml, capacity: 15 GiB}}
  units:
    gpu: {{include: {root}/gpu/h100-sxm.yaml, memory: hbm}}
""")
    code, out, err = cli("serve", "h100", "llama2-7b", "--rate", "1", "--lengths", "fixed:3000:100",
                         "--set", "serve.disaggregation.prefill=1", "--set", "serve.disaggregation.decode=1",
                         "--set", f"serve.disaggregation.prefill_hw={small}")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"error: --set serve.disaggregation.prefill_hw={small} (prefill group, small-h100): kv: "
                          "the KV cache holds") and "fewer than one request's 3100" in err, err


def test_replica_size_key_follows_the_system_file_form():
    """Plans resize a replica's system: `hw.devices` in a single-description file, the first group's count in a
    file of device groups (hgx-h100), so plan search runs on both."""
    from simulator.cli import ROOT
    from simulator.hardware.system import load_system
    from simulator.serving.groups import device_count_key

    assert device_count_key(load_system(ROOT / "hwconfigs/h100.yaml")) == "hw.devices"
    hgx = load_system(ROOT / "hwconfigs/hgx-h100.yaml")
    key = device_count_key(hgx)
    assert key == f"hw.groups.{next(iter(hgx.groups))}.count"
    assert load_system(ROOT / "hwconfigs/hgx-h100.yaml", {key.removeprefix("hw."): 2}).devices == 2
