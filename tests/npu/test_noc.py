"""Mesh and crossbar NoC against the BookSim2 reference configuration (../shared/reference/interconnect)."""

from pathlib import Path

import pytest

from simulator.config.loader import load
from simulator.config.spec import validate
from simulator.npu.noc import average_hops, run_noc, transfer_cycles, zero_load_latency
from simulator.npu.noc_spec import NocSpec

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mesh() -> NocSpec:
    doc = load(ROOT / "hwconfigs/noc/booksim-mesh8x8.yaml")
    return validate(NocSpec, doc.data, file=str(doc.path))


def test_zero_load_closed_form(mesh):
    assert average_hops(mesh) == pytest.approx(6.25)
    assert zero_load_latency(mesh, hops=1) == 7            # published minimum latency
    assert zero_load_latency(mesh) == pytest.approx(33.4, rel=0.03)


def test_simulated_zero_load_matches_booksim(mesh):
    out = run_noc(mesh, "uniform", 0.01)
    assert out["avg_packet_latency_cycles"] == pytest.approx(33.4, rel=0.03)
    assert out["avg_hops"] == pytest.approx(6.25, rel=0.03)
    assert out["accepted_flits_per_node_cycle"] == pytest.approx(0.01, rel=0.1)
    assert not out["saturated"]


def test_latency_rises_with_load(mesh):
    lat = [run_noc(mesh, "uniform", r, warmup=1000, measure=2000)["avg_packet_latency_cycles"]
           for r in (0.05, 0.25, 0.45)]
    assert lat[0] < lat[1] < lat[2]


def test_crossbar_one_hop():
    xbar = NocSpec(topology="crossbar", k=4)
    out = run_noc(xbar, "uniform", 0.1, warmup=500, measure=2000)
    assert out["avg_hops"] == 1
    assert out["avg_packet_latency_cycles"] >= zero_load_latency(xbar)
    assert transfer_cycles(xbar, 1024) == zero_load_latency(xbar) + 1024 / 16 - 1


def test_load_noc_spec_from_noc_and_system_files(mesh):
    from simulator.npu.noc_spec import load_noc_spec
    assert load_noc_spec(ROOT / "hwconfigs/noc/booksim-mesh8x8.yaml") == mesh
    with pytest.raises(Exception, match="no network"):
        load_noc_spec(ROOT / "hwconfigs/npu/scalesim-os-128.yaml")


def test_bad_traffic_is_a_user_error(mesh):
    from simulator.errors import UserError
    with pytest.raises(UserError, match="traffic"):
        run_noc(mesh, "zigzag", 0.1)
