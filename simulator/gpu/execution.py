"""Execution profiles: how the host drives a GPU's kernels in a whole step (workload key `execution`).

    cuda-graph  the step is one CUDA graph replay: each kernel pays its start-up and tail (`launch_overhead`),
                no host gaps (../shared/reference/h100/measured_model.md: the measured whole steps)
    eager       eager PyTorch: the host issues every kernel (`eager_launch_gap` on the GPU side), and a kernel
                cannot start before the host has issued it: per op, t = max(GPU time, kernels x host_per_kernel)
                (no run-ahead credit: exact when the host is the bottleneck, an upper bound otherwise)
    serving     a serving engine's decode loop: the step replays a CUDA graph, then the host schedules the next
                batch, prepares its inputs, samples and detokenises with the GPU idle: + host_per_step per step

Each profile's host terms are measurements (sources below); `docs/gpu.md` ("Execution profiles") has the
equations.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Execution:
    name: str
    launch: str                 # GPU launch mode of every kernel: "graph" or "eager"
    host_per_kernel: float      # s the host needs to issue one kernel (0: issued ahead, not on the critical path)
    host_per_step: float        # s of host work per step with the GPU idle
    source: str


EXECUTION: dict[str, Execution] = {
    "cuda-graph": Execution("cuda-graph", "graph", 0.0, 0.0, "measured_model.md: whole steps as CUDA graph replays"),
    "eager": Execution("eager", "eager", 14.6e-6, 0.0,
                       "tests/data/gpu_h100/steps.csv: eager HF-style layer stacks whose GPU work is negligible (hidden "
                       "256) take 14.5 us per kernel (4288 us / 296 kernels, 17215 us / 1184); LLaMA-2-7B layers at "
                       "batch 1-64 take 14.7-15.8 us per kernel (host-bound); H100 host, PyTorch 2.11"),
    "serving": Execution("serving", "graph", 0.0, 4.0e-3,
                         "vLLM issue #6854 (multi-step scheduling RFC, 2024): about 4 ms of GPU bubble per decode "
                         "step while the synchronous engine loop schedules, prepares inputs and processes outputs"),
}
