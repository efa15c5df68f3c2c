"""xpusim: a discrete-event simulator of LLM accelerators. `simulator.run.simulate` is the entry point."""

from importlib import metadata

try:
    __version__ = metadata.version("xpusim")
except metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
