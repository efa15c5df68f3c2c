"""`simulate sweep SWEEP.yaml [--out DIR] [--scheduler tcp://host:8786] [--workers N] [--no-cache]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub) -> None:
    sw = sub.add_parser("sweep", help="simulate every point of a design space (cached; local processes or Dask)")
    sw.add_argument("file", help="sweep YAML (kind: sweep): hw, workload, sets, space, objectives")
    sw.add_argument("--out", help="directory for sweep.parquet (one row per point) and sweep.yaml")
    sw.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786); default: local processes")
    sw.add_argument("--workers", type=int, help="local worker processes (default: all cores)")
    sw.add_argument("--no-cache", action="store_true", help="recompute every point (ignore the result cache)")
    sw.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    import yaml

    from simulator.sweep.api import sweep, write
    from simulator.sweep.spec import load_sweep

    spec = load_sweep(Path(args.file))
    frame = sweep(spec.space, spec.hw, spec.workload, sets=spec.sets, objectives=spec.objectives or None,
                  level=spec.level, executor=args.scheduler or "local", workers=args.workers,
                  cache=not args.no_cache, progress=sys.stderr.isatty())
    feasible = int(frame["feasible"].sum())
    print(f"{spec.name}: {len(frame)} points, {feasible} feasible")
    show = [c for c in frame.columns if c in spec.space.domains] + list(spec.objectives)
    if "pareto" in frame:
        print(f"Pareto front ({int(frame['pareto'].sum())} points):")
        print(frame.loc[frame["pareto"], show].to_string(index=False))
    if args.out:
        out = Path(args.out)
        write(frame, out / "sweep.parquet")
        (out / "sweep.yaml").write_text(yaml.safe_dump(spec.resolved, sort_keys=False))
        print(f"  outputs        {out}/ (sweep.parquet, sweep.yaml)")
    return 0
