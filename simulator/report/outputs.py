"""A run's record folder: summary.json, ops.csv, trace.json, hw.yaml + workload.yaml and plots, written through
report/atomic.py (never over files the simulator did not write)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from simulator.memory.analytical import sustained_bandwidth
from simulator.report import plots
from simulator.report.atomic import MARKER, Interrupted, check_output, interruptible, write_atomically
from simulator.report.chrome import chrome_trace

__all__ = ["MARKER", "Interrupted", "check_output", "interruptible", "write_atomically", "write_run", "unit_roofs"]


def write_run(run, out: Path, argv: list[str] | None = None, plot_format: str = "png", *,
              force: bool = False) -> None:
    """summary.json (with `provenance`), ops.csv, trace.json (Perfetto), hw.yaml and workload.yaml (the inputs as
    `simulate run` takes them back, with the trace and model files they name copied alongside), and two plots."""
    from simulator.record import provenance

    def fill(tmp: Path) -> None:
        config = {"hw": run.summary["config"]["hw"], "workload": _carry_files(run, tmp)}
        summary = {**run.summary, "config": config, "provenance": provenance(run.wall_s, argv)}
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
        run.ops.to_csv(tmp / "ops.csv", index=False)
        (tmp / "trace.json").write_text(json.dumps(chrome_trace(run.result)))
        (tmp / "hw.yaml").write_text(yaml.safe_dump(config["hw"], sort_keys=False))
        (tmp / "workload.yaml").write_text(yaml.safe_dump(config["workload"], sort_keys=False))
        title = plots.title(run)
        plots.time_by_op(run.ops, tmp / f"time_by_op.{plot_format}", title, latency_s=run.summary["latency_s"])
        plots.roofline(run.ops, unit_roofs(run.system), tmp / f"roofline.{plot_format}", title)

    write_atomically(out, fill, force=force)


def _carry_files(run, tmp: Path) -> dict:
    """The workload config with its trace (and a model given as a file) copied into the record: to the same
    relative path when it lies below the workload's folder, else to traces/ or models/ under its own name."""
    config = dict(run.summary["config"]["workload"])
    base = run.workload.path.parent
    for key, folder in (("trace", "traces"), ("model", "models")):
        ref = config.get(key)
        if not ref or not str(ref).endswith((".csv", ".yaml", ".yml", ".json")):
            continue
        given = Path(ref)
        source = given if given.is_absolute() else base / given
        inside = not given.is_absolute() and ".." not in given.parts
        target = given if inside else Path(folder) / given.name
        (tmp / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, tmp / target)
        config[key] = target.as_posix()
    return config


def unit_roofs(system) -> list[plots.Roof]:
    """One roof per unit and engine of the analytical models: the matrix engine at its fastest dtype and the vector
    engine, fed by the unit's memory at its sustained rate, or a PIM unit's banks at their in-bank bandwidth."""
    roofs = []
    for name, model in system.models("analytical").items():
        if not hasattr(model, "matrix_flops"):
            continue
        if model.internal_bandwidth:
            bw, feed = model.internal_bandwidth, "in-bank"
        elif model.memory:
            bw, feed = sustained_bandwidth(model.memory), model.memory.name
        else:
            continue
        if model.matrix_flops:
            dtype, flops = max(model.matrix_flops.items(), key=lambda kv: kv[1])
            engine = "PIM" if model.internal_bandwidth else f"matrix {dtype}"
            roofs.append(plots.Roof(name, engine, flops, bw, feed))
        if model.vector_flops:
            roofs.append(plots.Roof(name, "vector", model.vector_flops, bw, feed))
    return roofs
