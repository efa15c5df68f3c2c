"""Statistics of a command-level run: bandwidth, utilisation, read latency, row-buffer outcome, commands,
energy, per-channel figures and per-channel time series (bytes per time bin, for plots)."""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.memory.dram.command import CommandResult
from simulator.memory.dram.energy import energy_breakdown
from simulator.memory.dram.timing import COMMAND_NAMES
from simulator.memory.spec import MemorySpec

SERIES_BINS = 50


def _latency(lat: np.ndarray, tck: float, prefix: str = "") -> dict[str, float]:
    if lat.size == 0:
        return {f"{prefix}{k}": 0.0 for k in (
            "avg_read_latency_cycles", "avg_read_latency_ns", "p50_read_latency_cycles", "p50_read_latency_ns",
            "p99_read_latency_cycles", "p99_read_latency_ns", "max_read_latency_cycles", "max_read_latency_ns")}
    p50, p99 = np.percentile(lat, [50, 99])
    mean, mx = float(lat.mean()), float(lat.max())
    ns = tck * 1e9
    return {"avg_read_latency_cycles": mean, "avg_read_latency_ns": mean * ns,
            "p50_read_latency_cycles": float(p50), "p50_read_latency_ns": float(p50) * ns,
            "p99_read_latency_cycles": float(p99), "p99_read_latency_ns": float(p99) * ns,
            "max_read_latency_cycles": mx, "max_read_latency_ns": mx * ns}


def summarise(spec: MemorySpec, res: CommandResult, is_write: np.ndarray, *, level: str = "command") -> dict[str, Any]:
    """The JSON-ready summary of one run."""
    org = spec.organisation
    n = int(is_write.shape[0])
    rd = ~is_write.astype(bool)
    tx = org.tx_bytes
    cycles = max(int(res.end), 1)
    seconds = cycles * spec.tck
    lat = (res.done - res.arrive)[rd].astype(np.float64)
    served = res.kind[res.kind >= 0]
    dram = served[served != 3]
    hit = float(np.mean(dram == 0)) if dram.size else 0.0
    miss = float(np.mean(dram == 1)) if dram.size else 0.0
    conflict = float(np.mean(dram == 2)) if dram.size else 0.0
    counts = {name: int(res.counts[:, k].sum()) for k, name in enumerate(COMMAND_NAMES)}
    bits = n * tx * 8.0
    energy = energy_breakdown(spec, counts, float(res.background[:, 0].sum()), float(res.background[:, 1].sum()),
                              bits)
    peak = spec.peak_bandwidth
    bw = n * tx / seconds
    lay = res.layout
    per_channel = []
    ctl = lay.ctl
    nctl = lay.controllers
    req_c = np.bincount(ctl, minlength=nctl)
    rd_c = np.bincount(ctl[rd], minlength=nctl)
    lat_sum = np.bincount(ctl[rd], weights=(res.done - res.arrive)[rd], minlength=nctl)
    hits_c = np.bincount(ctl[res.kind == 0], minlength=nctl)
    dram_c = np.bincount(ctl[(res.kind >= 0) & (res.kind != 3)], minlength=nctl)
    for c in range(nctl):
        cc = {name: int(res.counts[c, k]) for k, name in enumerate(COMMAND_NAMES)}
        e = energy_breakdown(spec, cc, float(res.background[c, 0]), float(res.background[c, 1]),
                             float(req_c[c]) * tx * 8)
        per_channel.append({
            "channel": c, "requests": int(req_c[c]), "reads": int(rd_c[c]),
            "bandwidth_gbps": float(req_c[c]) * tx / seconds / 1e9,
            "avg_read_latency_cycles": float(lat_sum[c] / rd_c[c]) if rd_c[c] else 0.0,
            "row_hit_rate": float(hits_c[c] / dram_c[c]) if dram_c[c] else 0.0,
            "commands": cc, "energy_j": e["total"],
        })
    # time series: bytes moved per bin per channel (column-command issue time)
    bin_cycles = max(1, -(-cycles // SERIES_BINS))
    t = np.clip(res.issue, 0, cycles - 1) // bin_cycles
    series = np.zeros((nctl, SERIES_BINS), np.int64)
    np.add.at(series, (ctl, np.minimum(t, SERIES_BINS - 1)), tx)
    out: dict[str, Any] = {
        "memory": spec.name, "standard": spec.standard, "level": level,
        "requests": n, "reads": int(rd.sum()), "writes": int(n - rd.sum()), "tx_bytes": tx,
        "sim_cycles": cycles, "tck_ns": spec.tck * 1e9, "sim_time_s": seconds,
        "bandwidth_gbps": bw / 1e9, "peak_bandwidth_gbps": peak / 1e9, "utilisation": bw / peak,
        **_latency(lat, spec.tck),
        "row_hit_rate": hit, "row_miss_rate": miss, "row_conflict_rate": conflict,
        "commands": counts,
        "energy_j": energy["total"],
        "energy_breakdown_j": energy,
        "energy_pj_per_bit": energy["total"] / bits * 1e12 if bits else 0.0,
        "per_channel": per_channel,
        "series": {"bin_cycles": int(bin_cycles), "bytes_per_bin": series.tolist()},
    }
    return out
