"""Notebooks are executed by the tests (as SimPy does with its docs), so they cannot rot: each runs in a fresh
kernel started in notebooks/ as Jupyter would start it, without errors, and every cell that draws a figure shows
an image (no forced non-interactive backend)."""

from pathlib import Path

import pytest

from simulator.studies.notebooks import execute, figure_cells, notebooks

NOTEBOOKS = notebooks()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_shows_its_figures(path: Path):
    assert 'matplotlib.use("Agg")' not in path.read_text().replace('\\"', '"')
    nb = execute(path)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    figures = figure_cells(nb)
    assert figures, "a design-space notebook draws at least one figure"
    assert [i for i, shown in figures if not shown] == []


def test_there_is_a_notebook():
    assert NOTEBOOKS
