"""The record of a run: its inputs as files that load back as they are (every default written out, quantities in
base units, the user's own values kept as given), and its provenance (version, commit, command line, time)."""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path
from typing import Any

from simulator.config.loader import deep_merge


def hw_config(system, level: str | None = None) -> dict[str, Any]:
    """The system as one self-contained file: includes expanded, defaults filled in, `level` the one that ran."""
    full: dict[str, Any] = {
        "version": 1, "kind": "system", "name": system.name, "source": system.source, "devices": system.devices,
        "level": level or system.level,
        "device": {"memories": {n: m.model_dump(mode="json") for n, m in system.memories.items()},
                   "units": {n: u.model_dump(mode="json") for n, u in system.units.items()}},
        "interconnect": system.link.model_dump(mode="json") if system.link is not None else None,
        "mapping": {c: u for c, u in system.mapping.items() if c != "collective"},
    }
    out = deep_merge(full, system.resolved)
    out["level"] = full["level"]
    return out


def workload_config(workload, memoise: bool | None = None) -> dict[str, Any]:
    """The workload with every default written out, less the keys this step does not read (a trace's batch, a
    decode's prompt_len: the loader rejects them); `schedule.memoise` the one that ran."""
    out = deep_merge(workload.spec.model_dump(mode="json"), workload.resolved)
    for key, unused in workload.spec.unused_keys().items():
        if unused and (key != "context_len" or workload.spec.trace is not None):
            out.pop(key, None)
    if memoise is not None:
        out["schedule"] = {**out.get("schedule", {}), "memoise": memoise}
    return out


def version() -> str:
    """The package's version, from its installed metadata (`simulator.__version__`)."""
    import simulator

    return simulator.__version__


def commit() -> str | None:
    """The git commit of the source tree (suffixed `-dirty` when it has changes), or None outside a checkout."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("-dirty" if dirty else "")


def provenance(wall_s: float | None = None, argv: list[str] | None = None) -> dict[str, Any]:
    """Who made a record: version, commit, command line, UTC timestamp and the simulation's wall time."""
    return {
        "version": version(),
        "commit": commit(),
        "command": list(sys.argv if argv is None else argv),
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_s": wall_s,
    }
