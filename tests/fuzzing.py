"""Hypothesis strategies that mutate the shipped inputs, and the property every CLI call must satisfy.

Mutations of a resolved hardware or workload file: drop a key, rename it (a typo), retype its value (bool,
string, list, mapping, null), or scale it (0, negative, tiny, huge, NaN, infinity, a fraction); request traces
and DRAM traces with mutated rows; argument vectors built from the CLI's own words. The property: exit 0 with
a strict-JSON result whose invariants hold, or exit 2 with one line on stderr; never another exit code, never a
traceback, never over the time limit. Used by tests/test_fuzz_cli.py (short budget) and benchmarks/fuzz_cli.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import select
import signal
import time
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from simulator.cli import ROOT, main
from simulator.config.loader import load

# Quick (hardware, workload, fixed --set) cases: each runs in about a second on the shipped files.
CASES = [
    ("hwconfigs/h100.yaml", "workloads/llama2-7b.yaml", ["workload.layers=1"]),
    ("hwconfigs/a100.yaml", "workloads/mixtral-8x7b.yaml", ["workload.layers=1"]),
    ("hwconfigs/neupims.yaml", "workloads/gpt3-7b-decode.yaml", ["workload.layers=1", "workload.requests=4"]),
    ("hwconfigs/npu-only.yaml", "workloads/gpt3-7b-decode.yaml", ["workload.layers=1", "workload.requests=4"]),
    ("hwconfigs/pim-gpt.yaml", "workloads/gpt2-decode.yaml", ["workload.layers=1"]),
]
MEMORIES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "hwconfigs/memory").glob("*.yaml"))
SCALES = [0, -1, 1e-9, 0.5, 3, 1e9, 1e300, math.nan, math.inf]
ODD_VALUES = [None, True, False, "", "banana", "1 GHz", "-3 ns", [], [1, 2], {}, {"x": 1}, 2**70, "1e400 GB/s"]
TIME_LIMIT_S = 60


class TimeLimit(Exception):
    """One example ran past TIME_LIMIT_S: a hang, which the property forbids."""


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a nested mapping/list document."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append(prefix + (k,))
            out += paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append(prefix + (i,))
            out += paths(v, prefix + (i,))
    return out


def _scaled(value: Any, factor: float) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return int(value * factor) if math.isfinite(factor) and abs(value * factor) < 2**80 else factor
    if isinstance(value, float):
        return value * factor
    if isinstance(value, str):
        number, _, unit = value.partition(" ")
        try:
            return f"{float(number) * factor!r} {unit}".strip()
        except ValueError:
            return value + "x"
    return value


def mutate(doc: Any, path: tuple, how: str, arg: Any) -> Any:
    """A deep copy of `doc` with the node at `path` dropped, renamed, retyped (to `arg`) or scaled (by `arg`)."""
    doc = json.loads(json.dumps(doc, default=str))
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if how == "drop" or (how == "rename" and isinstance(parent, list)):   # a list item has no name to misspell
        parent.pop(key)
    elif how == "rename":
        parent[f"{key}{arg}"] = parent.pop(key)
    elif how == "retype":
        parent[key] = arg
    else:
        parent[key] = _scaled(parent[key], arg)
    return doc


@st.composite
def mutated_run(draw, tmp: Path) -> list[str]:
    """argv of `simulate run` on one mutated case (hardware or workload file, written under `tmp`)."""
    hw, wl, sets = draw(st.sampled_from(CASES))
    target = draw(st.sampled_from(["hw", "workload"]))
    doc = load(ROOT / (hw if target == "hw" else wl)).data
    if target == "workload" and doc.get("trace"):
        doc["trace"] = str((ROOT / wl).parent / doc["trace"])
    path = draw(st.sampled_from(paths(doc)))
    how = draw(st.sampled_from(["drop", "rename", "retype", "scale"]))
    arg = {"drop": None, "rename": draw(st.sampled_from(["x", "_", "s"])),
           "retype": draw(st.sampled_from(ODD_VALUES)), "scale": draw(st.sampled_from(SCALES))}[how]
    text = yaml.safe_dump(mutate(doc, path, how, arg), sort_keys=False)
    name = f"{target}-{abs(hash(text)) % 10**8}.yaml"
    (tmp / name).write_text(text)
    files = [tmp / name, ROOT / wl] if target == "hw" else [ROOT / hw, tmp / name]
    argv = ["run", *map(str, files), "--json"]
    for s in sets:
        argv += ["--set", s]
    return argv


@st.composite
def request_trace(draw, tmp: Path) -> list[str]:
    """argv of `simulate run` with a mutated request trace (seq_len,ch_idx rows)."""
    row = st.one_of(st.tuples(st.integers(-5, 5000), st.integers(-2, 40)).map(lambda r: f"{r[0]},{r[1]}"),
                    st.sampled_from(["", "x,1", "1", "1,2,3", "9" * 30 + ",0", " 7 , 3 ", "\u00e9,1"]))
    header = draw(st.sampled_from(["seq_len,ch_idx", "seq_len", "len,ch", ""]))
    rows = draw(st.lists(row, min_size=0, max_size=12))
    path = tmp / f"t-{abs(hash((header, tuple(rows)))) % 10**8}.csv"
    path.write_text("\n".join([header] + rows) + "\n")
    argv = ["run", str(ROOT / "hwconfigs/neupims.yaml"), str(ROOT / "workloads/gpt3-7b-decode.yaml"), "--json",
            "--set", f"workload.trace={path}", "--set", "workload.layers=1"]
    requests = draw(st.sampled_from([None, 1, 3, 100]))
    return argv + (["--set", f"workload.requests={requests}"] if requests else [])


@st.composite
def dram_trace(draw, tmp: Path) -> list[str]:
    """argv of `simulate memtrace` on a shipped memory with a mutated DRAM trace."""
    line = st.one_of(
        st.tuples(st.integers(0, 2**64), st.sampled_from("RWX"), st.integers(-1, 2**40)).map(
            lambda r: f"{r[0]} {r[1]} {r[2]:#x}" if r[2] >= 0 else f"{r[0]} {r[1]} -0x1"),
        st.tuples(st.integers(0, 3000), st.sampled_from("RW"), st.integers(0, 2**22)).map(
            lambda r: f"{r[0]} {r[1]} {r[2] * 64:#x}"),
        st.sampled_from(["", "# comment", "1 R", "x R 0x0", "1 R 0xzz", "1 R 12"]))
    lines = draw(st.lists(line, min_size=0, max_size=10))
    path = tmp / f"m-{abs(hash(tuple(lines))) % 10**8}.trace"
    path.write_text("\n".join(lines) + "\n")
    memory = draw(st.sampled_from(MEMORIES))
    return ["memtrace", str(ROOT / memory), str(path), "--json", "--level", draw(st.sampled_from(
        ["command", "transaction"]))]


WORDS = ["run", "op", "memtrace", "noc", "list", "show", "gemm", "gemv", "attention-decode", "rmsnorm", "softmax",
         "h100", "neupims", "llama2-7b", "nowhere", "--json", "--level", "command", "bogus", "--set",
         "workload.batch=2", "hw.devices=0", "=", "--unit", "link", "gpu", "--dtype", "fp8", "bf61", "--heads",
         "--head-dim", "--kv-len", "--tokens", "--hidden", "--rows", "--cols", "0", "-1", "64", "1e400", "nan",
         "--traffic", "--injection-rate", "--no-memoise", "--help-me", ""]


@st.composite
def cli_words(draw) -> list[str]:
    """argv made of the CLI's own words in any order (`regress` excluded: it rewrites nothing but is slow)."""
    return draw(st.lists(st.sampled_from(WORDS), min_size=0, max_size=9))


def warm_up(tmp: Path) -> None:
    """Import every command's modules and compile the DRAM/PIM kernels once in this process, so that the forked
    children of run_cli start warm (a child's imports and compilations are lost when it exits)."""
    import simulator.catalogue
    import simulator.npu.noc
    import simulator.report.outputs
    import simulator.single_op  # noqa: F401

    trace = tmp / "warm.trace"
    trace.write_text("0 R 0x0\n5 W 0x40\n")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for level in ("command", "transaction"):
            main(["memtrace", str(ROOT / "hwconfigs/memory/ddr4-3200.yaml"), str(trace), "--level", level])
        for hw, wl, sets in CASES:
            main(["run", str(ROOT / hw), str(ROOT / wl), *[x for s in sets for x in ("--set", s)]])


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """main(argv) in a forked child under a time limit: (exit code, stdout, stderr). A fork (not a thread or an
    alarm) so that a hang inside compiled code is stopped too; the parent's imports and JIT cache are shared."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:                                  # child: run, send the result, leave without cleanup handlers
        code = 70
        try:
            os.close(read_fd)
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(argv)
                except SystemExit as exc:         # --help
                    code = exc.code if isinstance(exc.code, int) else 0
            with os.fdopen(write_fd, "w") as pipe:
                json.dump([code, out.getvalue(), err.getvalue()], pipe)
        finally:
            os._exit(0)
    os.close(write_fd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + TIME_LIMIT_S
    while True:
        ready, _, _ = select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read_fd)
            raise TimeLimit(f"over {TIME_LIMIT_S} s: simulate {' '.join(argv)}")
        chunk = os.read(read_fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_fd)
    os.waitpid(pid, 0)
    if not chunks:
        raise AssertionError(f"the child died without a result (argv {argv})")
    code, out, err = json.loads(b"".join(chunks))
    return code, out, err


def _strict(text: str) -> Any:
    def reject(name: str):
        raise ValueError(f"non-finite number {name} in the JSON output")
    return json.loads(text, parse_constant=reject)


def check_property(argv: list[str]) -> tuple[int, float]:
    """Assert the CLI property on `argv`; return (exit code, seconds)."""
    t0 = time.perf_counter()
    code, out, err = run_cli(argv)
    seconds = time.perf_counter() - t0
    assert "Traceback" not in err, err
    assert code in (0, 2), f"exit {code}: {err.strip()[:500]} (argv {argv})"
    if code == 2:
        assert err.startswith("error: ") and err.count("\n") == 1, f"not one line: {err!r} (argv {argv})"
        return code, seconds
    if "--json" in argv and argv and argv[0] in ("run", "op", "memtrace") and "--help" not in argv:
        result = _strict(out)
        if argv[0] == "run":
            _invariants(result)
    return code, seconds


def _invariants(s: dict) -> None:
    for unit, u in s["utilisation"].items():
        assert 0 <= u <= 1, (unit, u)
    for name, bw in s["bandwidth"].items():
        assert 0 <= bw["utilisation"] <= 1 and bw["gbps"] <= bw["peak_gbps"] * (1 + 1e-9), (name, bw)
    assert s["latency_s"] > 0 and math.isfinite(s["energy_j"]["total"]) and s["energy_j"]["total"] > 0
