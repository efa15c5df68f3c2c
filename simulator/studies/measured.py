"""Our GPU model beside this project's own kernel and step measurements (benchmarks/gpu/, tests/data/gpu_h100/).

    python -m simulator.studies.measured [--data tests/data/gpu_h100]

prints the error per group: causal prefill attention, bf16 / fp8 / int8 GEMMs, weight-only GEMV, the small ops
with their inputs in L2 and rotated out of it (smallops.csv), and whole CUDA-graph decode and prefill steps of
LLaMA-2-7B / 13B (step_profile.csv). The device that ran is read from the files (an H200 is predicted with
hwconfigs/h200.yaml).
"""

from __future__ import annotations

import argparse
import csv
import gzip
from pathlib import Path

import numpy as np

from simulator.lowering import builders as mk
from simulator.studies.gpu_validation import (
    attention_op,
    elementwise_op,
    load_models,
    norm_op,
    softmax_op,
)

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "gpu_h100"

# measured kind -> (weights, activations, group size)
GEMM_KINDS = {"bf16": ("bf16", "bf16", 128), "fp8": ("fp8", "fp8", 128), "int8": ("int8", "int8", 128),
              "w8": ("int8", "bf16", None), "w8p": ("int8", "bf16", None), "w4": ("int4", "bf16", 128)}


# the kernels behind each measured kind (tests/data/gpu_h100/kernel_names.csv); groups named "not modelled" are
# software kernels the model does not describe, reported for what they show
GEMM_GROUPS = {"w8": "int8 weight-only, eager dequant", "w4": "int4 weight-only, fused (tinygemm M = 1)",
               "w8p": "not modelled: torch._weight_int8pack_mm", "int8": "int8 GEMM (torch._int_mm, sm80 kernel)"}
UNMODELLED = {"w4": "not modelled: tinygemm at M > 1 (a GEMV kernel looped over rows)"}


def _gemm_ops(kind: str, M: int, N: int, K: int) -> list:
    """The ops of one measured GEMM call: eager `F.linear(x, w.to(bf16)) * s` is a cast of the weights on the
    generic path, a bf16 GEMM and the scale (`builders.eager_dequant_gemm`); `torch._int_mm` is CUTLASS's sm80
    kernel."""
    w, a, g = GEMM_KINDS[kind]
    if kind == "w8":
        return list(mk.eager_dequant_gemm("g", M, N, K, weights=w, act=a, compute="bf16"))
    return [mk.gemm("g", M, N, K, weights=w, act=a, group_size=g, legacy_mma=kind == "int8")]


def _call_us(model, ops: list) -> float:
    """One eagerly timed call of `ops` back to back (the call overhead once; inputs after the first op's are what
    the op before wrote)."""
    rest = sum(model.cost(op, mode="eager").time_s - model.spec.eager_call_overhead for op in ops[1:])
    return (model.cost_isolated(ops[0]).time_s + rest) * 1e6


def _rows(path: Path) -> list[list[str]]:
    with open(path) as f:
        return [r for r in csv.reader(f) if r]


def hardware(rows: list[list[str]]) -> Path:
    env = next((r for r in rows if r[0] == "env"), None)
    name = env[1] if env else "H100"
    return REPO / "hwconfigs" / ("h200.yaml" if "H200" in name else "h100.yaml")


def kernel_table(data: Path = DATA) -> list[dict]:
    """Every measured kernel row with our eager single-call prediction (median_us) and graph prediction."""
    rows = _rows(data / "kernels.csv")
    models = load_models(hardware(rows))
    out = []
    for r in rows:
        if r[0] == "attn" and r[5] != "err":
            B, L, H, h = map(int, r[1:5])
            op = attention_op(B, H, h, 128, L, q_len=L, causal=True)
            out.append({"group": "prefill attention", "what": f"B{B} L{L} H{H}/{h}", "measured": float(r[5]),
                        "ours": models["eager"].cost_isolated(op).time_s * 1e6})
        elif r[0] == "gemm" and r[5] != "err":
            M, N, K = map(int, r[1:4])
            kind = r[4]
            out.append({"group": GEMM_GROUPS.get(kind, f"{kind} GEMM") if not (kind == "w4" and M > 1)
                        else UNMODELLED["w4"], "what": f"{kind} M{M} N{N} K{K}", "measured": float(r[5]),
                        "ours": _call_us(models["eager"], _gemm_ops(kind, M, N, K))})
    for row in out:
        row["err_pct"] = 100 * (row["ours"] - row["measured"]) / row["measured"]
    return out


# smallops.csv op -> the Op of `rows` x `cols`; the one-kernel probes (silu, exp, mul, copy) only set constants
# (docs/gpu.md) and have no Op of their own
SMALL_OPS = {
    "add": lambda r, c: elementwise_op("add", r * c),
    "rms_norm": lambda r, c: norm_op(r, c, "two-pass"),
    "rmsnorm_hf": lambda r, c: norm_op(r, c, "eager-pytorch"),
    "silu_mul": lambda r, c: elementwise_op("silu_mul", r * c, "eager-pytorch"),
    "softmax": lambda r, c: softmax_op(r, c),
    "softmax_fp32": lambda r, c: softmax_op(r, c, "fp32"),
}
GRAPH_GAP_US = 0.15    # per kernel: a lone add's graph_us in calibration_smallops.csv (1.24 us) over its CUPTI time


def smallops_table(data: Path = DATA) -> list[dict]:
    """smallops.csv's ops with their input sets (`footprint_MB`) beside our graph-mode prediction for the same
    rotation: measured = the CUPTI time of the call's kernels plus GRAPH_GAP_US each (what a call costs inside a
    step's graph; the file's own graph_us also carries the launch of its 32-call graphs)."""
    rows = _rows(data / "smallops.csv")
    model = load_models(hardware(rows))["graph"]
    out = []
    for _, name, rows_, cols, _sets, footprint, _median, _graph, kernel_us in (
            r for r in rows if r[0] == "op" and r[1] in SMALL_OPS):
        cost = model.cost(SMALL_OPS[name](int(rows_), int(cols)), footprint=float(footprint) * 1e6)
        measured = float(kernel_us) + GRAPH_GAP_US * cost.detail["kernels"]      # PyTorch's kernels are ours
        ours = cost.time_s * 1e6
        out.append({"group": f"small ops: {name}", "what": f"{rows_}x{cols} over {float(footprint):.0f} MB",
                    "measured": measured, "ours": ours, "err_pct": 100 * (ours - measured) / measured})
    return out


def step_table(data: Path = DATA) -> list[dict]:
    """Whole CUDA-graph steps of `step_profile.csv` (LLaMA-2-7B / 13B decode and prefill, the eager-pytorch
    software): our step time beside one replay timed alone (`single_us`, the GPU idle before it, so the host's
    graph launch is in it) and the replay's kernel span from its trace (first start to last end: what a replay
    takes back to back with others, graph_launch.csv's `loop_us`)."""
    from simulator.run import simulate

    rows = _rows(data / "step_profile.csv")
    hw = hardware(rows)
    spans: dict[str, float] = {}
    with gzip.open(data / "trace.csv.gz", "rt") as f:
        for r in csv.reader(f):
            if r and r[1] == "graph":
                spans[r[0]] = max(spans.get(r[0], 0.0), float(r[4]) + float(r[5]))
    out = []
    for r in rows:
        if r[0] != "step" or r[2] == "err":
            continue
        _, name, model, layers, phase, batch, new, ctx, kernels, single, _eager = r
        sets = [f"workload.model={model}", f"workload.batch={batch}", f"workload.layers={layers}",
                "workload.implementation=eager-pytorch", f"workload.phase={phase}"]
        sets += [f"workload.context_len={ctx}"] if phase == "decode" else [f"workload.prompt_len={new}"]
        if int(layers) < 32:                       # a layer stack alone (no embedding, final norm or LM head)
            sets.append("workload.scope=layers")
        ours = simulate(hw, REPO / "workloads" / "llama2-7b.yaml", sets).summary["latency_s"] * 1e6
        out.append({"what": name, "phase": phase, "batch": int(batch), "kernels": int(kernels),
                    "single_us": float(single), "span_us": spans[name], "ours": ours,
                    "err_single_pct": 100 * (ours / float(single) - 1), "err_span_pct": 100 * (ours / spans[name] - 1)})
    return out


def summary(table: list[dict]) -> dict[str, tuple[int, float, float]]:
    """Group -> (rows, MAPE %, mean signed error %)."""
    groups: dict[str, list[float]] = {}
    for r in table:
        groups.setdefault(r["group"], []).append(r["err_pct"])
    return {g: (len(e), float(np.mean(np.abs(e))), float(np.mean(e))) for g, e in groups.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m simulator.studies.measured", description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args(argv)
    table = kernel_table(args.data)
    if (args.data / "smallops.csv").exists():
        table += smallops_table(args.data)
    for r in table:
        print(f"{r['group']:22s} {r['what']:28s} {r['measured']:10.1f} {r['ours']:10.1f} {r['err_pct']:+7.1f} %")
    for g, (n, mape, bias) in summary(table).items():
        print(f"{g:22s} rows {n:3d}  MAPE {mape:5.1f} %  mean {bias:+5.1f} %")
    if (args.data / "step_profile.csv").exists():
        steps = step_table(args.data)
        for r in steps:
            print(f"step {r['what']:14s} single {r['single_us']:9.1f} span {r['span_us']:9.1f} ours {r['ours']:9.1f} "
                  f"{r['err_single_pct']:+6.1f} % / {r['err_span_pct']:+6.1f} %")
        for key in ("err_single_pct", "err_span_pct"):
            e = np.array([r[key] for r in steps])
            worst = e[np.argmax(np.abs(e))]
            print(f"whole steps vs {key[4:-4]:6s}: MAPE {np.mean(np.abs(e)):4.1f} %, worst {worst:+5.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
