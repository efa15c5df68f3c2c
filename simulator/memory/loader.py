"""Loading one `kind: memory` YAML file into a validated MemorySpec (errors are exit-2 ConfigErrors)."""

from __future__ import annotations

from pathlib import Path

import yaml

from simulator.config.spec import validate
from simulator.errors import ConfigError
from simulator.memory.spec import MemorySpec


def load_memory_spec(path: str | Path) -> MemorySpec:
    """Read and validate a memory preset such as hwconfigs/memory/dramsim3-hbm2.yaml."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        raise ConfigError(f"YAML syntax error: {getattr(exc, 'problem', None) or exc}", file=str(path),
                          key=where) from None
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping of keys at the top level", file=str(path))
    if data.get("kind", "memory") != "memory":
        raise ConfigError(f"kind is {data.get('kind')!r}; expected 'memory'", file=str(path), key="kind")
    spec = validate(MemorySpec, data, file=str(path))
    check_model(spec, file=str(path))
    return spec


def check_model(spec: MemorySpec, *, file: str | None = None) -> None:
    """Checks the DRAM model needs beyond the schema: a timing section and a valid address mapping."""
    from simulator.memory.dram import mapping

    if spec.timing is None:
        raise ConfigError("the DRAM model needs a timing section", file=file, key="timing")
    try:
        mapping.check(spec)
    except ValueError as exc:
        raise ConfigError(str(exc), file=file, key="controller.address_mapping") from None
