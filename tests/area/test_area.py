"""Area: the CACTI points come back exactly, components scale with what they count, GPUs give their published
dies, and the run summary's total is the sum of its components over the devices."""

import numpy as np
import pytest

from simulator.area import AREA_MODELS, system_area, unit_area
from simulator.area.tables import MAC_MM2, PIM_LANE_MM2, SRAM_KB, SRAM_MM2, sram_mm2
from simulator.cli import ROOT
from simulator.hardware.system import load_system
from simulator.run import simulate


def test_sram_interpolation_hits_the_cacti_points_and_grows_with_size():
    for kb, mm2 in zip(SRAM_KB, SRAM_MM2):
        assert sram_mm2(kb * 1024) == pytest.approx(mm2, rel=1e-12)
    sizes = np.geomspace(1024, 64 << 20, 40)
    areas = [sram_mm2(s) for s in sizes]
    assert all(b > a for a, b in zip(areas, areas[1:]))
    assert sram_mm2(8 << 20, banks=8) == pytest.approx(8 * sram_mm2(1 << 20))   # 8 banks of 1 MiB


def test_sram_table_matches_the_reference_csv():
    path = ROOT / "../../shared/reference/energy/cacti_sram_reference.csv"
    if not path.exists():
        pytest.skip("shared reference data not present")
    rows = [r.split(",") for r in path.read_text().splitlines() if r.startswith("45,") and ",64," in r]
    for r in rows:
        h, w = (float(x) for x in r[8].split(" x "))
        assert sram_mm2(float(r[1]) * 1024) == pytest.approx(h * w, rel=1e-9)


def test_npu_area_scales_with_pes_lanes_and_dtype():
    sys = load_system(ROOT / "hwconfigs/npu-only.yaml")
    npu = sys.units["npu"]
    base = unit_area(npu, None)
    double = unit_area(npu.model_copy(update={"systolic": npu.systolic.model_copy(update={"arrays": 16})}), None)
    assert double["systolic"] == pytest.approx(2 * base["systolic"])
    assert double["sram"] == base["sram"] and double["vector"] == base["vector"]
    assert base["systolic"] == pytest.approx(npu.systolic.pes * npu.cores * MAC_MM2["fp16"])
    int8 = unit_area(npu.model_copy(update={"macs_per_pe": {"int8": 1.0}}), None)
    assert int8["systolic"] < base["systolic"]
    odd = unit_area(npu.model_copy(update={"macs_per_pe": {"fp16": 1.0, "int3": 1.0}}), None)
    assert odd["unestimated"] == ["mac.int3"] and odd["systolic"] == base["systolic"]


def test_pim_logic_is_lanes_times_units_and_gpus_are_their_published_dies():
    sys = load_system(ROOT / "hwconfigs/neupims.yaml")
    org = sys.memories["hbm"].organisation
    lanes = org.channels * org.pseudo_channels * org.banks * sys.units["pim"].macs_per_bank
    assert unit_area(sys.units["pim"], sys.memories["hbm"])["logic"] == pytest.approx(lanes * PIM_LANE_MM2)
    assert system_area(load_system(ROOT / "hwconfigs/h100.yaml"))["total"] == 814.0     # GH100
    assert system_area(load_system(ROOT / "hwconfigs/a100.yaml"))["total"] == 826.0     # GA100
    assert set(AREA_MODELS) >= {"npu", "pim", "gpu", "asic"}


def test_summary_area_is_the_sum_of_its_components_over_devices():
    run = simulate(ROOT / "hwconfigs/neupims.yaml", ROOT / "workloads/gpt3-7b-decode.yaml",
                   ["workload.requests=8", "workload.layers=1"], level="analytical")
    a = run.summary["area_mm2"]
    assert a["total"] == pytest.approx(sum(a["by_component"].values()))
    assert a["total"] == pytest.approx(sum(a["parts"].values()))
    assert a["per_device"] * run.system.devices == pytest.approx(a["total"])
    assert a["unestimated"] == []
