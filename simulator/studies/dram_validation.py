"""Validation of the DRAM model against the reference simulators' published results.

`python -m simulator.studies.dram_validation [--write docs/dram.md] [--reference DIR]` regenerates the five DRAMsim3
HBM2 calibration traces with the reference generator (../shared/reference/dram/gen_dram_trace.py, documented
arguments, into a temporary directory), replays them at the command and transaction levels, and prints the
table ours-vs-reference (bandwidth, average read latency, row-hit rate, wall time and requests per second
against DRAMsim3's). With --write the table replaces the block between the validation markers of that file.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_SHARED = ROOT.parent / "shared" / "reference" / "dram"
DEFAULT_REFERENCE = _SHARED if _SHARED.is_dir() else ROOT / "tests" / "data" / "reference" / "dram"
PRESET = ROOT / "hwconfigs" / "memory" / "dramsim3-hbm2.yaml"
BEGIN, END = "<!-- validation:begin -->", "<!-- validation:end -->"

# (pattern, requests, seed, gap) as documented in the reference README for the HBM2 (tx 64 B) cases
CASES = {
    "seq_read": ("seq_read", 400_000, 1, 100),
    "rand_read": ("rand_read", 400_000, 1, 100),
    "rand_rw50": ("rand_rw50", 400_000, 2, 100),
    "stride_1bank": ("stride_1bank", 20_000, 1, 100),
    "rand_read_lowload": ("rand_read_lowload", 20_000, 3, 100),
}
GEN_ARGS = {"tx": 64, "capacity": 8 << 30, "stride": 256 << 10, "rows": 32768}


@dataclass
class Row:
    case: str
    ref: dict
    ours: dict
    trans: dict | None
    wall_s: float


def load_generator(reference: Path):
    spec = importlib.util.spec_from_file_location("gen_dram_trace", reference / "gen_dram_trace.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_trace(reference: Path, case: str, directory: Path, *, requests: int | None = None) -> Path:
    """Write the documented trace of `case` (optionally only its first `requests` lines); return its path."""
    gen = load_generator(reference)
    pattern, n, seed, gap = CASES[case]
    n = requests or n
    path = directory / f"{case}_{n}.trc"
    if not path.exists():
        lines = (f"{c} {op} 0x{a:x}\n" for c, op, a in gen.gen(pattern, n, GEN_ARGS["tx"], GEN_ARGS["capacity"], seed,
                                                              GEN_ARGS["stride"], GEN_ARGS["rows"], gap))
        path.write_text("".join(lines))
    return path


def reference_rows(reference: Path) -> dict[str, dict]:
    with open(reference / "calibration_dramsim3_hbm2.csv") as f:
        return {r["pattern"]: r for r in csv.DictReader(f)}


def run(reference: Path = DEFAULT_REFERENCE, *, transaction: bool = True) -> list[Row]:
    import numpy as np

    from simulator.memory.dram.command import simulate_requests
    from simulator.memory.loader import load_memory_spec
    from simulator.memory.memtrace import run_memtrace

    spec = load_memory_spec(PRESET)
    refs = reference_rows(reference)
    simulate_requests(spec, np.zeros(4, np.int64), np.zeros(4, np.int8), np.arange(4) * 64)   # compile / load
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            path = write_trace(reference, case, Path(tmp))
            t = time.perf_counter()
            ours = run_memtrace(spec, path, "command")
            wall = time.perf_counter() - t
            trans = run_memtrace(spec, path, "transaction") if transaction else None
            rows.append(Row(case, refs[case], ours, trans, wall))
    return rows


def table(rows: list[Row]) -> str:
    head = ("| case | BW GB/s ref | ours | err | transaction | avg RD lat cyc ref | ours | err | row hit ref | ours | "
            "energy pJ/bit ref | ours | wall s | req/s | vs DRAMsim3 |")
    out = [head, "|" + "|".join(["---"] * 15) + "|"]
    for r in rows:
        bw_ref, bw = float(r.ref["bw_GBps"]), r.ours["bandwidth_gbps"]
        lat_ref, lat = float(r.ref["avg_rd_lat_cycles"]), r.ours["avg_read_latency_cycles"]
        hit_ref, hit = float(r.ref["row_hit_rate"]), r.ours["row_hit_rate"]
        e_ref, e = float(r.ref["dram_energy_total_pJ_per_bit"]), r.ours["energy_pj_per_bit"]
        rps = r.ours["requests"] / r.wall_s
        trans = f"{r.trans['bandwidth_gbps']:.2f} ({(r.trans['bandwidth_gbps'] / bw_ref - 1) * 100:+.1f} %)" \
            if r.trans else "-"
        out.append(f"| {r.case} | {bw_ref:.2f} | {bw:.2f} | {(bw / bw_ref - 1) * 100:+.1f} % | {trans} | "
                   f"{lat_ref:.1f} | {lat:.1f} | {(lat / lat_ref - 1) * 100:+.1f} % | {hit_ref:.3f} | {hit:.3f} | "
                   f"{e_ref:.2f} | {e:.2f} | {r.wall_s:.2f} | {rps / 1e3:.0f} k | "
                   f"{rps / float(r.ref['requests_per_s']):.2f}x |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    p.add_argument("--write", type=Path, default=None, help="markdown file whose validation block to replace")
    a = p.parse_args(argv)
    text = table(run(a.reference))
    print(text)
    if a.write:
        doc = a.write.read_text()
        if BEGIN not in doc or END not in doc:
            print(f"{a.write}: no {BEGIN} ... {END} block", file=sys.stderr)
            return 2
        pre, rest = doc.split(BEGIN, 1)
        _, post = rest.split(END, 1)
        a.write.write_text(f"{pre}{BEGIN}\n{text}\n{END}{post}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
