"""The on-disk cache shared by sweeps (one result per design point) and spec-only calibrations.

Location: $XPUSIM_CACHE, else the user cache directory (platformdirs), never the current directory.
`XPUSIM_CACHE=off` (or 0, no, false) turns every disk cache off. Keys are SHA-256 hashes of JSON text that
includes `code_version()`: the package version and a hash of the simulator's sources, so that any change to
the code starts a fresh cache instead of serving stale results.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

OFF = ("off", "0", "no", "false", "none")


def enabled() -> bool:
    return os.environ.get("XPUSIM_CACHE", "").strip().lower() not in OFF


def cache_dir() -> Path:
    """The cache root: $XPUSIM_CACHE or the platform's user cache directory for xpusim."""
    env = os.environ.get("XPUSIM_CACHE", "").strip()
    if env and env.lower() not in OFF:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("xpusim", appauthor=False))


@lru_cache(maxsize=1)
def code_version() -> str:
    """`<package version>+<12 hex digits of a hash of every simulator/**/*.py>`."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version("xpusim")
    except PackageNotFoundError:
        ver = "0"
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return f"{ver}+{h.hexdigest()[:12]}"


def digest(obj: Any) -> str:
    """SHA-256 of `obj` as canonical JSON (sorted keys; numpy scalars and arrays as lists)."""
    text = json.dumps(obj, sort_keys=True, default=_plain, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(x: Any) -> Any:
    if hasattr(x, "tolist"):
        return x.tolist()
    return str(x)


class Store:
    """JSON files under `<cache root>/<namespace>/<2 hex>/<key>.json`, written atomically (temp + rename)."""

    def __init__(self, namespace: str, root: Path | None = None):
        self.root = (root if root is not None else cache_dir()) / namespace

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Any | None:
        try:
            return json.loads(self.path(key).read_text())
        except (FileNotFoundError, json.JSONDecodeError, OSError):
            return None

    def put(self, key: str, value: Any) -> None:
        path = self.path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                json.dump(value, f, default=_plain)
            os.replace(tmp, path)
        except OSError:
            pass   # a read-only or full disk costs a recomputation, never a failed run


def calibration(namespace: str, spec: Any, compute: Callable[[], Any]) -> Any:
    """`compute()` for a calibration that depends only on `spec` (JSON-able), from the disk cache when there."""
    if not enabled():
        return compute()
    store = Store(f"calibration/{namespace}")
    key = digest({"spec": spec, "code": code_version()})
    hit = store.get(key)
    if hit is not None:
        return hit
    value = compute()
    store.put(key, value)
    return value
