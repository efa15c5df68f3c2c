"""Vector units: iteration counts of norms, softmax, activations and residuals on `units` x `lanes` SIMD.

An instruction processes `lanes` elements; an op over n elements in one pass takes ceil(n / lanes)
iterations (NeuPIMs: "Vector op: ceil(size / 128) iterations"). A row reduction accumulates lane-wide
partial sums over the row, then folds the lanes with an add tree of ceil(log2(min(row, lanes))) levels
(NeuPIMs: "add-tree reductions recursive"). Iterations spread over the units; pipelined instructions
issue one per cycle and the deepest latency is paid once per pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.npu.spec import VectorUnits

# Per element: the element-wise instructions of one op, in order; "reduce:<op>" is a row reduction.
PROGRAMS: dict[str, tuple[str, ...]] = {
    "add": ("add",),
    "gelu": ("gelu",),
    "relu": ("max",),
    "silu_mul": ("silu", "mul"),
    "rotary": ("mul", "mul", "add"),                        # x cos + rotate(x) sin
    "softmax": ("reduce:max", "add", "exp", "reduce:add", "mul"),   # max, x - max, exp, sum, x / sum
    # mean, x - mean, square, variance, normalise, gamma, beta
    "layernorm": ("reduce:add", "add", "mul", "reduce:add", "mul", "mul", "add"),
    "rmsnorm": ("mul", "reduce:add", "mul", "mul"),        # square, sum, normalise, gamma
    "moe_router": ("reduce:max", "add", "exp", "reduce:add", "mul", "reduce:max"),   # softmax + top-k max
    "sampling": ("reduce:max", "add", "exp", "reduce:add", "mul", "reduce:max"),     # softmax + argmax
    "copy": (),
}
ROW_SCALARS = {"softmax": ("div",), "layernorm": ("sqrt", "div"), "rmsnorm": ("sqrt", "div"),
               "moe_router": ("div",), "sampling": ("div",)}


@dataclass(frozen=True)
class VectorCost:
    cycles: float
    iterations: float          # lane-wide instructions issued (over all units)
    lane_ops: float            # element operations (energy)
    passes: int


def vector_cycles(spec: VectorUnits, kind: str, elements: float, row: float | None = None) -> VectorCost:
    """Cycles of op `kind` over `elements` elements in rows of `row` elements (default: one row)."""
    program = PROGRAMS.get(kind, ("add",))
    row = float(elements if not row else row)
    rows = max(1.0, math.ceil(elements / row))
    lanes, units = spec.lanes, spec.units
    iterations = 0.0
    tail = 0.0
    lane_ops = 0.0
    for step in program:
        op = step.split(":")[-1]
        lat = float(spec.latency.get(op, 1))
        if step.startswith("reduce:"):
            width = min(row, lanes)
            levels = math.ceil(math.log2(width)) if width > 1 else 0
            # accumulate lane-wide, then the add tree over the packed rows
            it = rows * math.ceil(row / lanes) + levels * math.ceil(rows * width / 2 / lanes)
            lane_ops += elements
        else:
            it = math.ceil(elements / lanes)
            lane_ops += elements
        iterations += it * (1 if spec.pipelined else lat)
        tail += lat
    for op in ROW_SCALARS.get(kind, ()):
        lat = float(spec.latency.get(op, 1))
        iterations += math.ceil(rows / lanes) * (1 if spec.pipelined else lat)
        tail += lat
        lane_ops += rows
    cycles = math.ceil(iterations / units) + (tail if spec.pipelined else 0.0)
    return VectorCost(cycles=cycles, iterations=iterations, lane_ops=lane_ops, passes=len(program))


def gemv_cycles(spec: VectorUnits, rows: int, n: int, k: int) -> VectorCost:
    """Matrix-vector product on the vector units: `rows` input vectors x a k x n matrix, lanes along k.

    Each weight element is multiplied with each of the `rows` vectors (lane MAC), partial sums are folded by an
    add tree per output; the weights stream through once."""
    lanes, units = spec.lanes, spec.units
    macs = float(rows) * n * k
    iterations = math.ceil(macs / lanes)
    width = min(k, lanes)
    levels = math.ceil(math.log2(width)) if width > 1 else 0
    tree = levels * math.ceil(rows * n * width / 2 / lanes) if k >= lanes else levels * math.ceil(rows * n / lanes)
    lat = float(spec.latency.get("mac", 1)) + levels * float(spec.latency.get("add", 1))
    cycles = math.ceil((iterations + tree) / units) + lat
    return VectorCost(cycles=cycles, iterations=iterations + tree, lane_ops=macs, passes=1)
