"""Design spaces over `hw.` / `workload.` keys: a grid, random samples, or an explicit list of points.

A point is a {key: value} dict; keys are the `--set` paths of the CLI (`hw.device.units.pim.macs_per_bank`,
`workload.requests`). A domain is a list of values (categorical) or a range {low, high, log, int} (random and
search only). Point order is deterministic: the grid in row-major order of the keys as given, random samples
from numpy's generator seeded with `seed`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.errors import ConfigError

Point = dict[str, Any]


@dataclass(frozen=True)
class Range:
    """A numeric interval; `log` samples uniformly in log space, `int` rounds to integers."""

    low: float
    high: float
    log: bool = False
    int: bool = False

    def __post_init__(self) -> None:
        if not self.low <= self.high or (self.log and self.low <= 0):
            raise ConfigError(f"range needs low <= high (and low > 0 with log); got {self.low}, {self.high}",
                              file="space")

    def sample(self, rng: np.random.Generator) -> Any:
        u = rng.random()
        x = (math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low))) if self.log
             else self.low + u * (self.high - self.low))
        return int(round(x)) if self.int else float(x)


Domain = list | Range


def _domain(key: str, value: Any) -> Domain:
    _check_key(key)
    if isinstance(value, Range):
        return value
    if isinstance(value, dict):
        extra = set(value) - {"low", "high", "log", "int"}
        if extra or not {"low", "high"} <= set(value):
            raise ConfigError(f"a range has keys low, high[, log, int]; got {sorted(value)}", file="space", key=key)
        return Range(float(value["low"]), float(value["high"]), bool(value.get("log", False)),
                     bool(value.get("int", False)))
    if isinstance(value, (list, tuple)) and value:
        return [v.item() if hasattr(v, "item") else v for v in value]
    raise ConfigError(f"expected a non-empty list of values or a range {{low, high}}; got {value!r}",
                      file="space", key=key)


def _check_key(key: str) -> None:
    target, _, rest = str(key).partition(".")
    if target not in ("hw", "workload") or not rest:
        raise ConfigError("a swept key must look like hw.<key.path> or workload.<key.path>", file="space",
                          key=str(key))


class Space:
    """Base of the spaces: `points()` in a fixed order, and `domains` (key -> values or range) for search."""

    def __init__(self, domains: dict[str, Domain]):
        self.domains = domains

    def points(self) -> list[Point]:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.points())


class Grid(Space):
    """Every combination of the listed values (the last key varies fastest)."""

    def __init__(self, params: dict[str, list]):
        super().__init__({k: _domain(k, v) for k, v in params.items()})
        for k, d in self.domains.items():
            if isinstance(d, Range):
                raise ConfigError("a grid needs a list of values, not a range", file="space", key=k)

    def points(self) -> list[Point]:
        keys = list(self.domains)
        return [dict(zip(keys, combo)) for combo in itertools.product(*self.domains.values())]


class Random(Space):
    """`n` points drawn independently: a list domain uniformly, a range as its `log`/`int` flags say."""

    def __init__(self, params: dict[str, Any], n: int, seed: int = 0):
        super().__init__({k: _domain(k, v) for k, v in params.items()})
        if int(n) < 1:
            raise ConfigError(f"n must be at least 1, got {n}", file="space", key="n")
        self.n, self.seed = int(n), int(seed)

    def points(self) -> list[Point]:
        rng = np.random.default_rng(self.seed)
        out = []
        for _ in range(self.n):
            out.append({k: (d.sample(rng) if isinstance(d, Range) else d[int(rng.integers(len(d)))])
                        for k, d in self.domains.items()})
        return out


class Points(Space):
    """An explicit list of points (every point sets the same keys)."""

    def __init__(self, points: list[Point]):
        if not points:
            raise ConfigError("a list space needs at least one point", file="space")
        keys = list(points[0])
        for i, p in enumerate(points):
            if list(p) != keys:
                raise ConfigError(f"point {i} sets {sorted(p)}, the first sets {sorted(keys)}", file="space")
        super().__init__({k: _domain(k, list(dict.fromkeys(p[k] for p in points))) for k in keys})
        self._points = [dict(p) for p in points]

    def points(self) -> list[Point]:
        return [dict(p) for p in self._points]


def from_spec(spec: dict[str, Any]) -> Space:
    """A space from its YAML form: {grid: {key: [values]}}, {random: {n, seed, params}} or {list: [points]}."""
    if not isinstance(spec, dict) or len(spec) != 1:
        raise ConfigError("space must have exactly one of: grid, random, list", file="space")
    (kind, body), = spec.items()
    if kind == "grid" and isinstance(body, dict):
        return Grid(body)
    if kind == "random" and isinstance(body, dict):
        extra = set(body) - {"n", "seed", "params"}
        if extra or "params" not in body or "n" not in body:
            raise ConfigError(f"random needs n and params (and optional seed); got {sorted(body)}",
                              file="space", key="random")
        return Random(body["params"], body["n"], body.get("seed", 0))
    if kind == "list" and isinstance(body, list):
        return Points(body)
    raise ConfigError(f"unknown space '{kind}' (or wrong shape); allowed: grid, list, random", file="space")


def as_sets(point: Point) -> list[str]:
    """A point as `--set` strings (values written as YAML scalars)."""
    import json

    out = []
    for k, v in point.items():
        if isinstance(v, bool):
            text = "true" if v else "false"
        elif isinstance(v, (int, float, str)):
            text = str(v)
        else:
            text = json.dumps(v)
        out.append(f"{k}={text}")
    return out
