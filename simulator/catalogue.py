"""Names of configs: `simulate list`, `simulate show`, and the resolution of a name to a file.

A name is a path, or the stem of a YAML file searched in user folders first (`--path DIR`, then XPUSIM_PATH), then
in the shipped hwconfigs/ and workloads/. Within the first folder that has the stem, systems come before parts
(`h200` is hwconfigs/h200.yaml, not the GPU part gpu/h200.yaml); two files of the same rank are an error that
lists them.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from simulator.config.loader import load, parse_set, read_yaml
from simulator.errors import ConfigError, did_you_mean
from simulator.resources import data_root, user_dirs

SECTIONS = {"system": "systems", "workload": "workloads", "model": "models"}
# Rank of a file's `kind` when a name matches several files: systems, then workloads, parts, models.
RANK = {"system": 0, "workload": 1, "model": 3}
PART_RANK = 2


def roots(paths: list[str] | tuple[str, ...] = ()) -> list[Path]:
    """Folders searched for names, in order: --path folders, XPUSIM_PATH, the shipped hwconfigs/ and workloads/."""
    shipped = data_root()
    return [*user_dirs(paths), shipped / "hwconfigs", shipped / "workloads"]


def find(name: str | Path, kinds: tuple[str, ...] = (), paths: list[str] | tuple[str, ...] = ()) -> Path:
    """The file a name stands for: an existing file as given, else the best-ranked stem match (see module doc).

    `kinds` keeps only files of those kinds (`("system",)` for `simulate run`'s first argument)."""
    path = Path(name)
    if path.is_file() or path.suffix in (".yaml", ".yml", ".json", ".csv") or len(path.parts) > 1:
        return path                                   # a folder of the same name (./h100/) is not a config
    for root in roots(paths):
        found = [p for p in sorted(root.rglob(f"{name}.yaml")) if not kinds or _kind(p) in kinds]
        if not found:
            continue
        best = min(_rank(p) for p in found)
        top = [p for p in found if _rank(p) == best]
        if len(top) > 1:
            raise ConfigError(f"the name '{name}' is ambiguous: {', '.join(map(str, top))}; give a path",
                              file=str(name))
        return top[0]
    stems = sorted({p.stem for root in roots(paths) for p in root.rglob("*.yaml")
                    if not kinds or _kind(p) in kinds})
    what = " or ".join(kinds) if kinds else "config"
    raise ConfigError(f"no {what} named '{name}'{did_you_mean(str(name), stems)}; see `simulate list`",
                      file=str(name))


def _kind(path: Path) -> str:
    data = read_yaml(path)
    return str(data.get("kind", "?")) if isinstance(data, dict) else "?"


def _rank(path: Path) -> int:
    return RANK.get(_kind(path), PART_RANK)


def catalogue(paths: list[str] | tuple[str, ...] = ()) -> dict[str, list[tuple[str, str]]]:
    """Files by section (user folders first), each with its name as `simulate` takes it and a one-line description."""
    sections: dict[str, list[tuple[str, str]]] = {"systems": [], "parts": [], "workloads": [], "models": []}
    shipped = data_root()
    for root in roots(paths):
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*.yaml")):
            data = read_yaml(path)
            if not isinstance(data, dict):
                continue
            kind = str(data.get("kind", "?"))
            section = SECTIONS.get(kind, "parts")
            shown = path.relative_to(shipped) if path.is_relative_to(shipped) else path
            label = f"[{kind}] " if section == "parts" else ""
            sections[section].append((str(shown), label + describe(path, data)))
    return sections


def describe(path: Path, data: dict) -> str:
    """One line for a human: the file's leading comment, or for a model its size and shape."""
    if data.get("kind") == "model":
        from simulator.workload.model import load_model

        try:
            m = load_model(str(path), file=str(path))
        except ConfigError:
            return str(data.get("source", ""))[:90]
        moe = f", MoE {m.moe.experts}x top-{m.moe.top_k}" if m.moe else ""
        return (f"{m.params / 1e9:.3g} B params: {m.layers} layers, hidden {m.hidden}, {m.heads} heads "
                f"({m.kv_heads or m.heads} KV){moe}")
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            text = line.lstrip("# ").strip()
            return text if len(text) <= 90 else text[:87].rsplit(" ", 1)[0] + " ..."
        if line.strip():
            break
    return str(data.get("source", ""))[:90]


def show(name: str, sets: list[str], paths: list[str] | tuple[str, ...] = ()) -> str:
    """A config (by path or name) with includes and --set overrides applied, as YAML."""
    path = find(name, paths=paths)
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
