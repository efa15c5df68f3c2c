"""Build hook: copy the top-level data folders (hwconfigs/, workloads/, notebooks/) into the built package as
simulator/_data/, so an installed wheel carries its presets, model zoo, traces and notebooks while the repository
keeps the charter's layout. Editable installs read the checkout's folders directly (simulator.resources)."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA = ("hwconfigs", "workloads", "notebooks")


class BuildPyWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        root = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "simulator" / "_data"
        for name in DATA:
            shutil.copytree(root / name, target / name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithData})
