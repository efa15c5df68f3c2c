"""Read YAML config files: syntax errors, `include:` of reusable parts, and `--set dotted.key=value` overrides.

A mapping that has an `include: PATH` key is replaced by the YAML at PATH (relative to the including file),
without that file's `version`/`kind`/`name`/`source` header keys, with the mapping's other keys deep-merged
over it. Overrides are applied after includes and before validation, so a `--set` is validated like a file
value; a `--set` on a key that exists nowhere (neither in the file nor as a schema field) is an error.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from simulator.errors import ConfigError

HEADER_KEYS = ("version", "kind", "name", "source")
KINDS = ("system", "memory", "unit", "link", "noc", "workload", "model")   # what a file may be
SCHEMA_VERSIONS = (1,)


@dataclass
class Document:
    """A resolved config file: its data after includes and overrides, and where each part came from."""

    path: Path
    data: dict[str, Any]
    includes: list[Path] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)
    created: dict[str, str] = field(default_factory=dict)   # section an override created -> that override


def read_yaml(path: Path) -> Any:
    """Parse one YAML file; a missing file or a syntax error is a ConfigError naming the file and line."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc.__class__.__name__}", file=str(path)) from None
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"YAML syntax error: {problem}", file=str(path), key=where) from None


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):   # libyaml's parser where built: ~10x faster
    """A safe loader that rejects a key given twice in one mapping (PyYAML would silently keep the last)."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first at line {seen[key].line + 1})",
                        key_node.start_mark)
                seen[key] = key_node.start_mark
            except TypeError:                   # an unhashable key: let PyYAML report it
                pass
        return super().construct_mapping(node, deep=deep)


def load(path: str | Path, overrides: dict[str, Any] | None = None, *, kinds: tuple[str, ...] = ()) -> Document:
    """Load `path`, resolve includes, check the header, apply overrides (dotted key -> value)."""
    path = Path(path)
    return load_data(read_yaml(path), path, overrides, kinds=kinds)


def load_data(raw: Any, path: str | Path, overrides: dict[str, Any] | None = None, *,
              kinds: tuple[str, ...] = ()) -> Document:
    """As `load`, for data already in memory; `path` names it in errors and anchors its relative includes."""
    path = Path(path)
    if not isinstance(raw, dict):
        raise ConfigError("expected a mapping of keys at the top level", file=str(path))
    includes: list[Path] = []
    data = _resolve(raw, path, "", includes, (path.resolve(),))
    version = data.get("version", 1)
    if version not in SCHEMA_VERSIONS:
        raise ConfigError(f"unsupported version {version!r}; allowed: {', '.join(map(str, SCHEMA_VERSIONS))}",
                          file=str(path), key="version")
    if kinds and data.get("kind") not in kinds:
        raise ConfigError(f"kind is {data.get('kind')!r}; allowed here: {', '.join(kinds)}",
                          file=str(path), key="kind")
    created: dict[str, str] = {}
    for key, value in (overrides or {}).items():
        created.update({section: key for section in set_path(data, key, value, file=str(path))})
    return Document(path=path, data=data, includes=includes, overrides=dict(overrides or {}), created=created)


def _resolve(node: Any, path: Path, key: str, includes: list[Path], stack: tuple[Path, ...]) -> Any:
    if isinstance(node, list):
        return [_resolve(v, path, f"{key}[{i}]", includes, stack) for i, v in enumerate(node)]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    base: dict[str, Any] = {}
    if "include" in node:
        target = node.pop("include")
        where = f"{key}.include" if key else "include"
        if not isinstance(target, str):
            raise ConfigError("include must be a file path", file=str(path), key=where)
        inc = (path.parent / target)
        if not inc.is_file():
            raise ConfigError(f"included file '{target}' not found (looked in {path.parent})",
                              file=str(path), key=where)
        if inc.resolve() in stack:
            raise ConfigError(f"include cycle through '{target}'", file=str(path), key=where)
        includes.append(inc)
        loaded = read_yaml(inc)
        if not isinstance(loaded, dict):
            raise ConfigError("expected a mapping of keys at the top level", file=str(inc))
        if "kind" in loaded and loaded["kind"] not in KINDS:
            raise ConfigError(f"kind is {loaded['kind']!r}; allowed: {', '.join(KINDS)}", file=str(inc), key="kind")
        base = _resolve({k: v for k, v in loaded.items() if k not in HEADER_KEYS}, inc, "", includes,
                        stack + (inc.resolve(),))
    own = {k: _resolve(v, path, f"{key}.{k}" if key else str(k), includes, stack) for k, v in node.items()}
    return deep_merge(base, own)


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` merged onto `base`; nested mappings merge, everything else replaces."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def parse_set(items: list[str]) -> dict[str, dict[str, Any]]:
    """Split `--set` items ('hw.a.b=1 GHz', 'workload.batch=8') by target; values are parsed as YAML scalars."""
    out: dict[str, dict[str, Any]] = {"hw": {}, "workload": {}}
    for item in items:
        key, sep, value = item.partition("=")
        target, _, rest = key.strip().partition(".")
        if not sep or not rest or target not in out:
            raise ConfigError(f"'{item}' must look like hw.<key.path>=VALUE or workload.<key.path>=VALUE",
                              file="--set")
        try:
            parsed = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            parsed = value
        out[target][rest] = parsed
    return out


def set_path(data: dict[str, Any], dotted: str, value: Any, *, file: str) -> list[str]:
    """Set `a.b.c` in nested mappings, creating missing sections (returned, so that an error inside a section
    the override created is blamed on the override); the leaf is checked by validation."""
    parts = dotted.split(".")
    node: Any = data
    created: list[str] = []
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node, dict) or part not in node or not isinstance(node[part], dict):
            if isinstance(node, dict) and part not in node:
                node[part] = {}
                node = node[part]
                created.append(".".join(parts[:i + 1]))
                continue
            raise ConfigError(f"--set {dotted}: '{'.'.join(parts[:i + 1])}' is not a section",
                              file=file, key=dotted)
        node = node[part]
    node[parts[-1]] = value
    return created
