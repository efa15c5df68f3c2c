"""Speed of the PIM model's command level against its transaction level on NeuPIMs stage B.

Not a timed unit test: run `python benchmarks/bench_pim.py`. It costs the multi-head-attention stage of the first
16 and of all 512 requests of the clb-0 trace (GPT-3 7B at TP 4, 8 heads) with `PimModel.stage` at both levels,
after one warm-up call that compiles (or loads) the command-level kernel, and prints PIM commands per second
(GWRITE, P_HEADER, PIM_PRE, G_ACT and COMPS_READRES: the commands the state machine issues one by one; the
transaction level times the same commands in closed form) and the ratio of the two rates, measured in one run.
The NeuPIMs artifact simulates 2 642 cycles per second (../shared/reference/neupims/README.md).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.hardware.system import load_system
from simulator.lowering.builders import attention_request
from simulator.pim.model import PimModel
from simulator.workload.trace import read_trace

REPEAT = 3


def best_of(fn, repeat: int = REPEAT) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def stage_ops(n: int):
    seq, ch = read_trace(ROOT / "workloads/traces/share-gpt2-bs512-ms7B-tp4-clb-0.csv", limit=n)
    ops = []
    for i, length in enumerate(seq.tolist()):
        qk, _, sv = attention_request("l0.attn", i, length, 1, False, heads=8, kv_heads=8, head_dim=128,
                                      act="fp16", kv="fp16")
        ops += [qk, sv]
    return ops, ch


def main() -> None:
    system = load_system(ROOT / "hwconfigs/neupims.yaml")
    models = {lvl: PimModel("pim", system.units["pim"], system.memories["hbm"], level=lvl)
              for lvl in ("transaction", "command")}
    print(f"{'requests':>8} {'level':<12} {'cycles':>9} {'commands':>9} {'wall ms':>8} {'commands/s':>11} "
          f"{'cycles/s':>10}")
    for n in (16, 512):
        ops, ch = stage_ops(n)
        rate = {}
        for lvl, model in models.items():
            cost = model.stage(ops, ch)                  # warm-up (kernel compile or cache load)
            c = cost.counts
            commands = c["cmd.GWRITE"] + c["cmd.P_HEADER"] + c["cmd.PIM_PRE"] + c["cmd.G_ACT"] + c["cmd.READRES"]
            wall = best_of(lambda m=model: m.stage(ops, ch))
            rate[lvl] = commands / wall
            cycles = cost.detail["pim_cycles"]
            print(f"{n:>8} {lvl:<12} {cycles:>9.0f} {commands:>9.0f} {wall * 1e3:>8.1f} {rate[lvl]:>11.3g} "
                  f"{cycles / wall:>10.3g}")
        print(f"{'':>8} command / transaction commands per second: {rate['command'] / rate['transaction']:.2f}")


if __name__ == "__main__":
    main()
