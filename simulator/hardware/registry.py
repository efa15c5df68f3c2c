"""One registry of unit types: each maps its YAML `type:` to a spec class, the op classes it can run, and a
model factory per fidelity level. A new unit is one module plus one `register(...)` line in `units.py`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulator.errors import ConfigError, allowed, did_you_mean
from simulator.hardware.unit import UnitSpec
from simulator.lowering.ops import OpClass
from simulator.memory.spec import MemorySpec

LEVELS = ("analytical", "transaction", "command")
ModelFactory = Callable[[str, Any, MemorySpec | None], Any]


@dataclass(frozen=True)
class UnitType:
    """A kind of compute unit: its config class, what it runs (in order of preference) and its models."""

    name: str
    spec: type[UnitSpec]
    serves: tuple[OpClass, ...]
    models: dict[str, ModelFactory] = field(default_factory=dict)

    def model(self, level: str, name: str, spec: UnitSpec, memory: MemorySpec | None) -> Any:
        """The model at `level`, or the most detailed one below it (a level a unit lacks falls back)."""
        return self.models[self.level_at(level)](name, spec, memory)

    def level_at(self, level: str) -> str:
        """`level` if this unit type has a model there, else the most detailed level below it."""
        if level not in LEVELS:
            raise ConfigError(f"level {level!r} is not allowed; {allowed(LEVELS)}", key="level")
        for lvl in reversed(LEVELS[: LEVELS.index(level) + 1]):
            if lvl in self.models:
                return lvl
        raise ConfigError(f"unit type '{self.name}' has no model at or below level {level!r}", key="level")


UNIT_TYPES: dict[str, UnitType] = {}


def register(unit_type: UnitType) -> UnitType:
    if unit_type.name in UNIT_TYPES:
        raise ValueError(f"unit type {unit_type.name!r} registered twice")
    UNIT_TYPES[unit_type.name] = unit_type
    return unit_type


def lookup(type_name: object, *, file: str, key: str) -> UnitType:
    from simulator.hardware import units  # noqa: F401  (registers the built-in unit types)

    if not isinstance(type_name, str) or type_name not in UNIT_TYPES:
        raise ConfigError(f"unknown unit type {type_name!r}{did_you_mean(str(type_name), UNIT_TYPES)}; "
                          f"{allowed(UNIT_TYPES)}", file=file, key=key)
    return UNIT_TYPES[type_name]
