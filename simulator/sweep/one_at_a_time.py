"""One-at-a-time sensitivity: vary each key over its values with the others at a base point, and a tornado plot
of how far each key moves a metric."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.sweep.api import sweep
from simulator.sweep.space import Points


def sensitivity(base: Mapping[str, Any], vary: Mapping[str, Sequence[Any]], hw: str | Path, workload: str | Path,
                metric: str, **kw) -> pd.DataFrame:
    """One row per varied key: the metric at the base point, its lowest and highest value over the key's values
    (others at base), the values that gave them, and `span` = high - low. Sorted by span, largest first; the
    other keywords go to `sweep()`."""
    base = dict(base)
    points = [base] + [{**base, k: v} for k, values in vary.items() for v in values]
    for k in vary:
        base.setdefault(k, None)
    keys = list(dict.fromkeys([*base, *vary]))
    points = [{k: p.get(k, base[k]) for k in keys} for p in points]
    frame = sweep(Points(points), hw, workload, **kw)
    at_base = float(frame[metric].iloc[0])
    rows = []
    for k, values in vary.items():
        part = frame.iloc[1:][frame.iloc[1:][k].isin(list(values))]
        for other in vary:
            if other != k:
                part = part[part[other] == base[other]]
        part = part[part["feasible"]]
        if part.empty:
            continue
        lo, hi = part[metric].idxmin(), part[metric].idxmax()
        rows.append({"key": k, "base": at_base, "low": float(frame.at[lo, metric]),
                     "high": float(frame.at[hi, metric]), "at_low": frame.at[lo, k], "at_high": frame.at[hi, k]})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["span"] = out["high"] - out["low"]
    return out.sort_values("span", ascending=False, ignore_index=True)


def tornado(frame: pd.DataFrame, metric: str = "", ax=None):
    """Horizontal bars from low to high per key around the base value, largest span on top."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(frame)))
    rows = frame.iloc[::-1]
    ax.barh(rows["key"], rows["high"] - rows["low"], left=rows["low"], color="tab:blue", alpha=0.7)
    if len(frame):
        ax.axvline(float(frame["base"].iloc[0]), color="black", lw=1)
    for y, (_, r) in enumerate(rows.iterrows()):
        ax.annotate(f"{r['at_low']}", (r["low"], y), ha="right", va="center", fontsize=7, xytext=(-3, 0),
                    textcoords="offset points")
        ax.annotate(f"{r['at_high']}", (r["high"], y), ha="left", va="center", fontsize=7, xytext=(3, 0),
                    textcoords="offset points")
    ax.set_xlabel(metric or "metric")
    ax.set_title("one-at-a-time sensitivity")
    return ax
