"""Wall time of the NPU model on a 4096^3 GEMM (NeuPIMs NPU) and its ratio to SCALE-Sim v3 on the same shapes.

Not a timed unit test: run `python benchmarks/bench_npu.py [--scalesim-max 1024]`. SCALE-Sim is run in this
process on cubic GEMMs up to --scalesim-max (its demand matrices grow as M N K / 128, so 4096^3 needs
gigabytes and hours); its time for larger shapes is extrapolated from the largest run in proportion to its
demand-matrix size, and marked as such.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "npu"))

from simulator.hardware.system import load_system
from simulator.lowering.ops import Op, Tensor, shape
from simulator.npu.model import NpuModel
from simulator.npu.systolic import scalesim_cycles


def gemm_op(n: int) -> Op:
    return Op("g", "gemm", shape(M=n, N=n, K=n), 2.0 * n**3,
              (Tensor("x", n * n, "fp16"), Tensor("w", n * n, "fp16", resident=True)), (Tensor("y", n * n, "fp16"),))


def time_model(model: NpuModel, n: int, repeat: int = 5) -> tuple[float, object]:
    best, cost = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        cost = model.cost(gemm_op(n))
        best = min(best, time.perf_counter() - t)
    return best, cost


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scalesim-max", type=int, default=512, help="largest cubic GEMM to run SCALE-Sim on")
    ap.add_argument("--dataflow", default="ws")
    args = ap.parse_args()

    neupims = load_system(ROOT / "hwconfigs/neupims.yaml")
    npu = NpuModel(neupims.units["npu"], neupims.memories[neupims.units["npu"].memory])
    ss_sys = load_system(ROOT / f"hwconfigs/npu/scalesim-{args.dataflow}-128.yaml")
    ss_model = NpuModel(ss_sys.units["npu"], ss_sys.memories[ss_sys.units["npu"].memory])

    wall, cost = time_model(npu, 4096)
    print(f"NeuPIMs NPU, GEMM 4096^3: {cost.cycles:,.0f} cycles, wall {wall * 1e3:.2f} ms "
          f"({'PASS' if wall < 1.0 else 'FAIL'} < 1 s)")

    try:
        from scalesim_runner import run_gemm
    except ImportError:
        print("scalesim not installed: pip install scalesim")
        return
    print(f"\n{'shape':>12} {'ours (ms)':>10} {'SCALE-Sim (s)':>14} {'ratio':>10}  cycles equal")
    last = None
    for n in (128, 256, 512, 1024, 2048, 4096):
        ours, _ = time_model(ss_model, n)
        if n <= args.scalesim_max:
            t = time.perf_counter()
            ref = run_gemm(n, n, n, args.dataflow)
            ss = time.perf_counter() - t
            last = (n, ss)
            equal = ref["total_cycles"] == scalesim_cycles(n, n, n, 128, 128, args.dataflow)
            note = "yes" if equal else "NO"
        else:
            n0, t0 = last
            ss = t0 * (scalesim_cycles(n, n, n, 128, 128, args.dataflow)
                       / scalesim_cycles(n0, n0, n0, 128, 128, args.dataflow))
            note = "(SCALE-Sim time extrapolated)"
        print(f"{n:>5}^3 GEMM {ours * 1e3:>10.3f} {ss:>14.2f} {ss / ours:>10.0f}x  {note}")


if __name__ == "__main__":
    main()
