"""The NPU architecture report runs on reduced cases and its figures obey the physics it states."""

import pytest

from simulator.studies import npu_architecture as study


@pytest.fixture(scope="module")
def parts():
    att = study.attention_rows((1024, 4096))
    lut = study.lut_rows((("decode", 1),), ("int1", "int4"))
    maps = study.mapping_rows((("llama2-7b", "decode", 16, 512),))
    fus = study.fusion_rows((("decode", 64, 512),))
    runs = study.fusion_run_rows((("decode", 64, 512),), ("off", "search"), layers=2)
    return att, lut, maps, fus, runs


def test_attention_rows(parts):
    att = parts[0]
    for r in att:
        assert r["fusemax"]["s"] < r["flat"]["s"]
        assert r["fusemax"]["layer_s"] > r["fusemax"]["s"]
        assert 0 < r["fusemax"]["util"]["array"] <= 1
    assert att[1]["fusemax"]["util"]["array"] >= att[0]["fusemax"]["util"]["array"]


def test_lut_rows_and_mapping_rows(parts):
    _, lut, maps, _, _ = parts
    one, four = lut
    assert one["lut"]["wbytes"] * 4 == pytest.approx(four["lut"]["wbytes"])
    assert one["lut"]["arrays"] > one["mac"]["arrays"]          # iso-area: LUT PEs are smaller
    for r in maps:
        assert r["result"].best_metrics["cycles"] <= r["result"].default_metrics["cycles"] * (1 + 1e-9)


def test_fusion_run_rows(parts):
    off, on = parts[4]
    assert on["kept"] > 0 and off["kept"] == 0 == off["saved_bytes"]
    assert off["dram_bytes"] - on["dram_bytes"] == pytest.approx(on["saved_bytes"], abs=1)
    assert on["latency_s"] <= off["latency_s"] and on["energy_j"] < off["energy_j"]


def test_markdown(parts, tmp_path):
    text = study.markdown(*parts)
    assert "FuseMax" in text and "6.7x" in text and "LUT" in text and "Area" in text
    assert "Applied in runs" in text
