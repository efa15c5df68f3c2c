"""Plots of a run: time by op kind and unit, and a roofline of every op on its unit."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def time_by_op(ops: pd.DataFrame, path: Path, title: str) -> None:
    """Stacked bars: total time of each op kind on each unit (repeats included)."""
    plt = _pyplot()
    total = ops.assign(t=ops["time_us"] * ops["count"]).pivot_table(index="unit", columns="kind", values="t",
                                                                     aggfunc="sum", fill_value=0.0)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    (total / 1e3).plot(kind="barh", stacked=True, ax=ax, width=0.6, colormap="tab20")
    ax.set_xlabel("busy time (ms)")
    ax.set_title(title)
    ax.legend(fontsize=7, ncols=2, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def roofline(ops: pd.DataFrame, peaks: dict[str, tuple[float, float]], path: Path, title: str) -> None:
    """Achieved FLOP/s against arithmetic intensity per op, with each unit's compute and bandwidth roofs.

    `peaks` maps unit -> (peak FLOP/s, bandwidth B/s)."""
    import numpy as np

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    df = ops[(ops["flops"] > 0) & (ops["time_us"] > 0)]
    for unit, group in df.groupby("unit"):
        ai = group["flops"] / group["bytes"].clip(lower=1)
        ax.scatter(ai, group["flops"] / (group["time_us"] * 1e-6), s=12, label=f"{unit} ops")
    for unit, (peak, bw) in peaks.items():
        x = np.logspace(-2, 4, 200)
        ax.plot(x, np.minimum(peak, bw * x), lw=1, label=f"{unit} roof")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("achieved FLOP/s")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
