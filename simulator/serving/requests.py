"""Request streams: arrival times (Poisson, gamma with a burstiness knob, or a replayed trace) and prompt/output
lengths (the ShareGPT or Alpaca distribution, fixed lengths, or a trace), all drawn from one seed.

Gamma arrivals: inter-arrival gaps ~ Gamma(k = 1/cv^2, theta = 1/(rate k)), mean 1/rate and coefficient of
variation cv (cv = 1 is Poisson; cv > 1 is burstier), as AlpaServe and DistServe generate bursty traffic.
Data-set lengths are sampled with replacement from the rows whose prompt + output fits the model's positions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.errors import ConfigError, allowed, did_you_mean

TRACES = Path(__file__).resolve().parents[2] / "workloads" / "traces"
DATASETS = {"sharegpt": TRACES / "sharegpt_token_lengths.tsv", "alpaca": TRACES / "alpaca_token_lengths.tsv"}
ARRIVALS = ("poisson", "gamma")
TRACE_COLUMNS = ("arrival_s", "prompt_len", "output_len")


@dataclass(frozen=True)
class Stream:
    """Requests in arrival order: arrival time (s), prompt tokens and output tokens (>= 1, the first of which the
    prefill produces)."""

    arrival_s: np.ndarray
    prompt: np.ndarray
    output: np.ndarray

    def __len__(self) -> int:
        return len(self.arrival_s)

    def subset(self, idx: np.ndarray) -> Stream:
        return Stream(self.arrival_s[idx], self.prompt[idx], self.output[idx])


def arrivals(n: int, rate: float, process: str = "poisson", cv: float = 1.0, *,
             rng: np.random.Generator) -> np.ndarray:
    """`n` arrival times from 0 at `rate` requests/s."""
    if not (rate > 0 and math.isfinite(rate)):
        raise ConfigError(f"rate must be > 0 requests/s, got {rate}", file="--rate")
    if process not in ARRIVALS:
        raise ConfigError(f"unknown arrival process '{process}'{did_you_mean(process, ARRIVALS)}; "
                          f"{allowed(ARRIVALS)}", file="--arrival")
    if process == "poisson":
        gaps = rng.exponential(1.0 / rate, n)
    else:
        if not (cv > 0 and math.isfinite(cv)):
            raise ConfigError(f"cv must be > 0, got {cv}", file="--cv")
        k = 1.0 / cv**2
        gaps = rng.gamma(k, 1.0 / (rate * k), n)
    out = np.cumsum(gaps)
    return out - out[0]


def lengths(source: str, n: int, max_position: int, *, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Prompt and output lengths of `n` requests: `sharegpt`, `alpaca` or `fixed:PROMPT:OUTPUT`."""
    if source.startswith("fixed:"):
        try:
            p, o = (int(x) for x in source.split(":")[1:3])
            if source.count(":") != 2:
                raise ValueError
        except ValueError:
            raise ConfigError(f"'{source}' must look like fixed:PROMPT:OUTPUT (integers)", file="--lengths") from None
        check_lengths(np.array([p]), np.array([o]), max_position, "--lengths", source)
        return np.full(n, p, dtype=np.int64), np.full(n, o, dtype=np.int64)
    if source not in DATASETS:
        raise ConfigError(f"unknown length source '{source}'{did_you_mean(source, DATASETS)}; "
                          f"{allowed([*DATASETS, 'fixed:PROMPT:OUTPUT'])}", file="--lengths")
    table = dataset(source)
    ok = (table[:, 0] >= 1) & (table[:, 1] >= 1) & (table[:, 0] + table[:, 1] <= max_position)
    rows = table[ok]
    pick = rng.integers(0, len(rows), n)
    return rows[pick, 0].copy(), rows[pick, 1].copy()


_DATA: dict[str, np.ndarray] = {}


def dataset(name: str) -> np.ndarray:
    """The (prompt, output) rows of a shipped length data set, read once."""
    if name not in _DATA:
        _DATA[name] = pd.read_csv(DATASETS[name], sep="\t").to_numpy(dtype=np.int64)
    return _DATA[name]


def check_lengths(prompt: np.ndarray, output: np.ndarray, max_position: int, file: str, where: str) -> None:
    """Prompts >= 1, outputs >= 1, prompt + output within the model's positions."""
    for name, values, low in (("prompt_len", prompt, 1), ("output_len", output, 1)):
        bad = np.flatnonzero(~(values >= low))
        if len(bad):
            raise ConfigError(f"{name} must be an integer >= {low}, got {values[bad[0]]}", file=file,
                              key=f"{where}" if where else name)
    total = prompt + output
    bad = np.flatnonzero(total > max_position)
    if len(bad):
        raise ConfigError(f"prompt_len + output_len = {total[bad[0]]} exceeds the model's {max_position} positions; "
                          f"allowed: at most {max_position}", file=file, key=where or "prompt_len")


def read_trace(path: Path, max_position: int, rate: float | None, process: str, cv: float, *,
               rng: np.random.Generator, limit: int | None = None) -> Stream:
    """A serving trace: CSV `arrival_s,prompt_len,output_len` (arrival_s may be absent when a rate is given)."""
    file = str(path)
    try:
        df = pd.read_csv(path, skipinitialspace=True)
    except FileNotFoundError:
        raise ConfigError("trace file not found", file=file) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not a CSV trace ({str(exc).splitlines()[0]})", file=file) from None
    cols = [c.strip() for c in df.columns]
    df.columns = cols
    unknown = [c for c in cols if c not in TRACE_COLUMNS]
    missing = [c for c in ("prompt_len", "output_len") if c not in cols]
    if unknown or missing:
        bad = unknown[0] if unknown else missing[0]
        what = "unknown column" if unknown else "missing column"
        raise ConfigError(f"{what} '{bad}'{did_you_mean(bad, TRACE_COLUMNS) if unknown else ''}; expected the "
                          f"header {','.join(TRACE_COLUMNS)} (arrival_s optional with --rate)", file=file, key="line 1")
    if limit is not None:
        df = df.iloc[:limit]
    if df.empty:
        raise ConfigError("the trace has no requests", file=file)
    values = {}
    for c in cols:
        v = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(v))
        if len(bad):
            raise ConfigError(f"{c} is not a finite number: {df[c].iloc[bad[0]]!r}", file=file,
                              key=f"line {bad[0] + 2}")
        values[c] = v
    for c in ("prompt_len", "output_len"):
        v = values[c]
        bad = np.flatnonzero((v < 1) | (v != np.round(v)))
        if len(bad):
            raise ConfigError(f"{c} must be an integer >= 1, got {v[bad[0]]:g}", file=file, key=f"line {bad[0] + 2}")
    prompt, output = values["prompt_len"].astype(np.int64), values["output_len"].astype(np.int64)
    total = prompt + output
    bad = np.flatnonzero(total > max_position)
    if len(bad):
        raise ConfigError(f"prompt_len + output_len = {total[bad[0]]} exceeds the model's {max_position} positions; "
                          f"allowed: at most {max_position}", file=file, key=f"line {bad[0] + 2}")
    if "arrival_s" in values:
        t = values["arrival_s"]
        bad = np.flatnonzero((t < 0) | (np.diff(t, prepend=t[0]) < 0))
        if len(bad):
            raise ConfigError(f"arrival_s must be >= 0 and non-decreasing, got {t[bad[0]]:g}", file=file,
                              key=f"line {bad[0] + 2}")
        if rate is not None:
            raise ConfigError("the trace has arrival times; give --rate only for a trace without arrival_s",
                              file="--rate")
    elif rate is None:
        raise ConfigError("the trace has no arrival_s column and no --rate was given; allowed: a column "
                          "arrival_s, or --rate R (requests/s) with --arrival poisson|gamma", file=file,
                          key="arrival_s")
    else:
        t = arrivals(len(prompt), rate, process, cv, rng=rng)
    return Stream(t, prompt, output)


def synthetic(n: int, rate: float, source: str, max_position: int, process: str = "poisson", cv: float = 1.0,
              seed: int = 0) -> Stream:
    """`n` requests at `rate` with lengths from `source`, reproducible from `seed`."""
    if n < 1:
        raise ConfigError(f"requests must be >= 1, got {n}", file="--requests")
    rng = np.random.default_rng(seed)
    t = arrivals(n, rate, process, cv, rng=rng)
    prompt, output = lengths(source, n, max_position, rng=rng)
    return Stream(t, prompt, output)
