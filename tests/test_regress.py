"""`simulate regress` for any repository: a CSV in its own folder, bootstrapped by --update, narrowed by --only,
with absolute tolerances, JUnit XML and Markdown reports, and one-line errors on a bad CSV."""

import csv
from xml.etree import ElementTree as ET

import pytest

HEADER = "case,hw,workload,set,metric,value,rel_tol,abs_tol\n"


@pytest.fixture
def baseline(tmp_path):
    """tmp/x/baseline.csv naming a system by name and a workload by a path relative to the CSV's folder."""
    folder = tmp_path / "x"
    (folder / "wl").mkdir(parents=True)
    (folder / "wl" / "mine.yaml").write_text("version: 1\nkind: workload\nname: mine\nmodel: llama2-7b\nlayers: 1\n")
    path = folder / "baseline.csv"
    path.write_text(HEADER + "a,h100,wl/mine.yaml,,latency_s,,0.01,\n"
                             "a,h100,wl/mine.yaml,,energy_j.total,,0.02,\n"
                             "b,h200,wl/mine.yaml,workload.batch=4,latency_s,,0.01,1e-9\n")
    return path


def test_update_bootstraps_empty_values_and_the_next_run_passes(cli, baseline, tmp_path):
    code, out, err = cli("regress", "--baseline", baseline)
    assert code == 1 and "EMPTY" in out and "--update" in err
    code, out, _ = cli("regress", "--baseline", baseline, "--update")
    assert code == 0 and "3 were empty" in out
    rows = list(csv.DictReader(baseline.open()))
    assert all(float(r["value"]) > 0 for r in rows) and rows[2]["abs_tol"] == "1e-9"
    code, out, _ = cli("regress", "--baseline", baseline, "--junit", tmp_path / "r.xml",
                       "--markdown", tmp_path / "r.md")
    assert code == 0 and "3 passed, 0 failed" in out
    suite = ET.parse(tmp_path / "r.xml").getroot().find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "0"
    assert [c.get("classname") for c in suite.iter("testcase")] == ["a", "a", "b"]
    md = (tmp_path / "r.md").read_text().splitlines()
    assert md[0].startswith("| case |") and len(md) == 2 + 3


def test_a_moved_metric_fails_with_junit_failure_and_tolerances_apply(cli, baseline, tmp_path):
    cli("regress", "--baseline", baseline, "--update")
    rows = list(csv.DictReader(baseline.open()))
    now = float(rows[0]["value"])
    rows[0]["value"] = repr(now * 1.05)                   # 5 % off: beyond rel_tol 1 %
    rows[1]["value"] = repr(float(rows[1]["value"]) * 1.05)
    rows[1]["abs_tol"] = "10"                             # ... but within an absolute 10 J
    with baseline.open("w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    code, out, err = cli("regress", "--baseline", baseline, "--junit", tmp_path / "r.xml")
    assert code == 1 and "2 passed, 1 failed" in err
    lines = out.splitlines()
    assert sum("MOVED" in line for line in lines) == 1
    failures = list(ET.parse(tmp_path / "r.xml").getroot().iter("failure"))
    assert len(failures) == 1 and "-4.76%" in failures[0].get("message")
    assert cli("regress", "--baseline", baseline, "--only", "b")[0] == 0          # b alone did not move
    code, _, err = cli("regress", "--baseline", baseline, "--only", "zz")
    assert code == 2 and "cases: a, b" in err


@pytest.mark.parametrize("text, message", [
    ("case,hw\nx,h100\n", "columns must be"),
    (HEADER + "a,h100,llama2-7b,,latency_s,abc,0.01,\n", "value must be a number"),
    (HEADER + "a,h100,llama2-7b,,latency_s,1,-1,\n", "rel_tol must be a finite number"),
    (HEADER + "a,h100,llama2-7b,,latency_s,1\n", "expected 8 fields"),
    (HEADER + "a,h100,llama2-7b,,nope,1,0.01,\n", "the summary has no 'nope'"),
    (HEADER + "a,h100,nowhere.yaml,,latency_s,1,0.01,\n", "file not found"),
])
def test_a_bad_csv_is_one_line_not_a_traceback(cli, tmp_path, text, message):
    path = tmp_path / "b.csv"
    path.write_text(text)
    code, _, err = cli("regress", "--baseline", path)
    assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_output_is_aligned(cli, baseline):
    cli("regress", "--baseline", baseline, "--update")
    _, out, _ = cli("regress", "--baseline", baseline)
    lines = [line for line in out.splitlines() if line.strip()]
    header, rule, rows = lines[0], lines[1], lines[2:-1]          # the last line counts passes
    assert all(len(r) <= len(rule) for r in rows)
    ends = {r.index(" ok") for r in rows}          # the status column starts at the same place in every row
    assert len(ends) == 1 and header.index("status") == ends.pop() + 1
