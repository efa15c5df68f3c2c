"""Names: user folders before shipped ones, systems before parts, ambiguity as an error listing the files;
`simulate list` with a description per file; `--version` agrees with the package."""

import json

import pytest

import simulator
from simulator.catalogue import find
from simulator.cli import ROOT
from simulator.errors import ConfigError

SYSTEM = "version: 1\nkind: system\nname: {name}\ndevices: 1\ndevice:\n  memories: {{hbm: {{include: {inc}}}}}\n" \
         "  units: {{gpu: {{include: {gpu}, memory: hbm}}}}\n"


def write_system(folder, stem, name):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.yaml"
    path.write_text(SYSTEM.format(name=name, inc=ROOT / "hwconfigs/gpu/h100-hbm3.yaml",
                                  gpu=ROOT / "hwconfigs/gpu/h100-sxm.yaml"))
    return path


def test_a_system_comes_before_a_part_of_the_same_name(cli):
    assert find("h200") == ROOT / "hwconfigs/h200.yaml"
    code, out, err = cli("run", "h200", "llama2-7b", "--set", "workload.layers=1")
    assert code == 0, err
    assert "on h200" in out
    assert find("h200-hbm3e").parent.name == "gpu"                    # a part is found when no system has the name


def test_user_folders_come_first_and_ties_are_errors(cli, tmp_path, monkeypatch):
    mine = write_system(tmp_path / "mine", "h100", "my-h100")
    assert find("h100", paths=[str(tmp_path / "mine")]) == mine
    code, out, err = cli("run", "h100", "llama2-7b", "--path", tmp_path / "mine", "--set", "workload.layers=1")
    assert code == 0 and "on my-h100" in out, err
    monkeypatch.setenv("XPUSIM_PATH", str(tmp_path / "mine"))
    assert find("h100") == mine
    other = write_system(tmp_path / "mine" / "sub", "h100", "other")
    with pytest.raises(ConfigError, match="ambiguous") as exc:
        find("h100")
    assert str(mine) in str(exc.value) and str(other) in str(exc.value)
    code, _, err = cli("run", "h100", "llama2-7b")
    assert code == 2 and err.count("\n") == 1 and "ambiguous" in err


def test_an_unknown_name_suggests_one(cli):
    code, _, err = cli("run", "h1000", "llama2-7b")
    assert code == 2 and "h100" in err and "simulate list" in err


def test_list_describes_every_shipped_file(cli):
    code, out, _ = cli("list", "--json")
    assert code == 0
    listed = json.loads(out)
    shipped = {str(p.relative_to(ROOT)) for d in ("hwconfigs", "workloads") for p in (ROOT / d).rglob("*.yaml")}
    names = {e["name"] for rows in listed.values() for e in rows}
    assert names == shipped
    assert all(e["description"].strip() for rows in listed.values() for e in rows)
    assert "hwconfigs/h200.yaml" in {e["name"] for e in listed["systems"]}
    models = {e["name"]: e["description"] for e in listed["models"]}
    assert models["workloads/models/llama2-7b.yaml"].startswith("6.74 B params")


def test_version_agrees_with_the_package(cli, capsys):
    with pytest.raises(SystemExit) as exc:
        cli("--version")
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"simulate {simulator.__version__}"


def test_a_folder_named_like_a_preset_does_not_hide_it(tmp_path, monkeypatch):
    """`simulate op h100 ...` run where a folder ./h100/ exists (measurements, outputs) still means the preset."""
    (tmp_path / "h100").mkdir()
    monkeypatch.chdir(tmp_path)
    assert find("h100") == ROOT / "hwconfigs/h100.yaml"
