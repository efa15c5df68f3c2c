"""Speed of sweeps: a 1 000-point NeuPIMs sweep, its re-run from the result cache, and 1 vs 2 worker processes.

Not a timed unit test: run `python benchmarks/bench_sweep.py [--points 1000] [--scaling 200]` (`--points 0`:
only the 1- vs 2-process comparison). The space is the
NeuPIMs system at the transaction level, one decoder layer of GPT-3 7B (TP 4), random points (seed 0) over the
batch (the first N requests of the clb-0 ShareGPT trace, N log-uniform in 8..512), PIM MACs per bank (the COMP
covers as many elements), NPU arrays and batch. It prints:
1. the cold sweep on all cores with a fresh cache (spawned workers, calibrations measured once per process or
   read from the disk cache), 2. the same sweep again, every point from the result cache, 3. the same subset
   of points with the cache off on 1 and on 2 worker processes, and their ratio.
The load average and the workers' CPU time are printed: other processes on the machine slow the absolute figures,
and the cores our workers got (CPU time / wall time) show how much of the machine they had.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.sweep import Random, sweep

HW, WL = ROOT / "hwconfigs/neupims.yaml", ROOT / "workloads/gpt3-7b-decode.yaml"
SETS = ["workload.layers=1", "hw.device.units.pim.comp_elements=null"]
PARAMS = {"workload.requests": {"low": 8, "high": 512, "log": True, "int": True},
          "hw.device.units.pim.macs_per_bank": [8, 16, 32],
          "hw.device.units.npu.systolic.arrays": [4, 8, 16]}


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scaling", type=int, default=200, help="points of the 1- vs 2-process comparison")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--points", dest="points", type=int, default=1000, help="points of the cold sweep (0: skip)")
    args = ap.parse_args()
    cores = os.cpu_count()
    print(f"cores {cores}, load average before {load()}")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["XPUSIM_CACHE"] = cache
        if args.points:
            space = Random(PARAMS, args.points, seed=0)
            df, cold = timed(lambda: sweep(space, HW, WL, sets=SETS, workers=args.workers, progress=True))
            print(f"cold sweep:  {len(df)} points ({int(df['feasible'].sum())} feasible, "
                  f"{df[list(PARAMS)].drop_duplicates().shape[0]} distinct) in {cold:.1f} s "
                  f"({cold / len(df) * 1e3:.0f} ms/point), load {load()}")
            again, warm = timed(lambda: sweep(space, HW, WL, sets=SETS, workers=args.workers, progress=False))
            assert again.equals(df)
            print(f"from cache:  {len(again)} points in {warm:.1f} s, load {load()}")
        else:     # only fill the calibration cache, as a cold sweep would have
            sweep(Random(PARAMS, 4, seed=0), HW, WL, sets=SETS, workers=1, progress=False)
        sub = Random(PARAMS, args.scaling, seed=1)
        t = {}
        for n in (1, 2):
            cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            _, t[n] = timed(lambda n=n: sweep(sub, HW, WL, sets=SETS, workers=n, cache=False, progress=False))
            cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
            print(f"{args.scaling} points, {n} process{'es' if n > 1 else ''}: {t[n]:.1f} s wall, {cpu:.1f} s CPU "
                  f"in the workers ({cpu / t[n]:.2f} cores busy), load {load()}")
        print(f"speed-up of 2 processes over 1: {t[1] / t[2]:.2f}x")
        c = {n: timed(lambda n=n: control(n))[1] for n in (1, 2)}
        print(f"control (a pure-CPU loop, 40 x 0.1 s of CPU): 1 process {c[1]:.1f} s, 2 processes {c[2]:.1f} s: "
              f"{c[1] / c[2]:.2f}x; the most this machine gives 2 processes of one session now")


def spin(_: int) -> None:
    t = time.process_time()
    while time.process_time() - t < 0.1:
        pass


def control(workers: int) -> None:
    """The same pool over a task that only burns CPU: what the machine's load (and Linux's per-session
    autogroup scheduling, which shares one session's CPU among its processes) allows."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(spin, range(40)))


if __name__ == "__main__":
    main()
