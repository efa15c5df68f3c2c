"""Benchmark of the GPU model: cost of one GEMM estimate, and a whole LLaMA-2-7B decode step at batch 64 on
the H100 (target from the GPU issue: under 1 s).

Run: python benchmarks/bench_gpu.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.gpu.model import GpuModel  # noqa: E402
from simulator.hardware.system import load_system  # noqa: E402
from simulator.lowering import builders  # noqa: E402
from simulator.run import simulate  # noqa: E402


def gemm_estimates() -> float:
    system = load_system(ROOT / "hwconfigs/h100.yaml")
    spec = system.units["gpu"]
    model = GpuModel(spec, system.memories[spec.memory], memo=False)
    t0 = time.perf_counter()
    for m in range(1, 201):
        model.cost(builders.gemm("g", m, 4096, 4096, weights="bf16", act="bf16"))
    return (time.perf_counter() - t0) / 200


def decode_step() -> tuple[float, float]:
    t0 = time.perf_counter()
    run = simulate(ROOT / "hwconfigs/h100.yaml", ROOT / "workloads/llama2-7b.yaml",
                   ["workload.batch=64", "workload.context_len=1024", "workload.implementation=eager-pytorch"])
    latency = run.summary["latency_s"]
    return time.perf_counter() - t0, latency


def main() -> None:
    print(f"GEMM estimate: {gemm_estimates() * 1e6:.0f} us per call (unmemoised)")
    walls = []
    for _ in range(3):
        wall, latency = decode_step()
        walls.append(wall)
    print(f"LLaMA-2-7B decode step, batch 64, ctx 1024, eager-pytorch on H100: first (cold) {walls[0]:.3f} s, "
          f"median {statistics.median(walls):.3f} s (target < 1 s); predicted step {latency * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
