"""Collective curves for reports: time and nccl-tests bandwidths against size, per algorithm and device count.

    collective_curves(topology, op="all_reduce", sizes=..., counts=..., algorithms=ALGORITHMS)
        -> pandas DataFrame: devices, bytes, algorithm, default, time_s, algbw_gbps, busbw_gbps

The devices of a count n are the first n of the topology. An algorithm that has no schedule for the op or the
device set (halving-doubling off a power of two, hierarchical within one node, tree for all-gather) has no row;
`default` marks the algorithm `collective()` picks for that size and set.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from simulator.errors import UserError
from simulator.network.algorithms import ALGORITHMS
from simulator.network.collectives import choose, collective, normalise_op
from simulator.network.topology import Topology

SIZES = tuple(float(2 ** k) for k in range(10, 31, 2))      # 1 KiB to 1 GiB
COUNTS = (2, 4, 8, 16, 32, 64)


def collective_curves(topology: Topology, op: str = "all_reduce", sizes: Sequence[float] = SIZES,
                      counts: Sequence[int] = COUNTS, algorithms: Sequence[str] = ALGORITHMS,
                      congestion_aware: bool = False) -> pd.DataFrame:
    op = normalise_op(op)
    rows = []
    for n in counts:
        if n > len(topology.devices):
            continue
        devices = list(range(n))
        for size in sizes:
            default, _ = choose(topology, op, size, devices)
            for alg in algorithms:
                try:
                    c = collective(topology, op, size, devices, alg, congestion_aware)
                except UserError:
                    continue
                rows.append({"devices": n, "bytes": size, "algorithm": alg, "default": alg == default,
                             "time_s": c.time_s, "algbw_gbps": c.algbw / 1e9, "busbw_gbps": c.busbw / 1e9})
    return pd.DataFrame(rows, columns=["devices", "bytes", "algorithm", "default", "time_s", "algbw_gbps",
                                       "busbw_gbps"])
