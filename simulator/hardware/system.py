"""A hardware system: identical devices, each with memories and compute units, joined by an interconnect.

File layout (kind: system), read top-down like the chip:

    devices: 4                      # identical devices (tensor/pipeline parallel ranks)
    device:
      memories: {hbm: {include: memory/hbm2.yaml}}
      units:    {npu: {type: npu, memory: hbm, ...}, pim: {type: pim, memory: hbm, ...}}
    interconnect: {include: links/nvlink4.yaml}
    mapping: {attention: pim}        # op class -> unit; unset classes go to the first unit that serves them
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from simulator.config.loader import Document, load
from simulator.config.spec import PositiveInt, Spec, validate
from simulator.errors import ConfigError, allowed
from simulator.hardware.registry import lookup
from simulator.hardware.unit import UnitSpec
from simulator.link.spec import LinkSpec
from simulator.lowering.ops import OpClass
from simulator.memory.spec import MemorySpec

OP_CLASSES: tuple[OpClass, ...] = ("gemm", "attention", "vector", "memory", "collective")


class DeviceLayout(Spec):
    memories: dict[str, dict[str, Any]] = Field(min_length=1)
    units: dict[str, dict[str, Any]] = Field(min_length=1)


class SystemLayout(Spec):
    """Top-level keys of a system file; the parts are validated by their own classes."""

    version: int = 1
    kind: Literal["system"] = "system"
    name: str
    source: str = ""
    devices: PositiveInt = 1
    level: Literal["analytical", "transaction", "command"] = "analytical"
    device: DeviceLayout
    interconnect: dict[str, Any] | None = None
    mapping: dict[Literal["gemm", "attention", "vector", "memory"], str] = {}


@dataclass(frozen=True)
class System:
    """A validated system: parts by name, the op-class mapping, and the resolved config for the record."""

    name: str
    source: str
    devices: int
    level: str
    memories: dict[str, MemorySpec]
    units: dict[str, UnitSpec]
    link: LinkSpec | None
    mapping: dict[str, str]
    path: Path
    resolved: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def memory_capacity(self) -> float:
        """Bytes of memory per device."""
        return sum(m.capacity_bytes for m in self.memories.values())

    def model(self, name: str, level: str | None = None) -> Any:
        """The model of unit `name` (or 'link') at `level` (default: the system's level)."""
        if name == "link" and self.link is not None:
            from simulator.link.collective import LinkModel

            return LinkModel("link", self.link)
        spec = self.units[name]
        memory = self.memories.get(spec.memory) if spec.memory else None
        return lookup(spec.type, file=str(self.path), key=name).model(level or self.level, name, spec, memory)

    def models(self, level: str | None = None) -> dict[str, Any]:
        """One model per unit (and 'link') at `level`."""
        names = list(self.units) + (["link"] if self.link is not None else [])
        return {name: self.model(name, level) for name in names}


def unit_level(system: System, name: str, level: str) -> str:
    """The level unit `name` actually runs at when `level` is asked for (a level a unit lacks falls back)."""
    if name == "link":
        return "analytical"
    return lookup(system.units[name].type, file=str(system.path), key=name).level_at(level)


def load_system(path: str | Path, overrides: dict[str, Any] | None = None) -> System:
    doc = load(path, overrides, kinds=("system",))
    return build_system(doc)


def build_system(doc: Document) -> System:
    file = str(doc.path)
    with doc_errors(doc):
        layout = validate(SystemLayout, doc.data, file=file)
        memories = {n: validate(MemorySpec, {"name": n, **_strip(m, "memory", file, f"device.memories.{n}")},
                             file=file, prefix=f"device.memories.{n}")
                    for n, m in layout.device.memories.items()}
        units: dict[str, UnitSpec] = {}
        for n, raw in layout.device.units.items():
            key = f"device.units.{n}"
            unit_type = lookup(raw.get("type"), file=file, key=f"{key}.type")
            spec = validate(unit_type.spec, _strip(raw, "unit", file, key), file=file, prefix=key)
            if spec.memory is not None and spec.memory not in memories:
                raise ConfigError(f"unknown memory '{spec.memory}'; {allowed(memories)}", file=file,
                                  key=f"{key}.memory")
            units[n] = spec
        link = (validate(LinkSpec, _strip(layout.interconnect, "link", file, "interconnect"), file=file,
                         prefix="interconnect")
                if layout.interconnect is not None else None)
        if layout.devices > 1 and link is None:
            raise ConfigError("a system of several devices needs an interconnect", file=file, key="interconnect")
        mapping = _mapping(layout, units, file)
    return System(layout.name, layout.source, layout.devices, layout.level, memories, units, link, mapping,
                  doc.path, doc.data)


def _strip(part: dict[str, Any], kind: str, file: str, key: str) -> dict[str, Any]:
    """A part as its spec sees it: header keys of included files are already gone; an inline part's `kind`, if
    given, must be the part's kind, and is dropped."""
    if "kind" in part and part["kind"] != kind:
        raise ConfigError(f"kind is {part['kind']!r}; allowed here: {kind}", file=file, key=f"{key}.kind")
    return {k: v for k, v in part.items() if k != "kind"}


def _mapping(layout: SystemLayout, units: dict[str, UnitSpec], file: str) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for op_class, unit in layout.mapping.items():
        if unit not in units:
            raise ConfigError(f"unknown unit '{unit}'; {allowed(units)}", file=file, key=f"mapping.{op_class}")
        served = lookup(units[unit].type, file=file, key=unit).serves
        if op_class not in served:
            raise ConfigError(f"unit '{unit}' ({units[unit].type}) cannot run {op_class} ops; it runs "
                              f"{', '.join(served)}", file=file, key=f"mapping.{op_class}")
        mapping[op_class] = unit
    for op_class in OP_CLASSES:
        if op_class in mapping:
            continue
        if op_class == "collective":
            mapping[op_class] = "link"
            continue
        ranked = sorted(((lookup(s.type, file=file, key=n).serves.index(op_class), i, n)
                         for i, (n, s) in enumerate(units.items())
                         if op_class in lookup(s.type, file=file, key=n).serves))
        if ranked:
            mapping[op_class] = ranked[0][2]
    return mapping


@contextmanager
def doc_errors(doc: Document, prefix: str = "hw") -> Iterator[None]:
    """Re-attribute a ConfigError caused by a `--set` override to that override."""
    try:
        yield
    except ConfigError as exc:
        blamed = [key for section, key in doc.created.items() if exc.key and exc.key.startswith(section + ".")]
        for key in blamed + list(doc.overrides):
            if exc.key and (key in blamed or exc.key == key or exc.key.startswith(key + ".")
                            or key.startswith(exc.key + ".")):
                exc.file = f"--set {prefix}.{key}"
                exc.args = (exc.format(),)
                break
        raise
