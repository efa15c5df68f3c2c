"""Bad input ends with exit code 2 and one message naming the file, the key path and what is allowed;
never a traceback, never a partial output directory."""

import re
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
])
def test_bad_values(cli, sets, needles):
    args = ["run", H100, LLAMA]
    for s in sets:
        args += ["--set", s]
    expect_error(cli, args, *needles)


def test_missing_trace(cli):
    expect_error(cli, ["run", NEUPIMS, GPT3, "--set", "workload.trace=missing.csv"], "trace file not found")


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


# Issue 13: every input of the report ends as exit 2 and one line (file or option, key path, what is allowed).

@pytest.mark.parametrize("sets,needles", [
    (["hw.device.units.gpu.clock=1e400 GHz"], ["not a finite frequency", "device.units.gpu.clock"]),
    (["hw.device.units.gpu.cuda_flops_per_clock_per_sm=.nan"], ["finite", "cuda_flops_per_clock_per_sm"]),
    (["hw.device.units.gpu.tensor_flops_per_clock_per_sm.bf16=0"], ["greater than 0", "tensor_flops"]),
    (["hw.device.units.gpu.tensor_flops_per_clock_per_sm.fp16=-5"], ["greater than 0", "tensor_flops"]),
    (["hw.device.units.gpu.tensor_flops_per_clock_per_sm.bf61=5"], ["bf61", "tensor_flops"]),
    (["hw.device.memories.hbm.controller.address_mapping=zzzz"], ["unknown field 'zz'", "address_mapping"]),
    (["workload.batch=1000000000000"], ["beyond the limit of 65536", "batch"]),
    (["workload.layers=100"], ["layers=100 but llama2-7b has 32", "allowed: 1 to 32"]),
    (["workload.batch=true"], ["valid integer", "batch"]),
    (["workload.batch=4.0"], ["valid integer", "batch"]),
    (["hw.device.units.gpu.sms=true"], ["valid integer", "sms"]),
    (["hw.device.memories.hbm.tck=1 ns"], ["tck", "data_rate", "disagree"]),
    (["hw.device.units.gpu.type=gpu", "hw.device.units.gpu.kind=banana"], ["kind is 'banana'", "allowed here: unit"]),
    (["workload.prompt_len=64"], ["prompt_len is not used", "decode"]),
    (["workload.layers=1e400"], ["layers"]),
])
def test_issue_13_values(cli, sets, needles):
    args = ["run", H100, LLAMA]
    for s in sets:
        args += ["--set", s]
    expect_error(cli, args, *needles)


def test_unknown_energy_action_is_an_error(cli, tmp_path):
    unit = re.sub(r"^(\s*)mac\.bf16:", r"\1mac.bf61:", (ROOT / "hwconfigs/gpu/h100-sxm.yaml").read_text(), count=1,
                  flags=re.M)
    assert "mac.bf61:" in unit
    (tmp_path / "gpu.yaml").write_text(unit)
    system = (ROOT / "hwconfigs/h100.yaml").read_text().replace("gpu/h100-sxm.yaml", str(tmp_path / "gpu.yaml"))
    for folder in ("gpu", "links"):
        system = system.replace(f"include: {folder}/", f"include: {ROOT}/hwconfigs/{folder}/")
    (tmp_path / "sys.yaml").write_text(system)
    expect_error(cli, ["run", tmp_path / "sys.yaml", LLAMA], "unknown energy action 'mac.bf61'",
                 "did you mean 'mac.bf16'", "energy")


def test_duplicate_yaml_key(cli, tmp_path):
    wl = tmp_path / "w.yaml"
    wl.write_text(LLAMA_TEXT() + "batch: 8\n")
    expect_error(cli, ["run", H100, wl], "w.yaml", "duplicate key 'batch'")


def LLAMA_TEXT():
    return (ROOT / "workloads/llama2-7b.yaml").read_text()


def trace_workload(tmp_path, rows, phase="decode", extra=""):
    (tmp_path / "t.csv").write_text("seq_len,ch_idx\n" + "".join(f"{r}\n" for r in rows))
    wl = tmp_path / "w.yaml"
    wl.write_text(f"version: 1\nkind: workload\nname: t\nmodel: gpt3-7b\nphase: {phase}\ntrace: t.csv\n"
                  f"implementation: unfused\n{extra}")
    return wl


@pytest.mark.parametrize("extra,needle", [("batch: 4\n", "batch is not used"),
                                          ("context_len: 64\n", "context_len is not used")])
def test_keys_a_trace_overrides_are_errors(cli, tmp_path, extra, needle):
    expect_error(cli, ["run", NEUPIMS, trace_workload(tmp_path, ["10,0", "20,1"], extra=extra)], needle)


def test_trace_channel_beyond_the_pim_channels(cli, tmp_path):
    expect_error(cli, ["run", NEUPIMS, trace_workload(tmp_path, ["10,0", "20,32"], extra="layers: 1\n")],
                 "ch_idx 32", "32 channels", "allowed: 0 to 31")


def test_rows_beyond_requests_are_validated(cli, tmp_path):
    expect_error(cli, ["run", NEUPIMS, trace_workload(tmp_path, ["10,0", "20,1", "x,1"], extra="requests: 1\n")],
                 "line 4", "cannot parse")


def test_binary_and_directory_traces(cli, tmp_path):
    (tmp_path / "bin.csv").write_bytes(bytes(range(128, 256)) * 4)
    expect_error(cli, ["run", NEUPIMS, GPT3, "--set", f"workload.trace={tmp_path / 'bin.csv'}"],
                 "bin.csv", "UTF-8 CSV")
    (tmp_path / "d.csv").mkdir()
    expect_error(cli, ["run", NEUPIMS, GPT3, "--set", f"workload.trace={tmp_path / 'd.csv'}"],
                 "d.csv", "is a directory")


def test_prefill_with_a_trace_runs_the_trace_prompts(cli_json, tmp_path):
    wl = trace_workload(tmp_path, ["100,0", "300,1", "100,2"], phase="prefill", extra="layers: 1\n")
    out = cli_json("run", H100, wl)
    assert out["tokens"]["processed"] == 500 and out["tokens"]["batch"] == 3
    # attention FLOPs of causal prompts: 4 heads d sum_i L_i (L_i + 1) / 2 per layer (gpt3-7b: 32 x 128)
    pairs = sum(n * (n + 1) / 2 for n in (100, 300, 100))
    assert out["flops_by_class"]["attention"] == pytest.approx(4 * 4096 * pairs, rel=1e-12)


@pytest.mark.parametrize("content,needle", [("[1, 2]", "expected a JSON object"),
                                            ('{"model_type": "bert", "hidden_size": 768}', "'bert' is not a supported"),
                                            (None, "is a directory")])
def test_hf_config_that_is_not_a_decoder(cli, tmp_path, content, needle):
    cfg = tmp_path / "config.json"
    if content is None:
        cfg.mkdir()
    else:
        cfg.write_text(content)
    expect_error(cli, ["run", H100, LLAMA, "--set", f"workload.model={cfg}"], needle)


def test_op_on_the_link_and_huge_shapes(cli):
    expect_error(cli, ["op", H100, "gemm", "4", "4", "4", "--unit", "link"], "--unit", "runs only collectives")
    expect_error(cli, ["op", H100, "gemm"] + ["1000000000000"] * 3, "more than the", "memory 'hbm'")
    expect_error(cli, ["op", H100, "rmsnorm", "--tokens", "4", "--hidden", "8", "--unit", "gpux"], "unknown unit")


def test_op_utilisation_uses_the_peak_of_its_dtype(cli_json):
    bf16 = cli_json("op", H100, "gemm", "8192", "8192", "8192", "--dtype", "bf16", "--level", "analytical")
    # compute-bound at the bf16 peak except for the launch overhead: not 1/2 (the fp8 peak's share)
    assert bf16["utilisation"] == pytest.approx(bf16["t_compute_s"] / bf16["latency_s"], rel=1e-9)


def test_argparse_usage_errors_are_one_line(cli):
    expect_error(cli, ["op", H100, "gemm", "1", "x", "3"], "argument N", "'x' is not an integer")
    expect_error(cli, ["op", H100, "attention-decode", "--heads", "4"], "required")
    expect_error(cli, ["bogus"], "invalid choice")


@pytest.mark.parametrize("trace,needle", [
    ("100000000000000000000000 R 0x0\n", "outside 0 to"),
    ("0 R 0x0\n9000000000000000000 R 0x40\n", "outside 0 to"),
    ("0 R 0x0\n4000000000000000000 R 0x40\n", "refresh intervals"),
])
def test_memtrace_cycles_are_bounded(cli, tmp_path, trace, needle):
    (tmp_path / "t.trace").write_text(trace)
    expect_error(cli, ["memtrace", ROOT / "hwconfigs/memory/ddr4-3200.yaml", tmp_path / "t.trace"], needle)


def test_memtrace_transaction_level_jumps_idle_time(cli_json, tmp_path):
    (tmp_path / "t.trace").write_text("0 R 0x0\n4000000000000000000 R 0x40\n")
    out = cli_json("memtrace", ROOT / "hwconfigs/memory/ddr4-3200.yaml", tmp_path / "t.trace",
                   "--level", "transaction")
    assert out["sim_cycles"] >= 4000000000000000000


@pytest.mark.parametrize("content", ["[1, 2]\n", "hello\n"])
def test_memtrace_hardware_that_is_not_a_mapping(cli, tmp_path, content):
    (tmp_path / "m.yaml").write_text(content)
    (tmp_path / "t.trace").write_text("0 R 0x0\n")
    expect_error(cli, ["memtrace", tmp_path / "m.yaml", tmp_path / "t.trace"], "m.yaml", "mapping")


@pytest.mark.parametrize("kwargs,needle", [({"level": "bogus"}, "level"), ({"sets": [None]}, "sets"),
                                           ({"sets": "workload.batch=2"}, "sets"), ({"progress": 5}, "progress"),
                                           ({"memoise": "no"}, "memoise")])
def test_api_arguments(kwargs, needle):
    from simulator.errors import UserError
    from simulator.run import simulate

    with pytest.raises(UserError, match=needle):
        simulate(H100, LLAMA, **kwargs)


def test_summary_says_which_level_each_unit_ran_at(cli_json):
    out = cli_json("run", H100, LLAMA, "--set", "workload.layers=1", "--level", "command")
    assert out["level"] == "command" and out["unit_levels"] == {"gpu": "transaction", "link": "analytical"}


@pytest.mark.parametrize("sets,needles", [
    (["hw.device.units.npu.cores=1180591620717411303424"], ["too large", "2^53", "cores"]),
    (["hw.device.units.gpu.sms=4"], ["--set hw.device.units.gpu.sms", "unknown unit type"]),
    (["hw.device.memories.hbm.timing.tRTP_S=4000000000"], ["tRTP_S", "shorter than the refresh interval"]),
])
def test_absurd_magnitudes(cli, sets, needles):
    args = ["run", ROOT / "hwconfigs/npu-only.yaml", GPT3, "--set", "workload.requests=2"]
    for s in sets:
        args += ["--set", s]
    expect_error(cli, args, *needles)


def test_included_file_of_an_unknown_kind(cli, tmp_path):
    (tmp_path / "link.yaml").write_text("version: 1\nkind: banana\nname: l\nbandwidth: 1 GB/s\nlatency: 1 us\n")
    system = (ROOT / "hwconfigs/h100.yaml").read_text().replace("include: links/nvlink4.yaml",
                                                                f"include: {tmp_path / 'link.yaml'}")
    system = system.replace("include: gpu/", f"include: {ROOT}/hwconfigs/gpu/")
    (tmp_path / "sys.yaml").write_text(system)
    expect_error(cli, ["run", tmp_path / "sys.yaml", LLAMA], "link.yaml", "kind is 'banana'")


def test_op_dtype_error_names_the_option(cli):
    expect_error(cli, ["op", NEUPIMS, "gemm", "64", "64", "64", "--dtype", "fp8"], "--dtype", "no fp8")


@pytest.mark.parametrize("sets,needles", [
    (["hw.device.units.pim.clock=1e-09 GHz"], ["greater than or equal to 1000000", "pim.clock"]),
    (["hw.device.units.pim.comp_elements=16000000000"], ["comp_elements", "exceeds the", "allowed: 1 to"]),
    (["hw.device.units.pim.act_to_comp=1e+300"], ["act_to_comp", "less than or equal to 4294967296"]),
    (["hw.device.units.npu.type=[]"], ["unknown unit type []", "device.units.npu.type"]),
])
def test_fuzzing_finds(cli, sets, needles):
    """Inputs the 2 000-example fuzzing run found (hangs, int64 overflow, unhashable types)."""
    args = ["run", NEUPIMS, GPT3, "--set", "workload.requests=4", "--set", "workload.layers=1"]
    for s in sets:
        args += ["--set", s]
    expect_error(cli, args, *needles)


@pytest.mark.parametrize("hw,sets,needles", [
    (H100, ["hw.device.units.gpu.memory=null"], ["device.units.gpu.memory", "set memory:"]),
    (ROOT / "hwconfigs/npu-only.yaml", ["hw.device.units.npu.macs_per_pe={}"], ["macs_per_pe", "at least 1"]),
])
def test_fuzzing_finds_empty_parts(cli, hw, sets, needles):
    args = ["run", hw, GPT3 if hw != H100 else LLAMA, "--set", "workload.layers=1"]
    args += ["--set", "workload.requests=4"] if hw != H100 else []
    for s in sets:
        args += ["--set", s]
    expect_error(cli, args, *needles)


@pytest.mark.parametrize("sets,needles", [
    (["hw.device.units.pim.gwrite_bursts=32000000000"], ["gwrite_bursts", "refresh interval"]),
    (["hw.device.units.pim.pipeline_fill=100000000"], ["pipeline_fill", "refresh interval"]),
])
def test_pim_commands_longer_than_a_refresh_interval(cli, sets, needles):
    """A hang the third 2 000-example fuzzing run found: a GWRITE of 3.2e10 bursts."""
    args = ["run", NEUPIMS, GPT3, "--set", "workload.requests=4", "--set", "workload.layers=1"]
    for s in sets:
        args += ["--set", s]
    expect_error(cli, args, *needles)


@pytest.mark.parametrize("sets,needles", [
    (["hw.device.memories.hbm.organisation.bank_groups=3"], ["3 must be a power of two", "bank_groups"]),
    (["hw.device.units.pim.dtype=1e400 GB/s"], ["pim.dtype", "is not allowed"]),
])
def test_fuzzing_finds_model_shapes(cli, sets, needles):
    """Inputs the fourth 2 000-example fuzzing run found."""
    args = ["run", NEUPIMS, GPT3, "--set", "workload.requests=4", "--set", "workload.layers=1"]
    for s in sets:
        args += ["--set", s]
    expect_error(cli, args, *needles)
