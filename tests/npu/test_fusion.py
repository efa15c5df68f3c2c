"""On-chip reuse across operators: the scratchpad allocator and the DRAM traffic fusion saves."""

import networkx as nx
import pytest

from simulator.lowering.ops import Op, Tensor, shape
from simulator.lowering.transformer import lower
from simulator.npu.fusion import allocate
from simulator.workload.spec import load_workload

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def layer(phase="decode", batch=64, prompt=256):
    sets = {"phase": phase, "batch": batch, **({"prompt_len": prompt} if phase != "decode" else {})}
    w = load_workload(ROOT / "workloads/llama2-7b.yaml", sets)
    return lower(w).layer


def _op(name, out_bytes):
    # inputs larger than any producer's output: each consumer reads its producers' outputs whole
    return Op(name, "add", shape(elements=out_bytes), 1.0, (Tensor("x", 100, "int8"),),
              (Tensor("y", out_bytes, "int8"),), dtype="int8")


def test_traffic_conservation_and_capacity():
    g = layer()
    r = allocate(g, 8 * 2**20, policy="first-fit")
    ts = r["tensors"]
    assert r["intermediate_bytes_unfused"] == pytest.approx(sum(t["bytes"] + sum(t["reads"]) for t in ts))
    assert r["intermediate_bytes"] + r["saved_bytes"] == pytest.approx(r["intermediate_bytes_unfused"])
    for t in ts:
        assert t["dram_bytes"] == (0 if t["on_chip"] else t["bytes"] + sum(t["reads"]))
        # a consumer reads at most the whole tensor, and at most its own activation inputs
        for c, r_c in zip(t["consumers"], t["reads"]):
            acts = sum(x.bytes for x in g.nodes[c]["op"].inputs if not x.resident)
            assert 0 < r_c <= t["bytes"] and (t["kind"] == "kv_write" or r_c <= acts)
    # at every step the tensors kept on chip fit the capacity, at disjoint offsets
    for step in range(len(g)):
        live = sorted((t["offset"], t["offset"] + t["bytes"]) for t in ts
                      if t["on_chip"] and t["first"] <= step <= t["last"])
        assert all(hi <= r["capacity_bytes"] for _, hi in live)
        assert all(a[1] <= b[0] for a, b in zip(live, live[1:]))
    kv = [t for t in ts if t["kind"] == "kv_write"]
    assert all(not t["on_chip"] for t in kv)


def test_decode_layer_fuses_qkv_rotary_attention_and_the_mlp():
    r = allocate(layer("decode", 64), 8 * 2**20)
    on = {t["producer"] for t in r["tensors"] if t["on_chip"]}
    assert {"qkv_proj", "rotary", "mlp.gate_up_proj", "mlp.act"} <= on
    assert r["saved_bytes"] > 0


def test_small_scratchpad_saves_less_and_nothing_fits_nothing_saved():
    g = layer("prefill", 1, 256)
    big, small = allocate(g, 64 * 2**20), allocate(g, 4 * 2**20)
    assert big["saved_bytes"] >= small["saved_bytes"]
    assert allocate(g, 1024)["saved_bytes"] == 0


def test_search_beats_first_fit_where_an_early_tensor_blocks_better_ones():
    b = nx.DiGraph()
    for name, size in [("a", 6), ("b", 5), ("c", 5), ("d", 1), ("e", 1)]:
        b.add_node(name, op=_op(name, size))
    # a lives to e (one consumer); b has two consumers (c, d); c feeds e
    b.add_edges_from([("a", "e"), ("b", "c"), ("b", "d"), ("c", "e"), ("a", "b")])
    ff, search = allocate(b, 10, policy="first-fit", reserve=0), allocate(b, 10, policy="search", reserve=0)
    assert search["saved_bytes"] > ff["saved_bytes"]
    with pytest.raises(ValueError, match="allowed"):
        allocate(b, 10, policy="best")
