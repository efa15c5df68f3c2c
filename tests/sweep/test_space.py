"""Spaces: point order, determinism given the seed, validation of keys and domains; the Pareto helper."""

import numpy as np
import pandas as pd
import pytest

from simulator.errors import ConfigError
from simulator.sweep import Grid, Points, Random, from_spec, pareto
from simulator.sweep.space import as_sets


def test_grid_is_row_major_over_every_combination():
    pts = Grid({"hw.a": [1, 2], "workload.b": ["x", "y", "z"]}).points()
    assert len(pts) == 6
    assert pts[0] == {"hw.a": 1, "workload.b": "x"} and pts[1] == {"hw.a": 1, "workload.b": "y"}
    assert {tuple(p.values()) for p in pts} == {(a, b) for a in (1, 2) for b in "xyz"}


def test_random_is_deterministic_given_the_seed_and_stays_in_its_domains():
    params = {"hw.a": [8, 16, 32], "workload.b": {"low": 1, "high": 512, "log": True, "int": True}}
    a, b = Random(params, 50, seed=3).points(), Random(params, 50, seed=3).points()
    assert a == b
    assert a != Random(params, 50, seed=4).points()
    assert all(p["hw.a"] in (8, 16, 32) and 1 <= p["workload.b"] <= 512 for p in a)
    assert isinstance(a[0]["workload.b"], int)


def test_from_spec_and_bad_spaces():
    assert len(from_spec({"list": [{"hw.a": 1}, {"hw.a": 2}]})) == 2
    assert len(from_spec({"random": {"n": 5, "params": {"hw.a": [1, 2]}}})) == 5
    with pytest.raises(ConfigError, match="hw.<key.path>"):
        Grid({"device.a": [1]})
    with pytest.raises(ConfigError, match="allowed: grid, list, random"):
        from_spec({"grd": {"hw.a": [1]}})
    with pytest.raises(ConfigError, match="non-empty list"):
        Grid({"hw.a": []})
    with pytest.raises(ConfigError, match="point 1 sets"):
        Points([{"hw.a": 1}, {"hw.b": 1}])


def test_as_sets_writes_yaml_scalars():
    assert as_sets({"hw.a": True, "workload.b": 8, "hw.c": "1 GHz", "hw.d": [1, 2]}) == \
        ["hw.a=true", "workload.b=8", "hw.c=1 GHz", "hw.d=[1, 2]"]


def test_pareto_matches_a_brute_force_dominance_check():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"t": rng.random(60), "e": rng.random(60), "feasible": rng.random(60) > 0.1})
    got = pareto(df, {"t": "max", "e": "min"})
    for i, r in df.iterrows():
        others = df[df["feasible"]]
        dominated = ((others["t"] >= r["t"]) & (others["e"] <= r["e"]) &
                     ((others["t"] > r["t"]) | (others["e"] < r["e"]))).any()
        assert got[i] == (bool(r["feasible"]) and not dominated)
    assert got.any()
