"""The sweep file (kind: sweep): which hardware and workload, fixed overrides, the space and the objectives.

    version: 1
    kind: sweep
    name: neupims-dse
    hw: neupims                    # a path (relative to this file) or a shipped name
    workload: gpt3-7b-decode
    level: transaction             # optional; default the system's level
    sets: {workload.layers: 1}     # fixed overrides of every point
    space: {grid: {hw.device.units.pim.macs_per_bank: [8, 16], workload.requests: [64, 256]}}
    objectives: {throughput_tokens_per_s: max, energy_per_token_j: min, area_mm2.total: min}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from simulator.config.loader import read_yaml
from simulator.config.spec import Spec, validate
from simulator.errors import ConfigError, UserError
from simulator.sweep.front import normalise
from simulator.sweep.space import Space, as_sets, from_spec


class SweepFile(Spec):
    version: int = 1
    kind: Literal["sweep"] = "sweep"
    name: str = "sweep"
    source: str = ""
    hw: str
    workload: str
    level: Literal["analytical", "transaction", "command"] | None = None
    sets: dict[str, Any] = {}
    space: dict[str, Any]
    objectives: dict[str, str] | list[str] = {}


@dataclass
class Sweep:
    name: str
    hw: Path
    workload: Path
    level: str | None
    sets: list[str]
    space: Space
    objectives: dict[str, str]
    resolved: dict[str, Any]


def load_sweep(path: str | Path) -> Sweep:
    """Validate a sweep file; shipped names resolve as on the command line, paths relative to the file."""
    from simulator.cli import HW_DIR, WL_DIR, resolve

    path = Path(path)
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError("expected a mapping of keys at the top level", file=str(path))
    doc = validate(SweepFile, raw, file=str(path))
    try:
        space = from_spec(doc.space)
        sets = as_sets(doc.sets)
        objectives = normalise(doc.objectives) if doc.objectives else {}
    except UserError as exc:
        raise ConfigError(exc.detail, file=str(path), key=".".join(p for p in ("space", exc.key) if p)
                          if exc.file == "space" else exc.key) from None
    for k in doc.sets:
        if not str(k).startswith(("hw.", "workload.")):
            raise ConfigError("a set key must look like hw.<key.path> or workload.<key.path>", file=str(path),
                              key=f"sets.{k}")

    def locate(ref: str, folder: Path) -> Path:
        local = path.parent / ref
        return local if local.exists() else resolve(ref, folder)

    return Sweep(doc.name, locate(doc.hw, HW_DIR), locate(doc.workload, WL_DIR), doc.level, sets, space,
                 objectives, raw)
