"""Non-dominated points of a DataFrame over objectives to maximise or minimise."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from simulator.errors import ConfigError

Objectives = Mapping[str, str] | Sequence[str]
MAXIMISE = ("throughput_tokens_per_s", "perf_per_w", "perf_per_mm2")


def normalise(objectives: Objectives) -> dict[str, str]:
    """{column: "max" | "min"}; a bare name means max for throughput and perf_per_* columns, min otherwise."""
    if isinstance(objectives, Mapping):
        out = dict(objectives)
    else:
        out = {o: ("max" if o in MAXIMISE else "min") for o in objectives}
    for col, sense in out.items():
        if sense not in ("max", "min"):
            raise ConfigError(f"objective direction '{sense}'; allowed: max, min", file="objectives", key=col)
    return out


def pareto(frame: pd.DataFrame, objectives: Objectives) -> pd.Series:
    """True for the feasible rows that no other feasible row dominates (at least as good in every objective and
    better in one). O(n^2) over the feasible rows, vectorised per row."""
    obj = normalise(objectives)
    missing = [c for c in obj if c not in frame]
    if missing:
        raise ConfigError(f"no column {missing[0]!r} in the results", file="objectives", key=missing[0])
    ok = frame["feasible"].to_numpy(bool).copy() if "feasible" in frame else np.ones(len(frame), bool)
    vals = np.column_stack([frame[c].to_numpy(float) * (-1.0 if s == "max" else 1.0) for c, s in obj.items()])
    ok &= np.isfinite(vals).all(axis=1)
    idx = np.flatnonzero(ok)
    sub = vals[idx]
    keep = np.zeros(len(frame), bool)
    for j, row in zip(idx, sub):
        dominated = ((sub <= row).all(axis=1) & (sub < row).any(axis=1)).any()
        keep[j] = not dominated
    return pd.Series(keep, index=frame.index, name="pareto")
