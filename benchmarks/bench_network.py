"""Benchmark: congestion-aware network simulation (issue 10).

1. The communication of one LLaMA-2-70B decode step (80 layers, hidden 8192, bf16, batch 64) on 64 H100s (8 HGX
   nodes, NVLink 4 inside, one InfiniBand NDR 400 port per GPU between nodes) at TP 8 x PP 8 with 8 micro-batches
   of 8: per layer two ring all-reduces in each stage's node, a send/recv of the activations between stages, the
   logits all-gather in the last stage; every transfer shares the links of the one SimPy Fabric (the pipeline
   keeps up to 8 stages communicating at once). Target: under 1 s.
2. A congestion-aware all-to-all of 16 MiB per NPU on the 4x4x4 torus of tpuv4-pod64 (4032 flows over dimension-order
   routes, max-min fair). Target: under 2 s.

Run: python benchmarks/bench_network.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import simpy  # noqa: E402

from simulator.hardware.system import load_system  # noqa: E402
from simulator.network.collectives import collective, run_on_fabric  # noqa: E402
from simulator.network.flows import Fabric  # noqa: E402
from simulator.network.topology import Topology  # noqa: E402

LAYERS, HIDDEN, VOCAB, BYTES = 80, 8192, 32000, 2
TP, PP, MICRO, MICRO_BATCH = 8, 8, 8, 8


def decode_step(topology) -> float:
    """Simulated seconds of the step's communication (no compute: the links alone)."""
    env = simpy.Environment()
    fabric = Fabric(env, topology)
    act = MICRO_BATCH * HIDDEN * BYTES
    done: dict[tuple[int, int], simpy.Event] = {(m, s): env.event() for m in range(MICRO) for s in range(PP)}

    def stage(m: int, s: int):
        if s > 0:
            yield done[(m, s - 1)]
        if m > 0:
            yield done[(m - 1, s)]
        ranks = [s * TP + i for i in range(TP)]
        for _ in range(LAYERS // PP):
            yield run_on_fabric(fabric, "all-reduce", act, ranks)      # attention output projection
            yield run_on_fabric(fabric, "all-reduce", act, ranks)      # MLP down projection
        if s + 1 < PP:   # each TP rank sends its 1/TP slice to its peer in the next stage
            yield fabric.transfer([(r, r + TP, act / TP) for r in ranks])
        else:
            yield run_on_fabric(fabric, "all-gather", MICRO_BATCH * VOCAB * BYTES, ranks)
        done[(m, s)].succeed()

    for m in range(MICRO):
        for s in range(PP):
            env.process(stage(m, s))
    env.run()
    return env.now * 1e-12


def fresh(topology: Topology) -> Topology:
    """The same network with empty route caches, so that every timed run routes its flows."""
    return Topology(topology.graph, topology.devices, topology.dims)


def timed(fn, repeats: int = 3) -> tuple[float, float, object]:
    """Median wall and CPU seconds (the CPU time shows the cost apart from other load on a shared machine)."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), out


def main() -> None:
    cluster = load_system(ROOT / "hwconfigs/h100-2node.yaml", {"groups.gpu.count": 64, "topology.nodes": 8})
    wall, cpu, sim = timed(lambda: decode_step(fresh(cluster.topology)))
    print(f"llama2-70b decode step communication, 64 H100 (TP 8 x PP 8, 8 micro-batches), congestion-aware: "
          f"wall {wall:.3f} s, cpu {cpu:.3f} s (target < 1 s); simulated {sim * 1e3:.3f} ms")
    torus = load_system(ROOT / "hwconfigs/tpuv4-pod64.yaml").topology
    wall, cpu, cost = timed(lambda: collective(fresh(torus), "all-to-all", 16 * 2 ** 20, congestion_aware=True))
    unaware = collective(torus, "all-to-all", 16 * 2 ** 20).time_s
    print(f"all-to-all 16 MiB per NPU, 4x4x4 torus, congestion-aware: wall {wall:.3f} s, cpu {cpu:.3f} s "
          f"(target < 2 s); "
          f"simulated {cost.time_s * 1e3:.3f} ms (busiest-link bound {unaware * 1e3:.3f} ms)")


if __name__ == "__main__":
    main()
