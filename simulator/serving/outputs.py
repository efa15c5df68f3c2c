"""A serving run's output directory (written atomically): requests.csv, iterations.csv, transfers.csv,
summary.json, trace.json (Chrome/Perfetto: one process per device group, one track per replica, one event per
iteration, and a track per prefill replica's KV sends), latency_cdf.png and timeline.png (batch size, KV usage
and power over time)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.report.atomic import write_atomically


def write_serving(result, out: Path, *, force: bool = False) -> None:
    def fill(tmp: Path) -> None:
        result.requests.to_csv(tmp / "requests.csv", index=False)
        result.iterations.to_csv(tmp / "iterations.csv", index=False)
        result.transfers.to_csv(tmp / "transfers.csv", index=False)
        (tmp / "summary.json").write_text(json.dumps(result.summary, indent=2, default=_plain) + "\n")
        (tmp / "trace.json").write_text(json.dumps(chrome_trace(result.iterations, result.transfers)))
        latency_cdf(result.requests, tmp / "latency_cdf.png")
        timeline(result.iterations, tmp / "timeline.png")

    write_atomically(out, fill, force=force)


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend, imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_sweep(table: pd.DataFrame, best: float | None, out: str | Path, *, force: bool = False) -> None:
    """sweep.csv (one row per rate) and latency_vs_load.png (TTFT and TPOT p50/p99, SLO attainment)."""

    def fill(tmp: Path) -> None:
        table.to_csv(tmp / "sweep.csv", index=False)
        plt = _pyplot()
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
        for ax, key in zip(axes[:2], ("ttft", "tpot")):
            for p in ("p50", "p99"):
                ax.plot(table["rate"], table[f"{key}_{p}_s"] * 1e3, marker="o", label=p)
            ax.set_ylabel(f"{key} (ms)")
            ax.legend()
        axes[2].plot(table["rate"], table["attainment"], marker="o")
        axes[2].set_ylabel("SLO attainment")
        if best is not None:
            axes[2].axvline(best, ls="--", c="gray")
        for ax in axes:
            ax.set_xlabel("rate (requests/s)")
            ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(tmp / "latency_vs_load.png", dpi=110)
        plt.close(fig)

    write_atomically(Path(out), fill, force=force)


def _plain(value):
    """JSON for numpy scalars (and the text of anything else)."""
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return str(value)


def chrome_trace(it: pd.DataFrame, transfers: pd.DataFrame) -> dict:
    groups = sorted(it["group"].unique())
    pid = {g: i for i, g in enumerate(groups)}
    events: list[dict] = []
    for g in groups:
        events.append({"ph": "M", "name": "process_name", "pid": pid[g], "args": {"name": f"group {g}"}})
        for r in sorted(it.loc[it["group"] == g, "replica"].unique()):
            events.append({"ph": "M", "name": "thread_name", "pid": pid[g], "tid": int(r),
                           "args": {"name": f"replica {r}"}})
    for row in it.itertuples(index=False):
        events.append({"name": row.kind, "ph": "X", "pid": pid[row.group], "tid": int(row.replica),
                       "ts": row.start_s * 1e6, "dur": row.latency_s * 1e6,
                       "args": {"decode": int(row.decode), "prefill": int(row.prefill), "tokens": int(row.tokens),
                                "kv_blocks_used": int(row.kv_blocks_used), "preempted": int(row.preempted),
                                "energy_j": float(row.energy_j)}})
    if len(transfers):
        link = len(groups)
        events.append({"ph": "M", "name": "process_name", "pid": link, "args": {"name": "KV link"}})
        for row in transfers.itertuples(index=False):
            events.append({"name": f"kv r{row.request}", "ph": "X", "pid": link, "tid": int(row.prefill_replica),
                           "ts": row.start_s * 1e6, "dur": (row.end_s - row.start_s) * 1e6,
                           "args": {"bytes": float(row.bytes)}})
    return {"traceEvents": events, "displayTimeUnit": "ms"}


def latency_cdf(req: pd.DataFrame, path: Path) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
    for ax, key in zip(axes, ("ttft", "tpot", "e2e", "queue")):
        v = np.sort(req[f"{key}_s"].dropna().to_numpy())
        if len(v):
            ax.plot(v * 1e3, np.arange(1, len(v) + 1) / len(v))
        ax.set_xlabel(f"{key} (ms)")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("CDF")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def timeline(it: pd.DataFrame, path: Path) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(3, 1, figsize=(9, 6.5), sharex=True)
    for (g, r), d in it.groupby(["group", "replica"]):
        label = f"{g}[{r}]"
        axes[0].step(d["start_s"], d["decode"] + d["prefill"], where="post", lw=0.7, label=label)
        axes[1].step(d["start_s"], d["kv_blocks_used"] / d["kv_blocks"], where="post", lw=0.7)
        axes[2].step(d["start_s"], d["energy_j"] / d["latency_s"], where="post", lw=0.7)
    axes[0].set_ylabel("batch size")
    axes[1].set_ylabel("KV blocks used")
    axes[2].set_ylabel("power (W)")
    axes[2].set_xlabel("time (s)")
    if it[["group", "replica"]].drop_duplicates().shape[0] <= 8:
        axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
