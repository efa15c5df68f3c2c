"""Write a run's output directory atomically: everything goes to a temporary sibling, renamed at the end,
so a failed run never leaves a partial directory."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml

from simulator.errors import UserError
from simulator.hardware.roofline import unit_peaks
from simulator.report import plots
from simulator.report.chrome import chrome_trace


def write_atomically(out: Path, fill: Callable[[Path], None]) -> None:
    """Call `fill(tmpdir)`, then move tmpdir to `out` (replacing an existing run directory)."""
    out = out.resolve()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the output's parent directory: {exc.strerror}", file=str(out)) from None
    if out.exists() and not out.is_dir():
        raise UserError("exists and is not a directory", file=str(out))
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        fill(tmp)
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_run(run, out: Path) -> None:
    """summary.json, ops.csv, trace.json (Perfetto), config.yaml (resolved inputs), and two plots."""

    def fill(tmp: Path) -> None:
        (tmp / "summary.json").write_text(json.dumps(run.summary, indent=2, default=float) + "\n")
        run.ops.to_csv(tmp / "ops.csv", index=False)
        (tmp / "trace.json").write_text(json.dumps(chrome_trace(run.result)))
        (tmp / "config.yaml").write_text(yaml.safe_dump(run.summary["config"], sort_keys=False))
        title = f"{run.workload.spec.name} on {run.system.name}"
        plots.time_by_op(run.ops, tmp / "time_by_op.png", title)
        plots.roofline(run.ops, unit_peaks(run.system), tmp / "roofline.png", title)

    write_atomically(out, fill)


