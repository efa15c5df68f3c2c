"""Execute the shipped notebooks as Jupyter would (kernel started in notebooks/, inline figures) and render executed
copies, outputs and figures included, to docs/notebooks/ so they can be read without running them:

    python -m simulator.studies.notebooks [--out docs/notebooks] [NAME ...]

Needs the `dev` extra (nbclient, nbformat, ipykernel). The tests run the same execution.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from simulator.resources import data_root

FIGURE = re.compile(r"plt\.(subplots|figure|plot)\(|\.plot\(|\bfig\b")


def notebooks() -> list[Path]:
    return sorted((data_root() / "notebooks").glob("*.ipynb"))


def execute(path: Path, timeout: int = 600):
    """The notebook at `path`, executed in a fresh kernel whose working folder is the notebook's own."""
    import nbformat
    from nbclient import NotebookClient

    import simulator

    source = str(Path(simulator.__file__).resolve().parents[1])  # the kernel imports this same package
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)}
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute(env=env)
    return nb


def figure_cells(nb) -> list[tuple[int, bool]]:
    """(index, produced an image) of every code cell that draws a figure."""
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and FIGURE.search(cell.source):
            images = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})
                      or "image/svg+xml" in o.get("data", {})]
            out.append((i, bool(images)))
    return out


def main(argv: list[str] | None = None) -> None:
    import nbformat

    ap = argparse.ArgumentParser(prog="python -m simulator.studies.notebooks", description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="notebook stems (default: all)")
    ap.add_argument("--out", type=Path, default=data_root() / "docs" / "notebooks", help="folder for the copies")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in notebooks():
        if args.names and path.stem not in args.names:
            continue
        nb = execute(path)
        nbformat.write(nb, args.out / path.name)
        print(f"wrote {args.out / path.name}")


if __name__ == "__main__":
    main()
