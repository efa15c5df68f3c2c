"""Loading one `kind: memory` YAML file into a validated MemorySpec (errors are exit-2 ConfigErrors)."""

from __future__ import annotations

from pathlib import Path

from simulator.config.loader import load
from simulator.config.spec import validate
from simulator.errors import ConfigError
from simulator.memory.spec import MemorySpec


def load_memory_spec(path: str | Path, overrides: dict | None = None) -> MemorySpec:
    """Read and validate a memory preset such as hwconfigs/memory/dramsim3-hbm2.yaml (with dotted overrides)."""
    path = Path(path)
    doc = load(path, overrides, kinds=("memory",))
    spec = validate(MemorySpec, doc.data, file=str(path))
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
