"""Plots of a run: time by op kind and unit against the end-to-end latency, and a roofline of every op.

Figures are drawn on `matplotlib.figure.Figure` objects and saved to files, so writing them neither needs nor
changes a pyplot backend (a notebook keeps its inline figures). The format follows the file's suffix
(png, svg or pdf).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


MARKERS = "os^vD<>pP*Xh"


@dataclass(frozen=True)
class Roof:
    """One roof: a unit's engine (matrix, vector, PIM) at its peak FLOP/s, fed at `bandwidth` B/s from `feed`."""

    unit: str
    engine: str
    flops: float
    bandwidth: float
    feed: str

    @property
    def label(self) -> str:
        peak, feed = f"{self.flops / 1e12:.3g} TFLOP/s", f"{self.feed} {self.bandwidth / 1e9:.4g} GB/s"
        return f"{self.unit} {self.engine} ({peak}, {feed})"


def title(run) -> str:
    """System, model, batch or requests, level and parallel plan of a run, for figure titles."""
    s, spec = run.summary, run.workload.spec
    size = f"{s['tokens']['batch']} requests" if spec.trace else f"batch {s['tokens']['batch']}"
    plan = f"TP {spec.tp}, PP {spec.pp}"
    return f"{s['model']} {s['phase']} ({size}) on {s['system']} x{run.system.devices}  [{s['level']}, {plan}]"


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.add_subplot()


def time_by_op(ops: pd.DataFrame, path: Path, title: str, latency_s: float | None = None) -> None:
    """Stacked bars: total busy time of each op kind on each unit (repeats included), each unit's idle time up to
    the end-to-end latency, and the latency as a line (units overlap, so busy time may exceed it)."""
    fig, ax = _figure(9, 4.8)
    total = ops.assign(t=ops["time_us"] * ops["count"]).pivot_table(index="unit", columns="kind", values="t",
                                                                     aggfunc="sum", fill_value=0.0) / 1e3
    if latency_s is not None:
        total["idle"] = (latency_s * 1e3 - total.sum(axis=1)).clip(lower=0.0)
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    left = np.zeros(len(total))
    for i, kind in enumerate(total.columns):
        style = {"color": "0.85", "hatch": "//", "edgecolor": "0.6"} if kind == "idle" else {"color": cmap(i % 20)}
        ax.barh(total.index, total[kind], left=left, height=0.6, label=kind, **style)
        left += total[kind].to_numpy()
    if latency_s is not None:
        ax.axvline(latency_s * 1e3, color="k", lw=1.2, ls="--", label=f"end to end {latency_s * 1e3:.4g} ms")
    ax.set_xlabel("time (ms)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, ncols=2, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def roofline(ops: pd.DataFrame, roofs: list[Roof], path: Path, title: str) -> None:
    """Achieved FLOP/s of every op against its arithmetic intensity, one colour per unit and one marker per op
    kind, under one labelled roof per unit and engine: min(peak FLOP/s, bandwidth x intensity)."""
    fig, ax = _figure(9, 5.5)
    df = ops[(ops["flops"] > 0) & (ops["time_us"] > 0)]
    units = sorted(set(df["unit"]) | {r.unit for r in roofs})
    colours = {u: f"C{i % 10}" for i, u in enumerate(units)}
    markers = {k: MARKERS[i % len(MARKERS)] for i, k in enumerate(sorted(df["kind"].unique()))}
    ai = df["flops"] / df["bytes"].clip(lower=1)
    lo, hi = (max(ai.min() / 4, 1e-3), ai.max() * 4) if len(df) else (1e-2, 1e4)
    x = np.logspace(np.log10(min(lo, 0.1)), np.log10(max(hi, 1e3)), 200)
    for roof, style in zip(roofs, _line_styles()):
        y = np.minimum(roof.flops, roof.bandwidth * x)
        ax.plot(x, y, color=colours[roof.unit], ls=style, lw=1.2, label=roof.label)
        ax.annotate(f"{roof.unit} {roof.engine}", (x[-1], y[-1]), fontsize=7, ha="right", va="bottom",
                    color=colours[roof.unit])
    for (unit, kind), group in df.groupby(["unit", "kind"]):
        sub_ai = group["flops"] / group["bytes"].clip(lower=1)
        ax.scatter(sub_ai, group["flops"] / (group["time_us"] * 1e-6), s=22, color=colours[unit],
                   marker=markers[kind], edgecolors="k", linewidths=0.3, label=f"{kind} on {unit}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("achieved FLOP/s")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _line_styles():
    while True:
        yield from ("-", "--", "-.", ":")
