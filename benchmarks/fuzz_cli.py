"""Long fuzzing budget of the CLI property (issue 13): `python benchmarks/fuzz_cli.py --examples 2000`.

Same strategies and property as tests/test_fuzz_cli.py (tests/fuzzing.py), shared out among mutated files (60 %),
request traces, DRAM traces and argument vectors (the rest). Failures are collected, not raised, so that one
run reports them all: examples, failures (with their argv), exit codes, wall time and the slowest example.
Exit status 1 when any example failed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]     # this checkout's simulator, and the shared strategies

from fuzzing import (
    TimeLimit,
    check_property,
    cli_words,
    dram_trace,
    mutated_run,
    request_trace,
    warm_up,
)
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st


def fuzz(examples: int, seed_value: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="xpusim-fuzz-"))
    warm_up(tmp)
    share = {"files": 0.6, "request_traces": 0.15, "dram_traces": 0.15, "argv": 0.10}
    strategies = {"files": lambda d: d.draw(mutated_run(tmp)), "request_traces": lambda d: d.draw(request_trace(tmp)),
                  "dram_traces": lambda d: d.draw(dram_trace(tmp)), "argv": lambda d: d.draw(cli_words())}
    codes: Counter = Counter()
    failures: list[str] = []
    slowest = (0.0, [])
    done = 0
    for name, fraction in share.items():
        n = max(1, round(examples * fraction))

        @seed(seed_value)
        @settings(max_examples=n, deadline=None, database=None, derandomize=False,
                  suppress_health_check=list(HealthCheck))
        @given(st.data())
        def one(data):
            nonlocal slowest, done
            argv = strategies[name](data)
            done += 1
            try:
                code, seconds = check_property(argv)
                codes[code] += 1
                if seconds > slowest[0]:
                    slowest = (seconds, argv)
            except (AssertionError, TimeLimit) as exc:
                codes["failed"] += 1
                failures.append(f"{name}: {str(exc)[:400]}")

        print(f"{name}: {n} examples", file=sys.stderr, flush=True)
        one()
    if not failures:                            # failures name their inputs by path: keep those
        shutil.rmtree(tmp, ignore_errors=True)
    return {"examples": done, "failures": failures, "codes": dict(codes), "slowest": slowest, "tmp": str(tmp)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    report = fuzz(args.examples, args.seed)
    wall = time.perf_counter() - t0
    print(f"examples {report['examples']}, failures {len(report['failures'])}, exit codes {report['codes']}, "
          f"wall {wall:.0f} s, slowest {report['slowest'][0]:.1f} s ({' '.join(report['slowest'][1])})")
    for failure in report["failures"]:
        print("FAIL", failure)
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
