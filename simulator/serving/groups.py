"""The adapter between serving and the hardware description: which device groups serve, on which system, with
how many replicas, and the links that carry swapped and disaggregated KV caches.

Today a system is N identical devices on one link, so a group is (a system file, a replica count) and a
replica uses tp x pp of its devices; a disaggregated deployment is two such groups and a link file. When the
system layer offers device groups and a topology, this module is the one place to map them: `groups()` must
return, per group, the system of one replica (for the iteration model), the replica count, and the link between
the prefill and decode groups (`kv_link`) and between a device and its host (`swap_link`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from simulator.config.loader import load, parse_set
from simulator.config.spec import validate
from simulator.errors import ConfigError
from simulator.hardware.system import System, load_system
from simulator.link.spec import LinkSpec
from simulator.memory import traffic
from simulator.serving.config import ServeSpec
from simulator.serving.engine import Group
from simulator.serving.kv import BlockPool, kv_bytes_per_token, plan_blocks
from simulator.serving.step import IterationModel
from simulator.workload.spec import Workload

HW_DIR = Path(__file__).resolve().parents[2] / "hwconfigs"


@dataclass
class Deployment:
    """The groups that serve (one co-located group, or prefill then decode), their block pools per replica,
    and the links."""

    groups: list[Group]
    pools: list[BlockPool]
    workload: Workload
    swap_link: LinkSpec | None
    kv_link: LinkSpec | None

    @property
    def disaggregated(self) -> bool:
        return len(self.groups) == 2

    @property
    def devices(self) -> int:
        return sum(g.replicas * g.devices_per_replica for g in self.groups)


def link(ref: str, where: str) -> LinkSpec:
    path = Path(ref) if Path(ref).exists() else HW_DIR / ref
    if not path.is_file():
        raise ConfigError(f"link file '{ref}' not found; allowed: a path or a file under hwconfigs/ "
                          "(links/nvlink4.yaml, links/pcie5.yaml)", file="--set", key=where)
    return validate(LinkSpec, load(path, kinds=("link",)).data, file=str(path))


def deployment(hw: str | Path, wl: Workload, sets: list[str], spec: ServeSpec, *, level: str | None,
               cache: str, longest: int) -> Deployment:
    """Load the systems and size every group's KV cache for requests up to `longest` tokens."""
    overrides = parse_set(sets)
    swap = link(spec.swap_link, "serve.swap_link")
    d = spec.disaggregation
    if d is None:
        systems = [("serve", load_system(hw, overrides["hw"]), spec.dp, str(hw))]
        kv_link = None
    else:
        systems = [("prefill", load_system(d.prefill_hw or hw, overrides["hw"]), d.prefill,
                    f"--set serve.disaggregation.prefill_hw={d.prefill_hw}" if d.prefill_hw else str(hw)),
                   ("decode", load_system(d.decode_hw or hw, overrides["hw"]), d.decode,
                    f"--set serve.disaggregation.decode_hw={d.decode_hw}" if d.decode_hw else str(hw))]
        kv_link = link(d.link, "serve.disaggregation.link")
    groups, pools = [], []
    s = wl.spec
    for name, system, replicas, where in systems:
        if s.tp * s.pp > system.devices:
            raise ConfigError(f"tp x pp = {s.tp * s.pp} devices per replica but {system.name} has {system.devices} "
                              f"(set {device_count_key(system)} or lower tp/pp)", file=str(wl.path), key="tp")
        pool = plan_blocks(wl, system.memory_capacity, memory_fraction=spec.memory_fraction,
                           block_size=spec.block_size, swap_bytes=spec.swap_space, longest=longest,
                           where=f"{where} ({name} group, {system.name})")
        model = IterationModel(system, wl, level=level, cache=cache)
        static = device_static_power(system)
        groups.append(Group(name, model, replicas, s.tp * s.pp, static, static + memory_idle_power(system),
                            spec.block_size * kv_bytes_per_token(wl)))
        pools.append(pool)
    return Deployment(groups, pools, wl, swap, kv_link)


def device_static_power(system: System) -> float:
    """Watts one device draws whatever it runs: its units' static power and the device's own (board, fans)."""
    group = next(iter(system.groups.values()))
    return sum(u.static_power for u in system.units.values()) + group.static_power


def memory_idle_power(system: System) -> float:
    """Watts of the memories' precharged standby (no rows open) of one device."""
    return sum(traffic.background(m, 1.0, 0.0) for m in system.memories.values())


def device_count_key(system) -> str:
    """The `--set` key of how many devices a replica's system has: `hw.devices` in a single-description file,
    the first group's `hw.groups.<name>.count` in a file of device groups."""
    if "groups" in system.resolved:
        return f"hw.groups.{next(iter(system.groups))}.count"
    return "hw.devices"
