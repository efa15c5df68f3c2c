"""Shared fixtures: repository paths and a helper that runs the CLI in-process."""

from __future__ import annotations

import json

import pytest

from simulator.cli import main


@pytest.fixture
def cli(capsys):
    """Run `simulate ARGS...`; returns (exit code, stdout, stderr)."""

    def run(*args: str):
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def cli_json(cli):
    def run(*args: str) -> dict:
        code, out, err = cli(*args, "--json")
        assert code == 0, err
        return json.loads(out)

    return run
