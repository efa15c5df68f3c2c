"""Layers point down: model packages never import the layers above them (run, serving, studies, the CLI)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "simulator"
MODELS = ("npu", "gpu", "pim", "memory", "link")
ABOVE = ("simulator.run", "simulator.serve", "simulator.studies", "simulator.cli", "simulator.regress")


def imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


@pytest.mark.parametrize("package", MODELS)
def test_model_packages_do_not_import_upwards(package):
    bad = {f"{p.relative_to(PACKAGE)}: {name}" for p in (PACKAGE / package).rglob("*.py")
           for name in imports(p) if name.startswith(ABOVE)}
    assert not bad
