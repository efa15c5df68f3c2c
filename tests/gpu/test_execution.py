"""Execution profiles of whole GPU steps: CUDA-graph replay, eager PyTorch, a serving engine's host time."""

from pathlib import Path

import pytest

from simulator.gpu.execution import EXECUTION
from simulator.run import simulate

REPO = Path(__file__).resolve().parents[2]


def _run(execution: str, *sets: str):
    return simulate(REPO / "hwconfigs/h100.yaml", REPO / "workloads/llama2-7b.yaml",
                    [f"workload.execution={execution}", "workload.implementation=eager-pytorch", *sets])


def _kernels(run) -> int:
    return sum(ev.cost.detail["kernels"] for _, ev in run.result.timeline() if ev.unit == "gpu")


def test_graph_is_the_default_and_the_summary_names_the_profile():
    graph = _run("cuda-graph")
    default = simulate(REPO / "hwconfigs/h100.yaml", REPO / "workloads/llama2-7b.yaml",
                       ["workload.implementation=eager-pytorch"])
    assert default.summary["latency_s"] == graph.summary["latency_s"]
    assert default.summary["software"] == {"implementation": "eager-pytorch", "execution": "cuda-graph"}
    assert all(ev.cost.detail["execution"] == "cuda-graph" for _, ev in graph.result.timeline() if ev.unit == "gpu")


def test_eager_adds_the_host_launch_of_every_kernel():
    """Eager: every kernel pays the GPU-side launch gap; a kernel shorter than the host's issue time waits for it."""
    graph, eager = _run("cuda-graph"), _run("eager")
    gpu = graph.system.units["gpu"]
    n = _kernels(graph)
    gap = n * gpu.eager_launch_gap + gpu.eager_call_overhead * sum(1 for _, ev in graph.result.timeline()
                                                                     if ev.unit == "gpu")
    assert eager.summary["latency_s"] >= graph.summary["latency_s"] + 0.99 * gap
    h = EXECUTION["eager"].host_per_kernel
    assert eager.summary["latency_s"] >= n * h * (1 - 1e-9)


def test_serving_adds_the_engine_host_time_once_per_step():
    graph, serving = _run("cuda-graph"), _run("serving")
    assert serving.summary["latency_s"] - graph.summary["latency_s"] == pytest.approx(
        EXECUTION["serving"].host_per_step, rel=1e-6)
    layers = _run("serving", "workload.batch=8")
    assert layers.summary["latency_s"] > _run("cuda-graph", "workload.batch=8").summary["latency_s"]


def test_unknown_execution_profile_is_a_config_error():
    from simulator.errors import ConfigError

    with pytest.raises(ConfigError, match="execution"):
        _run("turbo")


def test_a_large_graph_leaves_longer_gaps_between_kernels():
    """Up to 512 kernels a graph's kernels follow each other 0.10 us apart, beyond it 0.42 us
    (tests/data/gpu_h100/graph_launch.csv): 16 layers (640 kernels) cost 0.32 us more per kernel than 8 (320)."""
    def per_layer(layers):
        run = _run("cuda-graph", f"workload.layers={layers}", "workload.scope=layers")
        return run.summary["latency_s"] / layers, _kernels(run) / layers
    (t8, k8), (t16, k16) = per_layer(8), per_layer(16)
    assert k8 == k16 and 8 * k8 <= 512 < 16 * k16
    assert t16 - t8 == pytest.approx(k8 * 0.32e-6, rel=1e-6)
