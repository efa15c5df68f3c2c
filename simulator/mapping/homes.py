"""Tensor homes: weights and KV cache in a named memory (`workload.placement.homes`) other than the unit's own.

An op whose resident tensors live in a remote home reads (or, for the KV write, writes) those bytes over the path
to that memory, overlapped with its own work:

    t = max(t_unit, latency_path + latency_memory + remote_bytes / min(bandwidth_path, bandwidth_memory))

The bytes move from the unit's memory to the home memory and cross the path's link (whose energy per bit the link
accounting charges). A memory's latency is its row-miss access, (tRCD + CL) x tCK. Each memory's capacity is checked
for what it holds: its homed tensors (a memory on the network, such as a CXL expander, those of every device of the
plan); unhomed tensors go to the units' own memories. A memory on the network is reached over the topology path
from the device (latency and energy per bit summed over the hops, bandwidth of the slowest).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from simulator.engine.cost import OpCost
from simulator.errors import ConfigError, allowed
from simulator.lowering.ops import Op
from simulator.memory.spec import MemorySpec
from simulator.quantity import fmt

KV_TENSORS = frozenset({"kv_cache", "k_cache", "v_cache", "cache"})


def memory_latency(memory: MemorySpec) -> float:
    """Seconds of a row-miss read: (tRCD + CL) x tCK (0 for a memory without a timing table)."""
    t = memory.timing
    return (t.tRCD + t.CL) * memory.tck if t is not None else 0.0


@dataclass(frozen=True)
class Path:
    """How a unit reaches a remote memory: payload bandwidth of the slowest hop (B/s), latency over the hops (s)
    and energy per bit summed over the hops (J/bit)."""

    bandwidth: float
    latency: float
    energy_per_bit: float = 0.0


def tensor_role(tensor) -> str:
    return "kv_cache" if tensor.name in KV_TENSORS else "weights"


@dataclass(frozen=True)
class Homes:
    """Remote homes of a schedule: tensor role -> memory name, with the memories and each unit's path to them."""

    homes: dict[str, str]
    memories: dict[str, MemorySpec]
    unit_memory: dict[str, str | None]
    paths: dict[tuple[str, str], Path]          # (unit, home memory) -> path

    def adjust(self, op: Op, unit: str, cost: OpCost) -> OpCost:
        """The cost with the op's remotely homed resident bytes read over the path to their home."""
        local = self.unit_memory.get(unit)
        remote: dict[str, float] = {}
        for t in op.inputs + op.outputs:
            home = self.homes.get(tensor_role(t)) if t.resident else None
            if home is not None and home != local:
                remote[home] = remote.get(home, 0.0) + t.bytes
        if not remote:
            return cost
        moved, counts = dict(cost.bytes), dict(cost.counts)
        time = cost.time_s
        for home, nbytes in remote.items():
            path, mem = self.paths[(unit, home)], self.memories[home]
            time = max(time, path.latency + memory_latency(mem) + nbytes / min(path.bandwidth, mem.peak_bandwidth))
            if local in moved:
                moved[local] = max(0.0, moved[local] - nbytes)
            moved[home] = moved.get(home, 0.0) + nbytes
            if path.energy_per_bit:
                counts["link.energy_j"] = counts.get("link.energy_j", 0.0) + nbytes * 8 * path.energy_per_bit
        scale = time / cost.time_s if cost.time_s else 1.0
        return replace(cost, time_s=time, cycles=cost.cycles * scale, bytes=moved, counts=counts,
                       detail={**cost.detail, "remote_bytes": remote})


def check_capacity(homes: dict[str, str], memories: dict[str, MemorySpec], shared: dict[str, MemorySpec],
                   held: dict[str, float], local: float, devices: int, file: str) -> None:
    """Each home memory holds its tensors (a memory on the network, `shared`, those of all `devices`); the rest
    (`local` bytes) must fit the device memories that are no home."""
    for role, name in homes.items():
        if name not in memories and name not in shared:
            raise ConfigError(f"unknown memory '{name}'; {allowed(list(memories) + list(shared))}", file=file,
                              key=f"placement.homes.{role}")
    for name in set(homes.values()):
        need = sum(held[r] for r, n in homes.items() if n == name) * (devices if name in shared else 1)
        cap = (shared.get(name) or memories[name]).capacity_bytes
        if need > cap:
            mine = [r for r, n in homes.items() if n == name]
            roles = " + ".join(mine)
            per = f"for {devices} devices" if name in shared else "per device"
            raise ConfigError(f"{roles} need {fmt(need, 'size')} {per}, more than the {fmt(cap, 'size')} of "
                              f"memory '{name}'; allowed: at most {fmt(cap, 'size')} (raise tp/pp/ep or home it "
                              f"elsewhere)", file=file, key=f"placement.homes.{mine[-1]}")
    rest = sum(m.capacity_bytes for n, m in memories.items() if n not in homes.values())
    if local > rest:
        raise ConfigError(f"the tensors without a home need {fmt(local, 'size')} per device, more than the "
                          f"{fmt(rest, 'size')} of the other memories; raise tp/pp or home them elsewhere",
                          file=file, key="model")
