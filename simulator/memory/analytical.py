"""Analytical memory level: a transfer takes bytes / (peak bandwidth x sustained efficiency)."""

from __future__ import annotations

from simulator.memory.spec import MemorySpec


def sustained_bandwidth(spec: MemorySpec) -> float:
    """Bytes per second the analytical level assumes for long streams."""
    return spec.peak_bandwidth * spec.efficiency


def stream_time(spec: MemorySpec, nbytes: float) -> float:
    """Seconds to move `nbytes` as one long stream (no latency term: it is hidden by a deep pipeline)."""
    return nbytes / sustained_bandwidth(spec)
