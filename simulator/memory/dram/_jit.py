"""Optional compilation of the command-level kernels with numba.

The kernels are plain Python written in a numba-compatible subset (integer numpy arrays, no objects). With
numba installed they are compiled once per process (and cached next to the module when the package directory
is writable); without it they run as ordinary Python, about 100x slower, with identical results.
"""

from __future__ import annotations

import os

try:  # pragma: no cover - depends on the environment
    import numba
    HAVE_NUMBA = os.environ.get("SIMULATOR_NO_JIT", "") == ""
except ImportError:  # pragma: no cover
    numba = None
    HAVE_NUMBA = False


def kernel(fn):
    """Compile `fn` with numba when available (nopython, cached), else return it unchanged."""
    if not HAVE_NUMBA:
        return fn
    return numba.njit(cache=True, nogil=True)(fn)
