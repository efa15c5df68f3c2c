"""`simulate sweep`: a Parquet file with the API's DataFrame; bad sweep files exit 2 with one line."""

import pandas as pd
import pytest
import yaml

from simulator.sweep import sweep

GOOD = {"version": 1, "kind": "sweep", "name": "t", "hw": "h100", "workload": "llama2-7b", "level": "analytical",
        "sets": {"workload.context_len": 1024}, "space": {"grid": {"workload.batch": [1, 8]}},
        "objectives": {"throughput_tokens_per_s": "max", "energy_per_token_j": "min"}}


def _write(tmp_path, doc):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_sweep_writes_the_frame_as_parquet(cli, tmp_path):
    code, out, err = cli("sweep", _write(tmp_path, GOOD), "--out", tmp_path / "o", "--workers", "1")
    assert code == 0, err
    assert "2 points, 2 feasible" in out
    got = pd.read_parquet(tmp_path / "o" / "sweep.parquet")
    from simulator.cli import ROOT
    want = sweep({"workload.batch": [1, 8]}, ROOT / "hwconfigs/h100.yaml", ROOT / "workloads/llama2-7b.yaml",
                 sets=["workload.context_len=1024"], level="analytical", executor="serial", progress=False,
                 objectives=GOOD["objectives"])
    pd.testing.assert_frame_equal(got, want)
    assert (tmp_path / "o" / "sweep.yaml").exists()


@pytest.mark.parametrize("change, message", [
    ({"spaces": {}}, "unknown key 'spaces'"),
    ({"space": {"grid": {"batch": [1]}}}, "space.batch: a swept key must look like hw.<key.path>"),
    ({"space": {"random": {"params": {"workload.batch": [1]}}}}, "random needs n and params"),
    ({"objectives": {"latency_s": "smallest"}}, "allowed: max, min"),
    ({"sets": {"batch": 1}}, "sets.batch: a set key must look like"),
])
def test_bad_sweep_files_exit_2_with_one_line(cli, tmp_path, change, message):
    code, out, err = cli("sweep", _write(tmp_path, {**GOOD, **change}))
    assert code == 2 and not out
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err


def test_bad_worker_count_and_scheduler(cli, tmp_path):
    path = _write(tmp_path, GOOD)
    code, _, err = cli("sweep", path, "--workers", "0", "--no-cache")
    assert code == 2 and "workers must be at least 1" in err


def test_the_shipped_example_loads():
    from simulator.cli import ROOT
    from simulator.sweep import load_sweep

    spec = load_sweep(ROOT / "docs/examples/neupims_sweep.yaml")
    assert len(spec.space.points()) == 12 and spec.hw.name == "neupims.yaml"
    assert spec.objectives["area_mm2.total"] == "min"
    assert "hw.device.units.pim.comp_elements=None" not in spec.sets     # null stays a YAML null
