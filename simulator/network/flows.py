"""Congestion-aware transfers: concurrent flows share each link's bandwidth max-min fairly.

Flows are routed paths; `flow_of[i], link_of[i]` list the (flow, link) incidences (a sparse flow x link
matrix). Max-min fair rates by progressive filling: raise every unfrozen flow's rate together until a link
saturates, freeze the flows on it, repeat (at most one round per link, each one numpy pass over the
incidences). Rates are recomputed whenever a flow starts or finishes, so two flows on one link get half each
and a flow speeds up when its neighbour ends; there is no FIFO of whole messages.

`Fabric(env, topology)` is the SimPy face for the executor: `fabric.transfer([(src, dst, bytes), ...])`
returns an event that fires when the last of those flows has landed (its bytes through the shared links, then
its path latency), while other transfers in flight share the same links.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

DONE = 1e-9          # a flow is done when less than this share of its bytes remains (float rounding)


def max_min_rates(flow_of: np.ndarray, link_of: np.ndarray, n_flows: int, capacity: np.ndarray,
                  active: np.ndarray | None = None) -> np.ndarray:
    """Max-min fair rate (bytes/s) of each flow; flows with no link (or not active) get inf (or 0)."""
    active = np.ones(n_flows, dtype=bool) if active is None else active
    rates = np.zeros(n_flows)
    hops = np.bincount(flow_of, minlength=n_flows)
    rates[active & (hops == 0)] = np.inf
    frozen = ~active | (hops == 0)
    cap = capacity.astype(float).copy()
    nlinks = len(capacity)
    while not frozen.all():
        live = ~frozen[flow_of]
        counts = np.bincount(link_of[live], minlength=nlinks)
        used = counts > 0
        share = np.full(nlinks, np.inf)
        share[used] = cap[used] / counts[used]
        inc = share.min()
        rates[~frozen] += inc
        cap[used] -= inc * counts[used]
        saturated = used & (share <= inc * (1 + 1e-12))
        frozen[flow_of[live & saturated[link_of]]] = True
    return rates


def finish_times(flow_of: np.ndarray, link_of: np.ndarray, sizes: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Seconds until each flow (all starting at 0) has sent its bytes, rates re-shared as flows finish."""
    n = len(sizes)
    remaining = np.asarray(sizes, dtype=float).copy()
    finish = np.zeros(n)
    active = remaining > 0
    t = 0.0
    while active.any():
        rates = max_min_rates(flow_of, link_of, n, capacity, active)
        if np.isinf(rates[active]).any():
            done = active & np.isinf(rates)
            finish[done] = t
            active &= ~done
            continue
        dt = float(np.min(remaining[active] / rates[active]))
        t += dt
        remaining[active] -= rates[active] * dt
        done = active & (remaining <= DONE * np.asarray(sizes))
        finish[done] = t
        active &= ~done
    return finish


class Fabric:
    """Shared links for concurrent transfers in a SimPy environment (time in units of `time_unit` seconds;
    the executor's environment counts picoseconds, so delays are rounded up to whole units there)."""

    def __init__(self, env, topology, *, time_unit: float = 1e-12, integer_time: bool = True):
        self.env = env
        self.topology = topology
        self.time_unit = time_unit
        self.integer_time = integer_time
        self.link_bytes = np.zeros(len(topology.links))
        self._flows: list[dict] = []          # remaining, size, links, transfer
        self._last = env.now
        self._wake = None

    def transfer(self, flows: Sequence[tuple[int | str, int | str, float]]):
        """An event that fires when every (src, dst, bytes) flow has arrived."""
        done = self.env.event()
        job = {"event": done, "left": 0, "latency": 0.0}
        self._advance()
        for src, dst, nbytes in flows:
            links = np.asarray(self.topology.path(src, dst), dtype=np.int64)
            lat = float(self.topology.latency[links].sum()) if len(links) else 0.0
            job["latency"] = max(job["latency"], lat)
            if nbytes > 0 and len(links):
                job["left"] += 1
                self._flows.append({"remaining": float(nbytes), "size": float(nbytes), "links": links, "job": job})
                np.add.at(self.link_bytes, links, float(nbytes))
        if job["left"] == 0:
            self._land(job)
        self._reschedule()
        return done

    def _delay(self, seconds: float) -> float:
        units = seconds / self.time_unit
        return float(math.ceil(units - 1e-9)) if self.integer_time else units

    def _land(self, job: dict) -> None:
        delay = self._delay(job["latency"])
        if delay > 0:
            self.env.timeout(delay).callbacks.append(lambda _: job["event"].succeed())
        else:
            job["event"].succeed()

    def _rates(self) -> np.ndarray:
        if not self._flows:
            return np.zeros(0)
        lengths = [len(f["links"]) for f in self._flows]
        flow_of = np.repeat(np.arange(len(self._flows)), lengths)
        link_of = np.concatenate([f["links"] for f in self._flows])
        return max_min_rates(flow_of, link_of, len(self._flows), self.topology.rate)

    def _advance(self) -> None:
        """Move every flow on to now at the rates they have had since the last change; land finished ones."""
        dt = (self.env.now - self._last) * self.time_unit
        self._last = self.env.now
        if not self._flows or dt <= 0:
            return
        rates = self._rates()
        keep = []
        for f, r in zip(self._flows, rates):
            f["remaining"] -= r * dt
            if f["remaining"] <= DONE * f["size"] + 1e-9 * r * self.time_unit:
                f["job"]["left"] -= 1
                if f["job"]["left"] == 0:
                    self._land(f["job"])
            else:
                keep.append(f)
        self._flows = keep

    def _reschedule(self) -> None:
        if not self._flows:
            return
        rates = self._rates()
        rem = np.array([f["remaining"] for f in self._flows])
        delay = self._delay(float(np.min(rem / rates)))
        wake = self.env.timeout(max(delay, 1.0 if self.integer_time else delay))
        self._wake = wake
        wake.callbacks.append(lambda ev: self._on_wake(ev))

    def _on_wake(self, ev) -> None:
        if ev is not self._wake:          # a newer change rescheduled
            return
        self._advance()
        self._reschedule()
