"""Command line of the markdown reports (`python -m simulator.studies.pim_gpt`, ...): render, then write the file
atomically (a temporary sibling renamed over it) and say where it went."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path


def report_main(argv: list[str] | None, doc: str, default: Path, render: Callable[[], str]) -> None:
    """Parse `--out` (default `default`), write `render()` there."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--out", type=Path, default=default)
    out = p.parse_args(argv).out
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(render())
    os.replace(tmp, out)
    print(f"wrote {out}")
