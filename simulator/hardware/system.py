"""A hardware system: groups of devices (each group identical devices with memories and units) on a network.

File layout (kind: system), read top-down like the machine room:

    groups:                          # file order is the global device order
      gpu:
        count: 8
        memories: {hbm: {include: gpu/h100-hbm3.yaml}}
        units:    {gpu: {include: gpu/h100-sxm.yaml, memory: hbm}}
        mapping:  {attention: gpu}   # op class -> unit; unset classes go to the first unit that serves them
        static_power: 0 W            # device power not counted by its units (board, fans), optional
      pim: {count: 8, ...}
    topology: {pattern: switch, link: {include: links/nvlink4.yaml}}   # simulator/network/patterns.py

The single-description form of earlier files still loads, as one group named `device`:

    devices: 4
    device: {memories: ..., units: ...}
    interconnect: {include: links/nvlink4.yaml}   # its `topology` (switch, ring, fully-connected) is the pattern
    mapping: {attention: pim}

Interface: `System.groups` (name -> DeviceGroup, file order), `System.topology` (simulator.network.topology),
`System.devices` (total count), `System.device_ids` ((group, index) in global order), `System.memory_nodes`
(memories on the network, e.g. a CXL expander). `units`, `memories`,
`mapping`, `link`, `model()` and `models()` describe the first group, as they did the one device before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from simulator.config.loader import Document, load
from simulator.config.spec import PositiveInt, Power, Spec, validate
from simulator.errors import ConfigError, allowed
from simulator.hardware.registry import lookup
from simulator.hardware.unit import UnitSpec
from simulator.link.spec import LinkSpec
from simulator.lowering.ops import OpClass
from simulator.memory.spec import MemorySpec
from simulator.network.patterns import build_topology
from simulator.network.topology import Topology

OP_CLASSES: tuple[OpClass, ...] = ("gemm", "attention", "vector", "memory", "collective")


class DeviceLayout(Spec):
    memories: dict[str, dict[str, Any]] = Field(min_length=1)
    units: dict[str, dict[str, Any]] = Field(min_length=1)


MappingKeys = Literal["gemm", "attention", "vector", "memory"]


class GroupLayout(Spec):
    count: PositiveInt = 1
    source: str = ""
    memories: dict[str, dict[str, Any]] = Field(min_length=1)
    units: dict[str, dict[str, Any]] = Field(min_length=1)
    mapping: dict[MappingKeys, str] = {}
    static_power: Power = 0.0


class SystemLayout(Spec):
    """Top-level keys of a system file; the parts are validated by their own classes."""

    version: int = 1
    kind: Literal["system"] = "system"
    name: str
    source: str = ""
    level: Literal["analytical", "transaction", "command"] = "analytical"
    groups: dict[str, GroupLayout] | None = None
    topology: dict[str, Any] | None = None
    devices: PositiveInt | None = None
    device: DeviceLayout | None = None
    interconnect: dict[str, Any] | None = None
    mapping: dict[MappingKeys, str] = {}


@dataclass(frozen=True)
class DeviceGroup:
    """`count` identical devices: their memories and units by name, and the op-class mapping."""

    name: str
    count: int
    memories: dict[str, MemorySpec]
    units: dict[str, UnitSpec]
    mapping: dict[str, str]
    static_power: float = 0.0
    source: str = ""

    @property
    def memory_capacity(self) -> float:
        """Bytes of memory per device."""
        return sum(m.capacity_bytes for m in self.memories.values())


@dataclass(frozen=True)
class System:
    """A validated system: device groups, the network, and the resolved config for the record."""

    name: str
    source: str
    level: str
    groups: dict[str, DeviceGroup]
    topology: Topology
    path: Path
    resolved: dict[str, Any] = field(repr=False, default_factory=dict)
    interconnect: LinkSpec | None = None       # the legacy `interconnect:` part, when the file has one

    @property
    def devices(self) -> int:
        """Devices of every group."""
        return sum(g.count for g in self.groups.values())

    @property
    def device_ids(self) -> list[tuple[str, int]]:
        """(group, index) of every device in global order (the topology's device order)."""
        return [(g.name, i) for g in self.groups.values() for i in range(g.count)]

    @property
    def first(self) -> DeviceGroup:
        return next(iter(self.groups.values()))

    @property
    def memories(self) -> dict[str, MemorySpec]:
        return self.first.memories

    @property
    def units(self) -> dict[str, UnitSpec]:
        return self.first.units

    @property
    def mapping(self) -> dict[str, str]:
        return self.first.mapping

    @property
    def link(self) -> LinkSpec | None:
        """The link a device of the first group sends on (the legacy interconnect), or None without one."""
        if self.interconnect is not None:
            return self.interconnect
        g = self.topology.graph
        first = f"{self.first.name}.0"
        for _, _, data in g.edges(first, data=True):
            return data["spec"]
        return None

    @property
    def memory_nodes(self) -> dict[str, MemorySpec]:
        """Memories on the network outside the devices (a CXL expander, host DRAM), by topology node name."""
        return {n: d["spec"] for n, d in self.topology.graph.nodes(data=True)
                if d.get("kind") == "memory" and "spec" in d}

    @property
    def memory_capacity(self) -> float:
        """Bytes of memory per device of the first group."""
        return self.first.memory_capacity

    def model(self, name: str, level: str | None = None, group: str | None = None) -> Any:
        """The model of unit `name` (or 'link') of `group` (default: the first) at `level` (default: the
        system's level)."""
        grp = self.groups[group] if group is not None else self.first
        if name == "link" and self.link is not None:
            from simulator.link.collective import LinkModel

            return LinkModel("link", self.link, self.topology,
                             tuple(f"{grp.name}.{i}" for i in range(grp.count)))
        spec = grp.units[name]
        memory = grp.memories.get(spec.memory) if spec.memory else None
        return lookup(spec.type, file=str(self.path), key=name).model(level or self.level, name, spec, memory)

    def models(self, level: str | None = None, group: str | None = None) -> dict[str, Any]:
        """One model per unit of `group` (and 'link') at `level`."""
        grp = self.groups[group] if group is not None else self.first
        names = list(grp.units) + (["link"] if self.link is not None else [])
        return {name: self.model(name, level, group) for name in names}


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
        if layout.groups is not None:
            return _grouped(layout, doc)
        return _single(layout, doc)


def _grouped(layout: SystemLayout, doc: Document) -> System:
    file = str(doc.path)
    for key in ("devices", "device", "interconnect", "mapping"):
        if getattr(layout, key) not in (None, {}):
            raise ConfigError(f"'{key}' belongs to single-description files; with groups use groups.<name>."
                              f"{'count' if key == 'devices' else key} and topology", file=file, key=key)
    assert layout.groups is not None
    groups = {name: _group(name, g.count, g.memories, g.units, g.mapping, file, f"groups.{name}",
                           g.static_power, g.source)
              for name, g in layout.groups.items()}
    total = sum(g.count for g in groups.values())
    if layout.topology is None and total > 1:
        raise ConfigError("a system of several devices needs a topology (e.g. {pattern: switch, link: "
                          "{include: links/nvlink4.yaml}})", file=file, key="topology")
    topology = build_topology(layout.topology or {"pattern": "graph"}, {n: g.count for n, g in groups.items()},
                              file=file)
    return System(layout.name, layout.source, layout.level, groups, topology, doc.path, doc.data)


def _single(layout: SystemLayout, doc: Document) -> System:
    file = str(doc.path)
    if layout.device is None:
        raise ConfigError("required key is missing: a system has groups (or a single device: description)",
                          file=file, key="groups")
    devices = layout.devices or 1
    group = _group("device", devices, layout.device.memories, layout.device.units, layout.mapping, file,
                   "device")
    link = (validate(LinkSpec, _strip(layout.interconnect, "link", file, "interconnect"), file=file,
                     prefix="interconnect")
            if layout.interconnect is not None else None)
    if devices > 1 and link is None:
        raise ConfigError("a system of several devices needs an interconnect", file=file, key="interconnect")
    raw = ({"pattern": link.topology, "link": _strip(layout.interconnect or {}, "link", file, "interconnect")}
           if link is not None
           else {"pattern": "graph"})
    topology = build_topology(raw, {"device": devices}, file=file, key="interconnect")
    return System(layout.name, layout.source, layout.level, {"device": group}, topology, doc.path, doc.data,
                  interconnect=link)


def _group(name: str, count: int, raw_memories: dict[str, Any], raw_units: dict[str, Any],
           raw_mapping: dict[str, str], file: str, key: str, static_power: float = 0.0,
           source: str = "") -> DeviceGroup:
    memories = {n: validate(MemorySpec, {"name": n, **_strip(m, "memory", file, f"{key}.memories.{n}")},
                            file=file, prefix=f"{key}.memories.{n}")
                for n, m in raw_memories.items()}
    units: dict[str, UnitSpec] = {}
    for n, raw in raw_units.items():
        ukey = f"{key}.units.{n}"
        unit_type = lookup(raw.get("type"), file=file, key=f"{ukey}.type")
        spec = validate(unit_type.spec, _strip(raw, "unit", file, ukey), file=file, prefix=ukey)
        if spec.memory is not None and spec.memory not in memories:
            raise ConfigError(f"unknown memory '{spec.memory}'; {allowed(memories)}", file=file,
                              key=f"{ukey}.memory")
        units[n] = spec
    mapping = _mapping(raw_mapping, units, file, "mapping" if key == "device" else f"{key}.mapping")
    return DeviceGroup(name, count, memories, units, mapping, static_power, source)


def _strip(part: dict[str, Any], kind: str, file: str, key: str) -> dict[str, Any]:
    """A part as its spec sees it: header keys of included files are already gone; an inline part's `kind`, if
    given, must be the part's kind, and is dropped."""
    if "kind" in part and part["kind"] != kind:
        raise ConfigError(f"kind is {part['kind']!r}; allowed here: {kind}", file=file, key=f"{key}.kind")
    return {k: v for k, v in part.items() if k != "kind"}


def _mapping(raw: dict[str, str], units: dict[str, UnitSpec], file: str, key: str) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for op_class, unit in raw.items():
        if unit not in units:
            raise ConfigError(f"unknown unit '{unit}'; {allowed(units)}", file=file, key=f"{key}.{op_class}")
        served = lookup(units[unit].type, file=file, key=unit).serves
        if op_class not in served:
            raise ConfigError(f"unit '{unit}' ({units[unit].type}) cannot run {op_class} ops; it runs "
                              f"{', '.join(served)}", file=file, key=f"{key}.{op_class}")
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
