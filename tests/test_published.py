"""The published-results report (`python -m simulator.studies.published`): every figure traced to a source, the
committed report in step with the figure list, errors beyond the limit explained, and a cheap subset recomputed."""

from pathlib import Path

import numpy as np
import pytest

from simulator.studies import published as pub

REPORT = Path(__file__).resolve().parents[1] / "reports" / "published.md"


def _rows() -> list[list[str]]:
    lines = [line for line in REPORT.read_text().splitlines() if line.startswith("| ")]
    detail = lines[lines.index(next(x for x in lines if x.startswith("| source | figure |"))) + 1:]
    return [[c.strip() for c in line.strip("|").split("|")] for line in detail]


def test_every_figure_has_a_source_and_a_metric():
    assert {f.source for f in pub.FIGURES} <= set(pub.SOURCES)
    for f in pub.FIGURES:
        assert f.published > 0 and f.unit in {"tokens/s", "ms", "x"}
        assert f.study is not None or (pub.REPO / f.hw).exists(), f.what


def test_committed_report_matches_the_figures_and_the_acceptance():
    rows = _rows()
    assert [(r[0], r[1]) for r in rows] == [(f.source, f.what) for f in pub.FIGURES]
    errs = np.array([float(r[5]) for r in rows])
    assert np.isfinite(errs).all()
    assert np.median(np.abs(errs)) <= 10.0
    assert all(r[6] for r, e in zip(rows, errs) if abs(e) > pub.LIMIT_PCT)
    assert f"{len(rows)} figures: median |error| {np.median(np.abs(errs)):.1f} %" in REPORT.read_text()


CHEAP = [f for f in pub.FIGURES if f.kernel is not None or f.gemm is not None] + \
        [f for f in pub.FIGURES if f.source == "lmdeploy" and f.request == (1, 128) and "batch 1," in f.what]


@pytest.mark.parametrize("fig", CHEAP, ids=lambda f: f"{f.source}: {f.what}")
def test_cheap_subset_reproduces_the_committed_report(fig):
    committed = {(r[0], r[1]): float(r[4]) for r in _rows()}[(fig.source, fig.what)]
    ours = pub.estimate(fig)
    assert ours == pytest.approx(committed, rel=5e-3, abs=5e-3)


def test_cheap_subset_median_within_ten_percent():
    errs = [abs(pub.estimate(f) - f.published) / f.published for f in CHEAP]
    assert np.median(errs) <= 0.10


def test_request_time_is_prefill_plus_growing_decode_steps():
    hw, wl = pub.REPO / "hwconfigs/a100.yaml", pub.REPO / "workloads/llama2-7b.yaml"
    sets = list(pub.LMDEPLOY)
    one = pub.request_time(hw, wl, sets, 128, 1)
    two = pub.request_time(hw, wl, sets, 128, 2)
    long = pub.request_time(hw, wl, sets, 128, 64)
    assert 0 < one < two < long
    assert long - one == pytest.approx(63 * (two - one), rel=0.05)   # decode steps barely grow over 64 tokens
