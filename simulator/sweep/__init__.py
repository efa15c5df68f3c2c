"""Design-space exploration: sweeps over `hw.` / `workload.` keys with a disk result cache, local or Dask
executors, a Pareto helper, multi-objective search and one-at-a-time sensitivity (docs/dse.md).

Names are imported on first use, so `simulate` subcommands that only register the parser stay light.
"""

from importlib import import_module

_WHERE = {"sweep": "api", "write": "api", "pareto": "front", "Grid": "space", "Points": "space",
          "Random": "space", "Range": "space", "from_spec": "space", "search": "optimise",
          "sensitivity": "one_at_a_time", "tornado": "one_at_a_time", "load_sweep": "spec"}

__all__ = list(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(f"simulator.sweep.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'simulator.sweep' has no attribute {name!r}")
