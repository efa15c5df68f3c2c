"""A private disk cache per test (XPUSIM_CACHE), inherited by spawned workers through the environment."""

import pytest

from simulator.cli import ROOT

H100, LLAMA = ROOT / "hwconfigs/h100.yaml", ROOT / "workloads/llama2-7b.yaml"
NEUPIMS, GPT3 = ROOT / "hwconfigs/neupims.yaml", ROOT / "workloads/gpt3-7b-decode.yaml"


@pytest.fixture(autouse=True)
def cache_root(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("XPUSIM_CACHE", str(root))
    return root
