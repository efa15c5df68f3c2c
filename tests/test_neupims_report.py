"""The NeuPIMs report runs on a reduced case (GPT-3 7B, 128 requests, 2 layers, modelled link) and its figures obey
the physics: interleaving beats the naive schedule, which beats NPU-only; without interleaving nothing overlaps
PIM, so the blocked (naive, the artifact's Newton branch) and dual row buffers differ only in stage B, by Newton's
PIM rules (docs/pim.md); utilisations are fractions; the markdown is written.
(At 64 requests interleaving loses to the naive schedule, as the paper's ablation finds at small batch.)"""

import pytest

from simulator.studies import neupims

CASE = (("gpt3-7b", 128),)


@pytest.fixture(scope="module")
def table():
    return neupims.rows(CASE, sets=("workload.layers=2",), links=("modelled",))


def test_rows_complete(table):
    assert [(r["model"], r["batch"], r["link"]) for r in table] == [("gpt3-7b", 128, "modelled")]
    for name in neupims.SYSTEMS:
        fig = table[0][name]
        assert fig["tok_s"] > 0 and fig["mj"] > fig["dram_mj"] > 0
        assert 0 <= fig["gemm_util"] <= fig["compute_util"] <= 1 and 0 <= fig["pim_util"] <= 1


def test_throughput_ordering(table):
    r = table[0]
    assert r["neupims"]["tok_s"] >= r["naive"]["tok_s"] >= r["npu"]["tok_s"]
    assert r["neupims"]["tok_s"] >= r["dual"]["tok_s"]


def test_blocked_differs_from_dual_only_in_the_pim_stage(table):
    naive, dual = table[0]["naive"], table[0]["dual"]
    assert naive["normal_reads"] == dual["normal_reads"] == 0
    for stage in "AE":                                      # the NPU stages do not see the row buffers
        assert naive["stages"][stage] == pytest.approx(dual["stages"][stage], rel=1e-9)
    assert naive["stages"]["B"] > dual["stages"]["B"]       # rows released after each READRES, GWRITE evictions
    assert naive["tok_s"] < dual["tok_s"]
    assert table[0]["neupims"]["normal_reads"] > 0          # interleaving puts the NPU's streams under PIM work


def test_units_present(table):
    r = table[0]
    assert r["npu"]["pim_util"] == 0 and r["a100"]["pim_util"] == 0
    assert r["naive"]["pim_util"] > 0 and set(r["neupims"]["stages"]) == set("ABCDEF")
    assert set(r["naive"]["stages"]) == set("ABE")


def test_markdown_written(table, tmp_path):
    text = neupims.markdown(table)
    for label in neupims.LABELS.values():
        assert label in text
    out = tmp_path / "neupims.md"
    out.write_text(text)
    assert "| gpt3-7b | 128 |" in out.read_text()
