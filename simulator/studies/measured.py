"""Our GPU model beside this project's own kernel and step measurements (benchmarks/gpu/, tests/data/gpu_h100/).

    python -m simulator.studies.measured [--data tests/data/gpu_h100]

prints the error per group: causal prefill attention, bf16 / fp8 / int8 GEMMs, weight-only GEMV, and eager vs
CUDA-graph steps. The device that ran is read from the files (an H200 is predicted with hwconfigs/h200.yaml).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from simulator.studies.gpu_validation import attention_op, load_models
from simulator.lowering import builders as mk

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "gpu_h100"

# measured kind -> (weights, activations, group size)
GEMM_KINDS = {"bf16": ("bf16", "bf16", 128), "fp8": ("fp8", "fp8", 128), "int8": ("int8", "int8", 128),
              "w8": ("int8", "bf16", None), "w8p": ("int8", "bf16", None), "w4": ("int4", "bf16", 128)}


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
            w, a, g = GEMM_KINDS[r[4]]
            op = mk.gemm("g", M, N, K, weights=w, act=a, group_size=g)
            group = "weight-only GEMV/GEMM" if r[4] in ("w8", "w8p", "w4") else f"{r[4]} GEMM"
            out.append({"group": group, "what": f"{r[4]} M{M} N{N} K{K}", "measured": float(r[5]),
                        "ours": models["eager"].cost_isolated(op).time_s * 1e6})
    for row in out:
        row["err_pct"] = 100 * (row["ours"] - row["measured"]) / row["measured"]
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
    for r in table:
        print(f"{r['group']:22s} {r['what']:28s} {r['measured']:10.1f} {r['ours']:10.1f} {r['err_pct']:+7.1f} %")
    for g, (n, mape, bias) in summary(table).items():
        print(f"{g:22s} rows {n:3d}  MAPE {mape:5.1f} %  mean {bias:+5.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
