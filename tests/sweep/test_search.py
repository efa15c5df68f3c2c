"""Search finds the known best points of a small space whose grid is enumerated here; constraints hold;
one-at-a-time sensitivity brackets its base point."""

import pytest

from simulator.sweep import search, sensitivity, sweep, tornado
from tests.sweep.conftest import H100, LLAMA

pytest.importorskip("optuna")

SPACE = {"workload.batch": [1, 4, 16, 64], "hw.device.units.gpu.sms": [33, 66, 132],
         "hw.device.memories.hbm.efficiency": [0.6, 0.9]}
KW = dict(sets=["workload.context_len=1024"], level="analytical", executor="serial")
OBJ = {"throughput_tokens_per_s": "max", "area_mm2.total": "min"}


def _key(row):
    return tuple(row[k] for k in SPACE)


def test_search_finds_the_grids_pareto_front():
    grid = sweep(SPACE, H100, LLAMA, objectives=OBJ, progress=False, **KW)
    front = {_key(r) for _, r in grid[grid["pareto"]].iterrows()}
    best = _key(grid.loc[grid["throughput_tokens_per_s"].idxmax()])
    found = search(SPACE, H100, LLAMA, OBJ, trials=40, seed=0, population=8, **KW)
    found_front = {_key(r) for _, r in found[found["pareto"]].iterrows()}
    assert best in found_front
    assert found_front <= front                     # nothing off the true front is reported as on it
    assert len(found_front) >= len(front) // 2
    again = search(SPACE, H100, LLAMA, OBJ, trials=40, seed=0, population=8, **KW)
    assert list(map(_key, again.to_dict("records"))) == list(map(_key, found.to_dict("records")))


def test_constraints_exclude_points_past_their_bounds():
    grid = sweep(SPACE, H100, LLAMA, progress=False, **KW)
    limit = 500.0
    ok = grid[grid["feasible"] & (grid["area_mm2.total"] <= limit)]
    found = search(SPACE, H100, LLAMA, {"throughput_tokens_per_s": "max"}, trials=30, seed=2, population=6,
                   constraints={"area_mm2.total": limit}, **KW)
    assert (found.loc[found["pareto"], "area_mm2.total"] <= limit).all()
    assert found.loc[found["pareto"], "throughput_tokens_per_s"].max() == ok["throughput_tokens_per_s"].max()
    assert (~found["constraints_ok"] & found["feasible"]).any()        # it did try points past the bound


def test_sensitivity_brackets_the_base_point():
    base = {"workload.batch": 4, "hw.device.units.gpu.sms": 66}
    df = sensitivity(base, {"workload.batch": [1, 16], "hw.device.units.gpu.sms": [33, 132]}, H100, LLAMA,
                     "throughput_tokens_per_s", progress=False, **KW)
    assert set(df["key"]) == {"workload.batch", "hw.device.units.gpu.sms"}
    assert (df["span"] >= 0).all() and (df["span"].diff().dropna() <= 0).all()
    assert df.loc[df["key"] == "workload.batch", "at_high"].item() == 16   # decode throughput grows with batch
    ax = tornado(df, "tokens/s")
    assert len(ax.patches) == 2
