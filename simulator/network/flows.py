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
    the executor's environment counts picoseconds, so delays are rounded up to whole units there). Rates are
    recomputed once per instant at which flows start (coalesced) and whenever flows finish. Flows in flight are
    arrays (remaining bytes, size, rate, transfer id) with their links as one concatenated incidence list."""

    def __init__(self, env, topology, *, time_unit: float = 1e-12, integer_time: bool = True):
        self.env = env
        self.topology = topology
        self.time_unit = time_unit
        self.integer_time = integer_time
        self.link_bytes = np.zeros(len(topology.links))
        self._rem = np.zeros(0)
        self._size = np.zeros(0)
        self._rate = np.zeros(0)
        self._job = np.zeros(0, dtype=np.int64)
        self._hops = np.zeros(0, dtype=np.int64)
        self._links = np.zeros(0, dtype=np.int64)
        self._jobs: dict[int, list] = {}          # id -> [event, flows left, latency]
        self._next_job = 0
        self._last = env.now
        self._pending = False
        self._wake = None

    def transfer(self, flows: Sequence[tuple[int | str, int | str, float]]):
        """An event that fires when every (src, dst, bytes) flow has arrived."""
        src = [f[0] for f in flows]
        dst = [f[1] for f in flows]
        return self.transfer_arrays(src, dst, np.array([float(f[2]) for f in flows]))

    def transfer_arrays(self, src, dst, nbytes: np.ndarray, latencies: int = 1):
        """As transfer(), with the flows as arrays (or lists) of sources, destinations and bytes; the event
        fires `latencies` path latencies after the last byte (a run of pipelined steps pays one per step)."""
        done = self.env.event()
        hops, links, lat = self.topology.routes(src, dst)
        nbytes = np.asarray(nbytes, dtype=float)
        live = (nbytes > 0) & (hops > 0)
        job = [done, int(live.sum()), latencies * float(lat.max()) if len(lat) else 0.0]
        if job[1] == 0:
            self._land(job)
            return done
        self._advance()
        jid = self._next_job
        self._next_job += 1
        self._jobs[jid] = job
        keep_pairs = np.repeat(live, hops)
        sizes = nbytes[live]
        self._rem = np.concatenate([self._rem, sizes])
        self._size = np.concatenate([self._size, sizes])
        self._rate = np.concatenate([self._rate, np.zeros(len(sizes))])
        self._job = np.concatenate([self._job, np.full(len(sizes), jid)])
        self._hops = np.concatenate([self._hops, hops[live]])
        self._links = np.concatenate([self._links, links[keep_pairs]])
        self.link_bytes += np.bincount(links[keep_pairs], weights=np.repeat(nbytes, hops)[keep_pairs],
                                       minlength=len(self.link_bytes))
        if not self._pending:
            self._pending = True
            self.env.timeout(0).callbacks.append(self._update)
        return done

    def _delay(self, seconds: float) -> float | int:
        """A duration in the environment's time unit: whole picoseconds (rounded up) on the executor's clock."""
        units = seconds / self.time_unit
        return int(math.ceil(units - 1e-9)) if self.integer_time else units

    def _land(self, job: list) -> None:
        delay = self._delay(job[2])
        if delay > 0:
            self.env.timeout(delay).callbacks.append(lambda _: job[0].succeed())
        else:
            job[0].succeed()

    def _advance(self) -> None:
        """Move every flow on to now at its current rate; land the finished ones."""
        dt = (self.env.now - self._last) * self.time_unit
        self._last = self.env.now
        if not len(self._rem) or dt <= 0:
            return
        self._rem -= self._rate * dt
        finished = self._rem <= DONE * self._size + self._rate * self.time_unit
        if not finished.any():
            return
        for jid, count in zip(*np.unique(self._job[finished], return_counts=True)):
            job = self._jobs[int(jid)]
            job[1] -= int(count)
            if job[1] == 0:
                del self._jobs[int(jid)]
                self._land(job)
        keep = ~finished
        self._links = self._links[np.repeat(keep, self._hops)]
        self._rem, self._size, self._rate = self._rem[keep], self._size[keep], self._rate[keep]
        self._job, self._hops = self._job[keep], self._hops[keep]

    def _update(self, _event=None) -> None:
        """Re-share the links among the flows in flight and wake up at the next finish."""
        self._pending = False
        self._advance()
        if not len(self._rem):
            return
        flow_of = np.repeat(np.arange(len(self._rem)), self._hops)
        self._rate = max_min_rates(flow_of, self._links, len(self._rem), self.topology.rate)
        delay = self._delay(float(np.min(self._rem / self._rate)))
        wake = self.env.timeout(max(delay, 1) if self.integer_time else delay)
        self._wake = wake
        wake.callbacks.append(self._on_wake)

    def _on_wake(self, event) -> None:
        if event is self._wake:           # else a later change has rescheduled
            self._update()
