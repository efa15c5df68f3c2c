"""`simulate list` and `simulate show`: what ships in hwconfigs/ and workloads/, and one config resolved."""

from __future__ import annotations

from pathlib import Path

import yaml

from simulator.config.loader import load, parse_set, read_yaml
from simulator.errors import ConfigError, did_you_mean


def catalogue(root: Path) -> dict[str, list[tuple[str, str]]]:
    """Shipped files by section, each with its `kind`/`name` and the first words of its source."""
    sections: dict[str, list[tuple[str, str]]] = {"systems": [], "parts": [], "workloads": [], "models": []}
    for folder in (root / "hwconfigs", root / "workloads"):
        for path in sorted(folder.rglob("*.yaml")):
            data = read_yaml(path) or {}
            kind = data.get("kind", "?")
            section = {"system": "systems", "workload": "workloads", "model": "models"}.get(kind, "parts")
            rel = path.relative_to(root)
            desc = f"[{kind}] " + str(data.get("source", ""))[:70]
            sections[section].append((str(rel), desc))
    return sections


def show(name: str, root: Path, sets: list[str]) -> str:
    """A shipped config (by path or stem) with includes and --set overrides applied, as YAML."""
    path = Path(name)
    if not path.exists():
        found = sorted(root.glob(f"hwconfigs/**/{name}.yaml")) + sorted(root.glob(f"workloads/**/{name}.yaml"))
        if not found:
            stems = [p.stem for p in root.glob("hwconfigs/**/*.yaml")] + [p.stem for p in root.glob("workloads/**/*.yaml")]
            raise ConfigError(f"no config named '{name}'{did_you_mean(name, stems)}; see `simulate list`", file=name)
        path = found[0]
    kind = (read_yaml(path) or {}).get("kind")
    overrides = parse_set(sets)["hw" if kind != "workload" else "workload"]
    doc = load(path, overrides)
    if kind == "system":
        from simulator.hardware.system import build_system

        build_system(doc)
    elif kind == "workload":
        from simulator.workload.spec import build_workload

        build_workload(doc)
    header = f"# {path} (includes resolved" + (f", overrides {sets}" if sets else "") + ")\n"
    return header + yaml.safe_dump(doc.data, sort_keys=False)
