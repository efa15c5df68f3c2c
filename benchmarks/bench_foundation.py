"""Benchmark: lowering plus analytical simulation of one LLaMA-2-70B decode step (80 layers, batch 256,
per-request KV lengths from the ShareGPT-derived NeuPIMs trace), on 8 H100s at tensor parallel 8.

Run: python benchmarks/bench_foundation.py   (target from the foundation issue: under 2 s on a 2-core machine)
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.run import simulate  # noqa: E402

SETS = ["hw.devices=8", "workload.model=llama2-70b", "workload.tp=8", "workload.batch=256",
        "workload.trace=traces/share-gpt2-bs512-ms7B-tp4-clb-0.csv", "workload.requests=256"]


def one(implementation: str) -> tuple[float, object]:
    t0 = time.perf_counter()
    run = simulate(ROOT / "hwconfigs/h100.yaml", ROOT / "workloads/gpt3-7b-decode.yaml",
                   SETS + [f"workload.implementation={implementation}", "workload.dtype=bf16"])
    run.summary  # include the statistics
    return time.perf_counter() - t0, run


def main() -> None:
    for impl in ("unfused", "fused"):
        times = []
        for _ in range(5):
            dt, run = one(impl)
            times.append(dt)
        nodes = run.graph.layer.number_of_nodes()
        print(f"llama2-70b decode, 80 layers, batch 256, {impl:8s} ({nodes} ops per layer): "
              f"median {statistics.median(times):.3f} s, min {min(times):.3f} s over {len(times)} runs "
              f"(target < 2 s); simulated step latency {run.summary['latency_s'] * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
