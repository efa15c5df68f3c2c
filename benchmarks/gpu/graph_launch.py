"""How a CUDA-graph step's time splits into kernels, gaps between them and the replay's start (issue 15).

    python benchmarks/gpu/graph_launch.py        # on the device machine; writes $OUT/graph_launch.csv

For LLaMA-2-7B layer stacks of 1-32 layers (batch 1, context 512, the software of step_profile.py) it records,
per stack: kernels, `single_us` (median of 20 replays, CUDA events around each, the GPU idle before it),
`loop_us` (20 replays back to back between two events, per replay: the host enqueues ahead), and from one
profiled replay the kernels' summed CUPTI time, the span first start -> last end and the median gap.
"""

import os

import torch
from step_profile import Model, kernels_of, median, timed
from torch.profiler import ProfilerActivity, profile


def main():
    with open(os.path.join(os.environ.get("OUT", "."), "graph_launch.csv"), "w") as out:
        record(out)


def record(out):
    out.write("layers,full,kernels,single_us,loop_us,busy_us,span_us,median_gap_us\n")
    with torch.no_grad():
        for layers, full in ((1, False), (4, False), (8, False), (16, False), (32, False), (32, True)):
            m = Model("llama2-7b", layers, 1, 1, 512, full)
            for _ in range(3):
                m.step()
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                m.step()
            g.replay()
            single = timed(g.replay, 20)
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            a.record()
            for _ in range(20):
                g.replay()
            b.record()
            torch.cuda.synchronize()
            loop = a.elapsed_time(b) * 1e3 / 20
            with profile(activities=[ProfilerActivity.CUDA]) as p:
                g.replay()
                torch.cuda.synchronize()
            ks = kernels_of(p)
            busy = sum(d for _, _, d in ks)
            span = ks[-1][1] + ks[-1][2]
            gap = median([ks[i][1] - ks[i - 1][1] - ks[i - 1][2] for i in range(1, len(ks))])
            row = f"{layers},{int(full)},{len(ks)},{single:.1f},{loop:.1f},{busy:.1f},{span:.1f},{gap:.2f}"
            print(row)
            out.write(row + "\n")
            del m, g
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
