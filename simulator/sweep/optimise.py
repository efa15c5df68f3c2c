"""Multi-objective search over a space with optuna's NSGA-II sampler, under constraints.

Trials are asked in batches (one per worker), evaluated through the same cache and runners as `sweep()`, and
told back in order, so a search is deterministic given its seed. A point the simulator rejects (memory capacity
exceeded, an impossible value) is a failed trial; `constraints` bound result columns ({"power_w": 700} or
{"area_mm2.total": {"max": 900}, "throughput_tokens_per_s": {"min": 1e4}}) and NSGA-II prefers points that meet
them (optuna's Trial.set_constraint: values <= 0 are met).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.errors import ConfigError
from simulator.sweep.api import Evaluator, as_space, table
from simulator.sweep.front import Objectives, normalise, pareto
from simulator.sweep.space import Range, Space


def bounds(constraints: Mapping[str, Any] | None) -> list[tuple[str, str, float]]:
    """[(column, "max" | "min", bound)] from {column: bound (an upper bound) | {max: x} | {min: y}}."""
    out = []
    for col, b in (constraints or {}).items():
        items = b.items() if isinstance(b, Mapping) else [("max", b)]
        for sense, value in items:
            if sense not in ("max", "min"):
                raise ConfigError(f"constraint '{sense}'; allowed: max, min", file="constraints", key=col)
            out.append((col, sense, float(value)))
    return out


def violations(row: dict, limits: list[tuple[str, str, float]]) -> list[float]:
    """Per constraint: how far the row is past its bound, relative to the bound (<= 0: met)."""
    out = []
    for col, sense, bound in limits:
        v = float(row.get(col, float("nan")))
        excess = (v - bound) if sense == "max" else (bound - v)
        out.append(excess / abs(bound) if bound else excess)
    return out


def search(space: Space | Mapping[str, Any], hw: str | Path, workload: str | Path, objectives: Objectives, *,
           trials: int = 100, seed: int = 0, constraints: Mapping[str, Any] | None = None,
           population: int | None = None, sets=(), level: str | None = None, executor: Any = "local",
           workers: int | None = None, cache: bool = True, cache_dir: str | Path | None = None,
           progress: bool = False) -> pd.DataFrame:
    """NSGA-II over `space`'s domains for `trials` trials; one row per trial (column `trial`) as `sweep()` gives,
    with `constraints_ok` and `pareto` (non-dominated among the feasible trials that meet the constraints)."""
    import optuna

    obj = normalise(objectives)
    domains = as_space(space).domains
    limits = bounds(constraints)
    sampler = optuna.samplers.NSGAIISampler(population_size=population or max(4, min(50, trials // 4)), seed=seed)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["maximize" if s == "max" else "minimize" for s in obj.values()],
                                sampler=sampler)
    points, rows = [], []
    with Evaluator(hw, workload, sets=sets, level=level, executor=executor, workers=workers, cache=cache,
                   cache_dir=cache_dir, progress=progress) as ev:
        batch = getattr(ev.runner, "workers", 1)
        while len(points) < trials:
            asked = [study.ask() for _ in range(min(batch, trials - len(points)))]
            chosen = [{k: _suggest(t, k, d) for k, d in domains.items()} for t in asked]
            for t, point, row in zip(asked, chosen, ev.rows(chosen)):
                points.append(point)
                rows.append(row)
                if not row.get("feasible", False):
                    study.tell(t, state=optuna.trial.TrialState.FAIL)
                    continue
                for (col, sense, _), v in zip(limits, violations(row, limits)):
                    t.set_constraint(f"{col}:{sense}", v)
                study.tell(t, [float(row[c]) for c in obj])
    frame = table(points, rows, index="trial")
    ok = frame["feasible"].copy()
    for col, sense, bound in limits:
        ok &= (frame[col] <= bound) if sense == "max" else (frame[col] >= bound)
    frame["constraints_ok"] = ok.astype(bool)
    frame["pareto"] = pareto(frame.assign(feasible=frame["constraints_ok"]), obj)
    return frame


def _suggest(trial, k: str, d) -> Any:
    if isinstance(d, Range):
        if d.int:
            return trial.suggest_int(k, int(d.low), int(d.high), log=d.log)
        return trial.suggest_float(k, d.low, d.high, log=d.log)
    return trial.suggest_categorical(k, d)
