"""Regression of estimates: `reports/baseline.csv` pins metrics of hardware x workload pairs with tolerances.

`simulate regress` re-runs every pair and prints a diff table; it exits 1 when any metric moved beyond its
relative tolerance. `simulate regress --update` rewrites the values (keeping the cases and tolerances).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from simulator.errors import ConfigError

COLUMNS = ["case", "hw", "workload", "set", "metric", "value", "rel_tol"]


def metric(summary: dict, path: str) -> float:
    """A number in the summary addressed by a dotted path (`energy_j.total`, `bandwidth.hbm.gbps`)."""
    node = summary
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(f"the summary has no '{path}'", key=path)
        node = node[part]
    return float(node)


def read_baseline(path: Path) -> list[dict]:
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise ConfigError("baseline not found", file=str(path)) from None
    for i, row in enumerate(rows, start=2):
        if set(row) != set(COLUMNS):
            raise ConfigError(f"columns must be {','.join(COLUMNS)}", file=str(path), key=f"line {i}")
    return rows


def evaluate(rows: list[dict], root: Path) -> list[dict]:
    """Run each distinct (hw, workload, set) once and read its metrics; returns rows with `now` and `change`."""
    from simulator.run import simulate

    cache: dict[tuple, dict] = {}
    out = []
    for row in rows:
        key = (row["hw"], row["workload"], row["set"])
        if key not in cache:
            sets = [s for s in row["set"].split(";") if s]
            cache[key] = simulate(root / row["hw"], root / row["workload"], sets).summary
        now = metric(cache[key], row["metric"])
        base = float(row["value"])
        change = (now - base) / base if base else (0.0 if now == 0 else float("inf"))
        out.append({**row, "now": now, "change": change, "ok": abs(change) <= float(row["rel_tol"])})
    return out


def regress(path: Path, *, update: bool = False) -> int:
    root = path.resolve().parents[1]
    rows = read_baseline(path)
    results = evaluate(rows, root)
    if update:
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, COLUMNS, lineterminator="\n")
            writer.writeheader()
            for r in results:
                writer.writerow({**{c: r[c] for c in COLUMNS}, "value": f"{r['now']:.10g}"})
        print(f"updated {len(results)} estimates in {path}")
        return 0
    print(table(results))
    failed = [r for r in results if not r["ok"]]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed", file=sys.stderr if failed else sys.stdout)
    return 1 if failed else 0


def table(results: list[dict]) -> str:
    head = f"{'case':28s} {'metric':34s} {'baseline':>12s} {'now':>12s} {'change':>9s} {'tol':>6s}  status"
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(f"{r['case']:28s} {r['metric']:34s} {float(r['value']):12.5g} {r['now']:12.5g} "
                     f"{r['change']:+9.2%} {float(r['rel_tol']):6.1%}  {'ok' if r['ok'] else 'MOVED'}")
    return "\n".join(lines)
