"""Replayable records and the in-memory API: `--out` writes inputs that rerun to the same summary, and simulate()
takes names, paths, dicts and spec objects with overrides as a dict or `--set` strings."""

import json

import pandas as pd
import pytest
import yaml

from simulator.catalogue import find
from simulator.config.loader import read_yaml
from simulator.errors import ConfigError
from simulator.run import simulate

SMALL = ["workload.requests=4", "workload.layers=1"]
VOLATILE = ("provenance", "wall_time_s")


def same_summary(a: dict, b: dict) -> dict:
    """Keys whose values differ, volatile ones aside (JSON round trip on both sides)."""
    a, b = (json.loads(json.dumps(x, default=float)) for x in (a, b))
    return {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if k not in VOLATILE and a.get(k) != b.get(k)}


def test_a_record_reruns_to_the_same_summary(cli, tmp_path):
    out = tmp_path / "rec"
    code, _, err = cli("run", "neupims", "gpt3-7b-decode", *[x for s in SMALL for x in ("--set", s)],
                       "--set", "hw.devices=2", "--set", "workload.tp=2", "--level", "command", "--no-memoise",
                       "--out", out)
    assert code == 0, err
    first = json.loads((out / "summary.json").read_text())
    trace = read_yaml(out / "workload.yaml")["trace"]
    assert (out / trace).is_file()                      # the trace travels with the record
    assert read_yaml(out / "hw.yaml")["level"] == "command" and read_yaml(out / "hw.yaml")["devices"] == 2
    assert read_yaml(out / "workload.yaml")["schedule"]["memoise"] is False
    code, text, err = cli("run", out / "hw.yaml", out / "workload.yaml", "--json")
    assert code == 0, err
    again = json.loads(text)
    assert same_summary(first, again) == {}
    assert first["level"] == "command"
    prov = first["provenance"]
    assert set(prov) == {"version", "commit", "command", "timestamp", "wall_s"}
    assert prov["command"][0] == "simulate" and prov["wall_s"] > 0

    import simulator

    assert prov["version"] == simulator.__version__


def test_record_files_hold_every_default(tmp_path):
    run = simulate("h100", "llama2-7b", overrides={"workload.layers": 1})
    run.save(tmp_path / "r")
    wl = yaml.safe_load((tmp_path / "r" / "workload.yaml").read_text())
    hw = yaml.safe_load((tmp_path / "r" / "hw.yaml").read_text())
    assert {"chunk_len", "scope", "schedule", "dtype"} <= set(wl)        # defaults the file did not spell out
    assert "include" not in json.dumps(hw)                               # parts inlined
    rerun = simulate(tmp_path / "r" / "hw.yaml", tmp_path / "r" / "workload.yaml")
    assert rerun.summary["latency_s"] == run.summary["latency_s"]


def test_inputs_as_names_paths_dicts_and_objects():
    base = simulate(find("h100"), find("llama2-7b", kinds=("workload",)), ["workload.layers=1"])
    latency = base.summary["latency_s"]
    assert simulate("h100", "llama2-7b", overrides={"workload.layers": 1}).summary["latency_s"] == latency
    assert simulate(base.system, base.workload).summary["latency_s"] == latency
    assert simulate(base.system, base.workload.spec).summary["latency_s"] == latency
    assert simulate(base.system, {**base.workload.resolved}).summary["latency_s"] == latency
    hw_inline = base.summary["config"]["hw"]                              # a dict with its parts inlined
    assert simulate(hw_inline, "llama2-7b", overrides=["workload.layers=1"]).summary["latency_s"] == latency
    # an object with overrides is rebuilt from its resolved config: the override applies
    faster = simulate(base.system, base.workload, overrides={"hw.device.memories.hbm.data_rate": "10 Gbps",
                                                             "hw.device.memories.hbm.tck": "0.2 ns"})
    assert faster.summary["latency_s"] < latency
    with pytest.raises(ConfigError, match="expected a name, path, dict or spec object"):
        simulate(42, "llama2-7b")


def test_overrides_as_dict_or_set_strings_agree_and_apply():
    as_dict = simulate("h100", "llama2-7b", overrides={"workload.layers": 1, "workload.batch": 8})
    as_list = simulate("h100", "llama2-7b", overrides=["workload.layers=1", "workload.batch=8"])
    positional = simulate("h100", "llama2-7b", ["workload.layers=1", "workload.batch=8"])
    assert as_dict.summary["latency_s"] == as_list.summary["latency_s"] == positional.summary["latency_s"]
    assert as_dict.summary["tokens"]["batch"] == 8
    with pytest.raises(ConfigError, match="hw.<key.path>"):
        simulate("h100", "llama2-7b", overrides={"batch": 8})
    with pytest.raises(ConfigError, match="devicez"):
        simulate("h100", "llama2-7b", overrides={"hw.devicez": 2})


def test_to_series_is_one_flat_row():
    runs = [simulate("h100", "llama2-7b", overrides={"workload.layers": 1, "workload.batch": b}) for b in (1, 4)]
    table = pd.DataFrame([r.to_series() for r in runs])
    assert list(table["tokens.batch"]) == [1, 4]
    assert table["energy_j.total"].iloc[1] > table["energy_j.total"].iloc[0]
    assert not any(isinstance(v, dict) for v in table.iloc[0])
    assert all(table["latency_s"] == [r.summary["latency_s"] for r in runs])


def test_counts_are_integers():
    s = simulate("neupims", "gpt3-7b-decode", SMALL).summary
    assert s["commands"] and all(isinstance(n, int) for n in s["commands"].values())
    assert all(isinstance(c, int) for c in s["cycles"].values())
    assert all(isinstance(v["cycles"], int) for k, v in s["stages"].items() if isinstance(v, dict) and "cycles" in v)
    assert all(isinstance(p["busy_cycles"], int) for p in s["pim"].values())


def test_a_trace_outside_the_workload_folder_is_copied_in(tmp_path):
    from simulator.cli import ROOT

    trace = tmp_path / "elsewhere" / "mine.csv"
    trace.parent.mkdir()
    trace.write_text((ROOT / "workloads/traces/share-gpt2-bs512-ms7B-tp4-clb-0.csv").read_text())
    run = simulate("neupims", "gpt3-7b-decode", SMALL + [f"workload.trace={trace}"])
    run.save(tmp_path / "rec", plot_format="svg")
    rec = tmp_path / "rec"
    assert read_yaml(rec / "workload.yaml")["trace"] == "traces/mine.csv" and (rec / "traces/mine.csv").is_file()
    assert (rec / "roofline.svg").read_text().lstrip().startswith("<?xml")
    first = json.loads((rec / "summary.json").read_text())
    again = simulate(rec / "hw.yaml", rec / "workload.yaml").summary
    assert same_summary(first, again) == {}
