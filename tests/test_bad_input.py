"""Bad input ends with exit code 2 and one message naming the file, the key path and what is allowed;
never a traceback, never a partial output directory."""

import subprocess
import sys

import pytest

from simulator.cli import ROOT

H100, LLAMA = str(ROOT / "hwconfigs/h100.yaml"), str(ROOT / "workloads/llama2-7b.yaml")
NEUPIMS, GPT3 = str(ROOT / "hwconfigs/neupims.yaml"), str(ROOT / "workloads/gpt3-7b-decode.yaml")


def expect_error(cli, args, *needles):
    code, out, err = cli(*args)
    assert code == 2, (out, err)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


@pytest.mark.parametrize("sets,needles", [
    (["hw.device.units.gpu.smz=132"], ["unknown key 'smz'", "did you mean 'sms'", "device.units.gpu.smz"]),
    (["hw.device.units.gpu.clock=1830 Mhz"], ["did you mean 'MHz'", "device.units.gpu.clock"]),
    (["hw.device.units.gpu.l2_size=-50 MiB"], ["greater than 0", "l2_size"]),
    (["hw.device.memories.hbm.organisation.channels=0"], ["greater than 0", "organisation.channels"]),
    (["hw.device.memories.hbm.organisation.bank_groups=3"], ["power of two", "bank_groups"]),
    (["workload.context_len=5000"], ["exceeds the model's maximum of 4096", "context_len"]),
    (["workload.model=llama2-70b"], ["KV cache per device", "memory", "model"]),
    (["workload.tp=3", "hw.devices=4"], ["does not divide", "tp"]),
    (["workload.dtype=bf15"], ["unknown dtype 'bf15'", "dtype"]),
    (["workload.model=llama2-8b"], ["unknown model 'llama2-8b'", "did you mean"]),
    (["workload.batch=0"], ["greater than 0", "batch"]),
    (["workload.tp=2"], ["tp x pp x dp = 2 devices", "h100 has 1"]),
    (["workload.phase=decoding"], ["'decoding' is not allowed", "phase"]),
    (["hw.device.units.gpu.foo=1"], ["--set hw.device.units.gpu.foo", "unknown key 'foo'"]),
    (["workload.batchsize=4"], ["--set workload.batchsize", "unknown key 'batchsize'", "did you mean 'batch'"]),
    (["hw.device.units.gpu.type=tpu"], ["unknown unit type 'tpu'", "allowed: asic, gpu, npu, pim"]),
    (["hw.mapping.gemm=npu"], ["unknown unit 'npu'", "mapping.gemm"]),
    (["hw.device.memories.hbm.timing={CL: 14, CWL: 4, tRCD: 14, tRP: 14, tRAS: 34, tRC: 40, tCCD_S: 1, "
      "tCCD_L: 2, tRRD_S: 4, tRRD_L: 6, tFAW: 30, tWR: 16, tRTP_S: 4, tWTR_S: 6, tWTR_L: 8, tRFC: 260, "
      "tREFI: 3900}"], ["tRC (40) must be at least tRAS + tRP (48)"]),
    (["workload.trace=missing.csv"], ["trace file not found"]),
])
def test_bad_values(cli, sets, needles):
    args = ["run", H100, LLAMA]
    for s in sets:
        args += ["--set", s]
    expect_error(cli, args, *needles)


def test_requests_beyond_trace(cli):
    expect_error(cli, ["run", NEUPIMS, GPT3, "--set", "workload.requests=600"], "only 512 rows")


def test_missing_file(cli, tmp_path):
    expect_error(cli, ["run", str(tmp_path / "nope.yaml"), LLAMA], "nope.yaml", "file not found")


def test_yaml_syntax_error(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nkind: system\nname: x\ndevice: {units: [\n")
    expect_error(cli, ["run", str(bad), LLAMA], "bad.yaml", "YAML syntax error", "line")


def test_missing_include(cli, tmp_path):
    sysfile = tmp_path / "sys.yaml"
    sysfile.write_text("version: 1\nkind: system\nname: x\ndevice:\n  memories:\n    hbm: {include: nowhere.yaml}\n"
                       "  units:\n    gpu: {type: gpu}\n")
    expect_error(cli, ["run", str(sysfile), LLAMA], "sys.yaml", "device.memories.hbm.include", "nowhere.yaml")


def test_trace_row_does_not_parse(cli, tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("seq_len,ch_idx\n100,1\n12x,3\n")
    expect_error(cli, ["run", NEUPIMS, GPT3, "--set", f"workload.trace={trace}", "--set", "workload.requests=2"],
                 "t.csv", "line 3", "cannot parse")


def test_empty_trace(cli, tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("seq_len,ch_idx\n")
    expect_error(cli, ["run", NEUPIMS, GPT3, "--set", f"workload.trace={trace}", "--set", "workload.requests=1"],
                 "t.csv")


def test_wrong_kind(cli):
    expect_error(cli, ["run", LLAMA, LLAMA], "llama2-7b.yaml", "kind", "allowed here: system")


def test_bad_set_syntax(cli):
    expect_error(cli, ["run", H100, LLAMA, "--set", "batch=4"], "--set", "workload.<key.path>=VALUE")


def test_no_partial_output_directory(cli, tmp_path):
    out = tmp_path / "run"
    expect_error(cli, ["run", H100, LLAMA, "--set", "workload.batch=0", "--out", str(out)], "batch")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_op_dtype_unsupported_by_unit(cli):
    expect_error(cli, ["op", NEUPIMS, "gemm", "64", "64", "64", "--dtype", "fp8"], "no fp8", "fp16")


def test_entry_point_prints_no_traceback():
    """The installed console script behaves like main(): one line on stderr, exit 2."""
    proc = subprocess.run([sys.executable, "-m", "simulator.cli", "run", H100, LLAMA, "--set",
                           "workload.model=gpt5"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert proc.stdout == ""
