"""Write a run's output directory safely: never delete or overwrite a file the simulator did not write.

The files are written to a temporary sibling first. A new directory is that sibling renamed into place. A
previous run record (a directory holding only the files its marker `.xpusim-run.json` lists) is replaced
atomically: the old record is renamed aside, the new one renamed in, the old one removed. An empty directory, or
any other directory with `force`, receives the new files one by one (each an atomic rename) and keeps every other
file; without `force` a non-empty directory that is not a run record is an error. SIGINT/SIGTERM and unwritable
locations clean up the temporary files and end as one-line user errors; permissions follow the umask.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from simulator.errors import UserError

MARKER = ".xpusim-run.json"
PLOT_FORMATS = ("png", "svg", "pdf")           # file formats of the plots a record may hold


class Interrupted(UserError):
    """SIGINT or SIGTERM arrived; whatever was being written has been removed."""


def write_atomically(out: Path, fill: Callable[[Path], None], *, force: bool = False) -> None:
    """Call `fill(tmpdir)` on an empty temporary directory, then publish its files at `out` (see module doc)."""
    out = Path(os.path.abspath(out))
    where = str(out)
    check_output(out, force)
    try:
        existing = _existing(out, force)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent if existing != "merge" else out))
        try:
            os.chmod(tmp, 0o777 & ~_umask())
            fill(tmp)
            names = sorted(p.name for p in tmp.iterdir())
            (tmp / MARKER).write_text(json.dumps({"written_by": "xpusim", "files": names}) + "\n")
            with _signals_held():
                _publish(tmp, out, existing, names)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise UserError(f"cannot write the output directory: {reason}"
                        + (f" ({exc.filename})" if exc.filename else ""), file=where, key="--out") from None


def check_output(out: Path, force: bool = False) -> None:
    """Fail before any work if `out` could not take a run record (checked again when writing)."""
    out = Path(os.path.abspath(out))
    try:
        if out.exists() and not out.is_dir():
            raise UserError("exists and is not a directory; give a new or a run-record directory", file=str(out),
                            key="--out")
        _existing(out, force)
    except OSError as exc:
        raise UserError(f"cannot read the output directory: {exc.strerror}", file=str(out), key="--out") from None


def _existing(out: Path, force: bool) -> str:
    """How `out` is published: 'new' (absent), 'record' (a previous run record), 'merge' (empty, or --force)."""
    if not out.exists():
        return "new"
    present = {p.name for p in out.iterdir()}
    if not present:
        return "merge"
    if MARKER in present and present <= set(_marked(out)) | {MARKER}:
        return "record"
    if force:
        return "merge"
    theirs = sorted(present - set(_marked(out)) - {MARKER})
    raise UserError(f"directory is not empty and not a run record of this simulator (it holds "
                    f"{', '.join(theirs[:3])}{', ...' if len(theirs) > 3 else ''}); allowed: a new or empty "
                    f"directory, a previous run record, or --force to add the files beside the others",
                    file=str(out), key="--out")


def _marked(out: Path) -> list[str]:
    try:
        files = json.loads((out / MARKER).read_text()).get("files", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [str(f) for f in files] if isinstance(files, list) else []


def _publish(tmp: Path, out: Path, existing: str, names: list[str]) -> None:
    if existing == "new":
        os.rename(tmp, out)
    elif existing == "record":
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.rename(out, old / "record")
        os.rename(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        for name in names + [MARKER]:
            os.replace(tmp / name, out / name)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while the renames run, so that an interruption never leaves half a swap."""
    held = {signal.SIGINT, signal.SIGTERM}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextmanager
def interruptible() -> Iterator[None]:
    """While running, SIGTERM (like SIGINT) raises Interrupted, so that `finally` blocks clean up."""
    def stop(signum, frame):
        raise Interrupted(f"interrupted by {signal.Signals(signum).name}; no output was left half-written")
    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:           # not the main thread: leave signal handling to the host
        yield
        return
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted("interrupted by SIGINT; no output was left half-written") from None
    finally:
        signal.signal(signal.SIGTERM, previous)
