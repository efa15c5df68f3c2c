"""Where the shipped data lives: presets (hwconfigs/), the model zoo and traces (workloads/) and the notebooks.

An installed wheel carries them inside the package (`simulator/_data/`, read through importlib.resources); a
checkout or an editable install reads the repository's top-level folders. `XPUSIM_PATH` (folders separated by
os.pathsep) names user folders searched before the shipped ones.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

DATA_FOLDERS = ("hwconfigs", "workloads", "notebooks")


def data_root() -> Path:
    """The folder holding hwconfigs/, workloads/ and notebooks/: the wheel's package data, else the checkout."""
    packaged = resources.files("simulator") / "_data"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(str(resources.files("simulator"))).parent


def user_dirs(extra: list[str] | tuple[str, ...] = ()) -> list[Path]:
    """User folders searched before the shipped data: `extra` (--path) first, then XPUSIM_PATH."""
    env = [p for p in os.environ.get("XPUSIM_PATH", "").split(os.pathsep) if p]
    return [Path(p).expanduser() for p in (*extra, *env)]
