"""`--out` safety: never delete or overwrite a file the simulator did not write; replace a previous run record
atomically; clean up and exit 2 in one line on signals and unwritable locations; permissions follow the umask."""

import os
import signal

import pytest

from simulator.cli import ROOT
from simulator.errors import UserError
from simulator.report import atomic, outputs
from simulator.report.outputs import (
    MARKER,
    Interrupted,
    interruptible,
    write_atomically,
)

H100, LLAMA = str(ROOT / "hwconfigs/h100.yaml"), str(ROOT / "workloads/llama2-7b.yaml")
ONE_LAYER = ["--set", "workload.layers=1"]


def one_line_error(err):
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err


def fill_with(text):
    def fill(tmp):
        (tmp / "summary.json").write_text(text)
    return fill


def test_user_file_is_kept_and_the_run_refused(cli, tmp_path):
    data = tmp_path / "mydata"
    data.mkdir()
    (data / "notes.txt").write_text("notes\n")
    code, _, err = cli("run", H100, LLAMA, *ONE_LAYER, "--out", data)
    assert code == 2
    one_line_error(err)
    assert "notes.txt" in err and "--force" in err
    assert [p.name for p in data.iterdir()] == ["notes.txt"] and (data / "notes.txt").read_text() == "notes\n"
    assert [p.name for p in tmp_path.iterdir()] == ["mydata"]


def test_force_on_a_user_directory_adds_files_and_keeps_theirs(cli, tmp_path):
    (tmp_path / "notes.txt").write_text("notes\n")
    code, _, err = cli("run", H100, LLAMA, *ONE_LAYER, "--out", tmp_path, "--force")
    assert code == 0, err
    names = {p.name for p in tmp_path.iterdir()}
    assert {"notes.txt", "summary.json", MARKER} <= names
    assert (tmp_path / "notes.txt").read_text() == "notes\n"
    assert not [n for n in names if n.startswith(".") and n != MARKER]      # no temporary directory left


def test_force_on_a_previous_record_replaces_it_atomically(cli, tmp_path, monkeypatch):
    out = tmp_path / "run"
    assert cli("run", H100, LLAMA, *ONE_LAYER, "--out", out)[0] == 0
    before = (out / "summary.json").read_text()
    inode = out.stat().st_ino
    renames = []
    real_rename = os.rename
    monkeypatch.setattr(atomic.os, "rename", lambda a, b: (renames.append((a, b)), real_rename(a, b)))
    code, _, err = cli("run", H100, LLAMA, "--set", "workload.layers=2", "--out", out, "--force")
    assert code == 0, err
    after = (out / "summary.json").read_text()
    assert after != before and '"layers_simulated": 2' in after
    assert out.stat().st_ino != inode                       # a new directory was renamed into place
    assert [b for _, b in renames][-1] == out                # ... by one rename, after the old one moved aside
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # the old record and temporaries are gone


def test_a_record_with_a_user_file_added_is_no_longer_replaced(cli, tmp_path):
    out = tmp_path / "run"
    assert cli("run", H100, LLAMA, *ONE_LAYER, "--out", out)[0] == 0
    (out / "my_analysis.ipynb").write_text("{}")
    code, _, err = cli("run", H100, LLAMA, *ONE_LAYER, "--out", out)
    assert code == 2 and "my_analysis.ipynb" in err
    assert (out / "my_analysis.ipynb").exists()


def test_current_directory_is_not_emptied(cli, tmp_path, monkeypatch):
    (tmp_path / "keep.txt").write_text("x")
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("run", H100, LLAMA, *ONE_LAYER, "--out", ".")
    assert code == 2 and "keep.txt" in err and (tmp_path / "keep.txt").read_text() == "x"


def test_empty_directory_and_permissions_follow_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_atomically(tmp_path / "a", fill_with("{}"))
        (tmp_path / "b").mkdir()
        write_atomically(tmp_path / "b", fill_with("{}"))
    finally:
        os.umask(old)
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o750
    assert (tmp_path / "a" / "summary.json").stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == sorted([MARKER, "summary.json"])


@pytest.mark.parametrize("where", ["file", "under_file", "proc"])
def test_unwritable_locations_are_one_line(cli, tmp_path, where):
    (tmp_path / "f").write_text("x")
    out = {"file": tmp_path / "f", "under_file": tmp_path / "f" / "run", "proc": "/proc/xpusim-run"}[where]
    code, _, err = cli("run", H100, LLAMA, *ONE_LAYER, "--out", out)
    assert code == 2
    one_line_error(err)
    assert (tmp_path / "f").read_text() == "x"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_writing_cleans_up(tmp_path, signum):
    def fill(tmp):
        (tmp / "summary.json").write_text("{}")
        os.kill(os.getpid(), signum)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as exc, interruptible():
        write_atomically(tmp_path / "run", fill)
    assert isinstance(exc.value, UserError) and signum.name in str(exc.value)
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) == before        # the handler is put back


def test_sigterm_during_the_cli_write_exits_2_in_one_line(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(outputs.plots, "roofline", lambda *a: os.kill(os.getpid(), signal.SIGTERM))
    code, _, err = cli("run", H100, LLAMA, *ONE_LAYER, "--out", tmp_path / "run")
    assert code == 2 and "SIGTERM" in err
    one_line_error(err)
    assert list(tmp_path.iterdir()) == []
