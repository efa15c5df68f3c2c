"""The base of simulated components: a SimPy-resource-backed unit that counts its actions and logs its events.

Shaped like SimPy's own resources: the environment comes first, parameters are keywords, state is read through
read-only properties, and `execute` is a process step that a SimPy process yields.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator
from types import MappingProxyType

import simpy

from simulator.engine.cost import OpCost
from simulator.engine.time import ClockDomain, to_ps


class Component:
    """A unit that runs one piece of work at a time, each for the duration its model gives."""

    def __init__(self, env: simpy.Environment, *, name: str, clock: ClockDomain | None = None, capacity: int = 1):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.env = env
        self.name = name
        self.clock = clock
        self._resource = simpy.PriorityResource(env, capacity=capacity)
        self._counts: dict[str, float] = defaultdict(float)

    @property
    def counts(self) -> MappingProxyType:
        """Actions performed so far (action name -> count), for energy."""
        return MappingProxyType(self._counts)

    def execute(self, cost: OpCost, priority: int = 0,
                done: simpy.Event | None = None) -> Generator[simpy.Event, None, tuple[int, int]]:
        """Queue for the component (lower `priority` first, then first come), hold it for the cost's duration;
        returns (start_ps, end_ps). `done` is triggered before the component is released, and the release waits
        two zero-time steps, so that work waiting on it (directly or through an AllOf) is queued by then and the
        priorities, not the order of wake-ups, decide what runs next."""
        with self._resource.request(priority=priority) as req:
            yield req
            start = self.env.now
            duration = to_ps(cost.time_s)
            yield self.env.timeout(duration)
            if done is not None:
                done.succeed()
                yield self.env.timeout(0)
                yield self.env.timeout(0)
        for action, n in cost.counts.items():
            self._counts[action] += n
        return start, start + duration
