"""The summary of one collective on a system's network (what `simulate collective` prints): the time with the
nccl-tests bandwidths of one collective on the system's topology with the nccl-tests bandwidths (algbw = S / t;
busbw = algbw x 2(n-1)/n for all-reduce, (n-1)/n for all-gather, reduce-scatter and all-to-all, 1 otherwise)
and each used link's bytes and utilisation (bytes over time x line rate). `--group` picks the devices: a group
name (all its devices), a count N (the first N devices of the first group) or NAME:N.
"""

from __future__ import annotations

from typing import Any

from simulator.errors import UserError, allowed
from simulator.hardware.system import System


def devices_of(system: System, group: str | None) -> list[str]:
    """Device names picked by a --group value."""
    first = next(iter(system.groups))
    if group is None:
        name, count = first, None
    elif ":" in group:
        name, _, num = group.partition(":")
        count = _count(num, group)
    elif group.isdigit():
        name, count = first, _count(group, group)
    else:
        name, count = group, None
    if name not in system.groups:
        raise UserError(f"unknown group '{name}'; {allowed(system.groups)}", file=str(system.path), key="--group")
    size = system.groups[name].count
    count = size if count is None else count
    if count > size:
        raise UserError(f"group '{name}' has {size} devices, asked for {count}; allowed: 2 to {size}",
                        file=str(system.path), key="--group")
    return [f"{name}.{i}" for i in range(count)]


def _count(text: str, whole: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise UserError(f"'{whole}' must be a group name, a device count or NAME:COUNT", key="--group")
    return int(text)


def run_collective(system: System, op: str, nbytes: float, group: str | None = None,
                   algorithm: str | None = None, congestion_aware: bool = False,
                   chunks: int | None = None) -> dict[str, Any]:
    from simulator.network.collectives import collective

    devices = devices_of(system, group)
    try:
        c = collective(system.topology, op, nbytes, devices, algorithm, congestion_aware, chunks)
    except UserError as exc:
        if exc.file is not None:
            raise
        key = "--algorithm" if algorithm else "collective"
        raise UserError(exc.detail, file=str(system.path), key=exc.key or key) from None
    topo = system.topology
    links = {}
    for i in c.link_bytes.nonzero()[0]:
        lk = topo.links[i]
        links[f"{lk.src}->{lk.dst}"] = {
            "link": lk.name, "bytes": float(c.link_bytes[i]),
            "utilisation": float(c.link_bytes[i] / (c.time_s * lk.bandwidth)) if c.time_s > 0 else 0.0}
    return {
        "system": system.name, "op": c.op, "bytes": c.nbytes, "devices": c.devices, "group": devices,
        "algorithm": c.algorithm, "reason": c.reason, "congestion_aware": congestion_aware, "steps": c.steps,
        "time_s": c.time_s, "algbw_gbps": c.algbw / 1e9, "busbw_gbps": c.busbw / 1e9, "energy_j": c.energy_j,
        "max_link_utilisation": max((v["utilisation"] for v in links.values()), default=0.0), "links": links,
    }
