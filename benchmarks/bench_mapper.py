"""Benchmark: the mapping search of a 4096^3 GEMM on the 4-core TPUv4-like NPU (all dataflows, 1-D/2-D/2.5-D
partitions, tiles, loop orders), exhaustive and auto (target from issue 16: under 5 s).

Run: python benchmarks/bench_mapper.py      or  pytest benchmarks/bench_mapper.py -m benchmark
The memory's streaming bandwidth (one transaction-level DRAM run, cached per memory) is measured once before
the timed searches; it is printed apart, as it is a property of the memory model, not of the search.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.hardware.system import load_system  # noqa: E402
from simulator.npu import dma, mapper  # noqa: E402
from simulator.npu.model import NpuModel  # noqa: E402
from simulator.npu.spec import GemmMapping  # noqa: E402

TARGET_S = 5.0


def setup() -> tuple[NpuModel, float]:
    system = load_system(ROOT / "hwconfigs/npu/tpuv4-like-hbm.yaml")
    spec = system.units["npu"]
    model = NpuModel(spec, system.memories[spec.memory])
    t0 = time.perf_counter()
    dma.dram_stream_bandwidth(model.memory)
    return model, time.perf_counter() - t0


def search(model: NpuModel, method: str) -> tuple[float, mapper.SearchResult]:
    t0 = time.perf_counter()
    r = mapper.search(4096, 4096, 4096, model.spec, model.memory, "fp16", model=model,
                      gemm=GemmMapping(dataflow="any"), method=method)
    return time.perf_counter() - t0, r


@pytest.mark.benchmark
def test_mapper_4096_cube_under_target():
    model, _ = setup()
    for method in ("exhaustive", "auto"):
        wall, r = search(model, method)
        assert wall < TARGET_S
        assert r.best_metrics["cycles"] <= r.default_metrics["cycles"]


def main() -> None:
    model, bw_s = setup()
    print(f"memory streaming bandwidth (transaction-level DRAM, once per memory): {bw_s:.2f} s")
    for method in ("exhaustive", "auto", "random"):
        times = []
        for _ in range(3):
            wall, r = search(model, method)
            times.append(wall)
        b, d = r.best_metrics, r.default_metrics
        print(f"4096^3 on 4 cores, {method:10s}: {r.evaluated:7d} of {r.space} mappings, median "
              f"{statistics.median(times):.3f} s, max {max(times):.3f} s ({'PASS' if max(times) < TARGET_S else 'FAIL'}"
              f" < {TARGET_S:g} s); best {r.best.dataflow} {list(r.best.partition)} {list(r.best.tile)} "
              f"{r.best.order}: {b['cycles']:.0f} cycles vs default {d['cycles']:.0f} ({d['cycles'] / b['cycles']:.2f}x)")


if __name__ == "__main__":
    main()
