"""The sub-batch interleaving block orders its attention parts with O(N) edges (a join node per pair of parts),
and the join keeps the order: every attention op of a part is downstream of every attention op of the part
before it."""

import networkx as nx

from simulator.cli import ROOT
from simulator.config.loader import parse_set
from simulator.lowering.transformer import lower
from simulator.workload.spec import load_workload


def _block(n: int) -> nx.DiGraph:
    sets = [f"workload.requests={n}", "workload.layers=2", "workload.schedule.sub_batch_interleaving=true"]
    return lower(load_workload(ROOT / "workloads/gpt3-7b-decode.yaml", parse_set(sets)["workload"])).interleaved


def test_order_edges_grow_linearly_with_the_batch():
    small, big = _block(128), _block(512)
    assert big.number_of_edges() / small.number_of_edges() < 4.4       # 4x the requests: about 4x the edges
    assert big.number_of_edges() < 8 * big.number_of_nodes()


def test_every_attention_part_waits_for_the_whole_part_before_it():
    g = _block(64)
    gates = sorted(n for n, d in g.nodes(data=True) if d.get("barrier"))
    assert gates == ["order0", "order1", "order2"]
    for gate in gates:
        before = {p for p in g.predecessors(gate)}
        after = {s for s in g.successors(gate)}
        assert before and after and all(g.nodes[n]["op"].request is not None for n in before | after)
        assert all(g.nodes[n]["op"].kind == "attention_sv" for n in before)
        assert all(g.nodes[n]["op"].kind == "attention_qk" for n in after)
        assert len({n.split("/")[0] for n in after}) == 1 and len({n.split("/")[0] for n in before}) == 1
    assert nx.is_directed_acyclic_graph(g)
