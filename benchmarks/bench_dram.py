"""Speed of the DRAM model against the reference simulators' wall times on the same class of machine.

Not a timed unit test: run `python benchmarks/bench_dram.py`. It writes the 400 000-request seq_read and
rand_read traces of the DRAMsim3 HBM2 calibration (reference generator, documented arguments) to a temporary
directory and times `run_memtrace` at the command level on them, whole call (trace parsing, simulation,
statistics) after one warm-up run that compiles the kernels; the ratio is against DRAMsim3's whole-process
requests per second in ../shared/reference/dram/calibration_dramsim3_hbm2.csv (342 k and 65 k). Then it times
one 1 GiB streaming transfer at the transaction level over the 32-channel NeuPIMs HBM2 (goal: < 0.2 s), after
the one-off per-spec calibration of that level.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.studies import dram_validation
from simulator.memory.dram import transaction
from simulator.memory.loader import load_memory_spec
from simulator.memory.memtrace import run_memtrace

REPEAT = 3


def best_of(fn, repeat: int = REPEAT) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    reference = dram_validation.DEFAULT_REFERENCE
    refs = dram_validation.reference_rows(reference)
    spec = load_memory_spec(ROOT / "hwconfigs" / "memory" / "dramsim3-hbm2.yaml")
    print("command level, DRAMsim3 HBM2 preset, whole run_memtrace call")
    print(f"{'trace':<12} {'requests':>9} {'wall s':>7} {'req/s':>9} {'DRAMsim3 req/s':>15} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for case in ("seq_read", "rand_read", "rand_rw50"):
            path = dram_validation.write_trace(reference, case, Path(tmp))
            run_memtrace(spec, path)                     # warm-up: JIT compile / cache load
            wall = best_of(lambda p=path: run_memtrace(spec, p))
            n = int(refs[case]["requests"])
            rps = n / wall
            ref = float(refs[case]["requests_per_s"])
            print(f"{case:<12} {n:>9} {wall:>7.2f} {rps:>9.0f} {ref:>15.0f} {rps / ref:>5.2f}x")
    neupims = load_memory_spec(ROOT / "hwconfigs" / "memory" / "neupims-hbm2.yaml")
    t = time.perf_counter()
    transaction.efficiencies(neupims)
    calib = time.perf_counter() - t
    wall = best_of(lambda: transaction.transfer(neupims, 0, 1 << 30))
    tt = transaction.transfer(neupims, 0, 1 << 30)
    print(f"\ntransaction level, 1 GiB stream over neupims-hbm2 (32 channels): {wall * 1e3:.1f} ms "
          f"(goal < 200 ms), {tt.bandwidth / 1e9:.0f} GB/s of {neupims.peak_bandwidth / 1e9:.0f} GB/s peak; "
          f"one-off calibration of the spec {calib:.2f} s")


if __name__ == "__main__":
    main()
