"""What `simulate sweep SWEEP.yaml [--out DIR] [--scheduler tcp://host:8786] [--workers N] [--no-cache]` does: run
the sweep file's space, print the Pareto front, write sweep.parquet and sweep.yaml atomically."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


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
        from simulator.report.atomic import write_atomically

        out = Path(args.out)

        def fill(tmp: Path) -> None:
            write(frame, tmp / "sweep.parquet")
            (tmp / "sweep.yaml").write_text(yaml.safe_dump(spec.resolved, sort_keys=False))

        write_atomically(out, fill, force=args.force)
        print(f"  outputs        {out}/ (sweep.parquet, sweep.yaml)")
    return 0
