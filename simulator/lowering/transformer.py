"""Lower a transformer workload to an OpGraph of one device's shard of one step.

Tensor parallelism (Megatron style) splits heads, the MLP inner size and the vocabulary by `tp` and adds an
all-reduce after the attention output projection and after the MLP; pipeline parallelism splits layers into
`pp` stages with a send/recv of the activations between stages. Expert parallelism (MoE) holds experts
ep_rank, ep_rank + ep, ... on this device and moves the routed tokens with an all-to-all before and after the
experts (`Shard`). The op constructors (and their FLOP counts) are in `builders.py`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
import numpy as np

from simulator.lowering import builders as mk
from simulator.lowering.graph import GraphBuilder, OpGraph
from simulator.lowering.ops import DTYPE_BYTES, Op, Tensor, shape
from simulator.lowering.profiles import PROFILES, Profile
from simulator.workload.spec import Workload


@dataclass(frozen=True)
class Shard:
    """Which expert-parallel rank this device is and the tokens of each replica of its expert group (default: one
    replica, this workload's tokens)."""

    ep: int = 1
    ep_rank: int = 0
    group_tokens: tuple[int, ...] | None = None


class Lowering:
    """Builds the prologue, the shared layer graph and the epilogue for one workload."""

    def __init__(self, workload: Workload, shard: Shard = Shard()):
        self.w = workload
        self.shard = shard
        self.m = workload.model
        s = workload.spec
        self.profile: Profile = PROFILES[s.implementation]
        self.tp = s.tp
        self.act, self.wdt, self.kvdt = s.dtype.activations, s.dtype.weights, s.dtype.kv
        self.cdt, self.group = s.dtype.compute, s.dtype.quantisation.group_size
        self.heads = self.m.heads // self.tp
        self.kv_heads = max(1, self.m.n_kv_heads // self.tp)
        self.d = self.m.d_head
        self.ffn = math.ceil(self.m.ffn / self.tp)
        self.vocab = math.ceil(self.m.vocab / self.tp)
        self.tokens = workload.new_tokens
        self.multi_token = s.phase != "decode"         # some sequence brings more than one new token

    # Helpers ---------------------------------------------------------------------------------------------
    def linear(self, b: GraphBuilder, name: str, m: int, n: int, k: int, after, bias: bool | None = None) -> str:
        bias = self.m.bias if bias is None else bias
        compute = self.cdt or mk.compute_dtype(self.wdt, self.act)
        if self.wdt in self.profile.dequant_weights and DTYPE_BYTES[self.wdt] < DTYPE_BYTES[compute]:
            for op in mk.eager_dequant_gemm(name, m, n, k, weights=self.wdt, act=self.act, compute=compute, bias=bias):
                after = b.add(op, after)
            return after
        return b.add(mk.gemm(name, m, n, k, weights=self.wdt, act=self.act, bias=bias, compute=self.cdt,
                             group_size=self.group, legacy_mma=compute in self.profile.legacy_mma), after)

    def vector(self, b: GraphBuilder, name: str, kind: str, elements: int, after, rows: int = 0, **kw) -> str:
        """An elementwise op; `rows` (tokens) decides which of its kernels take the generic path."""
        strided = self.profile.strided_kernels(kind, rows, self.multi_token) if rows else 0
        return b.add(mk.vector(name, kind, elements, act=self.act, profile=self.profile, strided=strided, **kw),
                     after)

    def collective(self, b: GraphBuilder, name: str, kind: str, nbytes: float, devices: int, after) -> str:
        return b.add(mk.collective(name, kind, nbytes, devices, act=self.act), after)

    def norm(self, b: GraphBuilder, name: str, rows: int, after) -> str:
        op = mk.norm(name, self.m.norm, rows, self.m.hidden, act=self.act, weights=self.wdt, profile=self.profile)
        return b.add(op, after)

    # Blocks ----------------------------------------------------------------------------------------------
    def prologue(self) -> GraphBuilder:
        b = GraphBuilder()
        t, h = self.tokens, self.m.hidden
        op = Op("embedding", "embedding", shape(tokens=t, hidden=h), 0.0,
                (Tensor("ids", t, "int8"), Tensor("rows", t * h, self.wdt, resident=True)),
                (Tensor("x", t * h, self.act),), dtype=self.act)
        last = b.add(op)
        if self.m.position == "learned":
            last = self.vector(b, "position_add", "add", t * h, last, weight=t * h, weight_dtype=self.wdt)
        return b

    def layer(self, requests: np.ndarray | None = None) -> GraphBuilder:
        """One decoder layer for the whole batch, or (decode) for the requests with the given indices."""
        b = GraphBuilder()
        m, h = self.m, self.m.hidden
        t = self.tokens if requests is None else len(requests)
        qkv_n = (self.heads + 2 * self.kv_heads) * self.d
        x = self.norm(b, "attn_norm", t, None)
        x = self.linear(b, "qkv_proj", t, qkv_n, h, x)
        if m.position == "rotary":
            if self.profile.rotary_per_tensor:
                x = [self.vector(b, f"rotary_{p}", "rotary", t * n * self.d, x, rows=t)
                     for p, n in (("q", self.heads), ("k", self.kv_heads))]
            else:
                x = self.vector(b, "rotary", "rotary", t * (self.heads + self.kv_heads) * self.d, x)
        kv_new = 2 * t * self.kv_heads * self.d
        kv = b.add(Op("kv_write", "kv_write", shape(elements=kv_new), 0.0, (Tensor("kv", kv_new, self.act),),
                      (Tensor("cache", kv_new, self.kvdt, resident=True),), dtype=self.kvdt,
                      kernels=self.profile.kv_copy_kernels,
                      strided=self.profile.strided_kernels("kv_write", t, self.multi_token)), x)
        attn = self.attention(b, [kv] + ([x] if isinstance(x, str) else list(x)), requests)
        if self.profile.output_copy:
            attn = self.vector(b, "attn_out_copy", "copy", t * self.heads * self.d, attn, rows=t)
        x = self.linear(b, "o_proj", t, h, self.heads * self.d, attn)
        if self.tp > 1:
            x = self.collective(b, "attn_all_reduce", "all_reduce", t * h * DTYPE_BYTES[self.act], self.tp, x)
        x = self.vector(b, "attn_residual", "add", t * h, x)
        x = self.norm(b, "mlp_norm", t, x)
        x = self.moe(b, x, t) if m.moe else self.mlp(b, x, t, "mlp")
        if self.tp > 1:
            x = self.collective(b, "mlp_all_reduce", "all_reduce", t * h * DTYPE_BYTES[self.act], self.tp, x)
        self.vector(b, "mlp_residual", "add", t * h, x)
        return b

    def mlp(self, b: GraphBuilder, x: str, t: int, prefix: str) -> str:
        h, f = self.m.hidden, self.ffn
        if self.m.gated_mlp:
            x = self.linear(b, f"{prefix}.gate_up_proj", t, 2 * f, h, x)
            x = self.vector(b, f"{prefix}.act", "silu_mul", t * f, x, rows=t)
        else:
            x = self.linear(b, f"{prefix}.up_proj", t, f, h, x)
            x = self.vector(b, f"{prefix}.act", self.m.activation if self.m.activation != "silu" else "gelu", t * f, x)
        return self.linear(b, f"{prefix}.down_proj", t, h, f, x)

    def moe(self, b: GraphBuilder, x: str, t: int) -> str:
        """Router, then this device's experts with the tokens routed to them (`expert_loads` over the expert
        group's tokens; with ep > 1 an all-to-all dispatches this replica's t k token copies and another
        combines them)."""
        e, k, sh = self.m.moe.experts, self.m.moe.top_k, self.shard
        r = self.linear(b, "router", t, e, self.m.hidden, x, bias=False)
        r = self.vector(b, "router_topk", "moe_router", t * e, r)
        group = sum(sh.group_tokens) if sh.group_tokens and t == self.tokens else t
        loads = expert_loads(group, e, k, self.w.spec.parallel.expert_skew)
        routed = t * k * self.m.hidden * DTYPE_BYTES[self.act]
        if sh.ep > 1:
            r = self.collective(b, "moe_dispatch", "all_to_all", routed, sh.ep, r)
        outs = [self.mlp(b, r, int(n), f"expert{i}") for i, n in enumerate(loads) if i % sh.ep == sh.ep_rank and n]
        if sh.ep > 1:
            outs = self.collective(b, "moe_combine", "all_to_all", routed, sh.ep, outs)
        return self.vector(b, "expert_combine", "add", t * self.m.hidden, outs, extra_in=(k - 1) * t * self.m.hidden)

    def attention(self, b: GraphBuilder, after: list[str], requests: np.ndarray | None = None) -> str | list[str]:
        s = self.w.spec
        ids = np.arange(len(self.w.kv_lens)) if requests is None else np.asarray(requests, dtype=np.int64)
        kv = np.asarray(self.w.kv_lens, dtype=np.int64)[ids]
        if s.phase == "prefill":    # prompts of one length share an op (a trace may give several lengths)
            lengths = np.unique(kv)
            groups = [("attention" if len(lengths) == 1 else f"attention.len{n}", kv[kv == n], int(n), True)
                      for n in lengths.tolist()]
        elif s.phase == "mixed":
            groups = [("attention", kv, 1, False),
                      ("attention_chunk", np.array([s.prompt_len + s.chunk_len]), s.chunk_len, True)]
        else:
            groups = [("attention", kv, 1, False)]
        outs: list[str] = []
        for name, lens, q, causal in groups:
            if self.profile.attention == "fused":
                outs.append(self.fused_attention(b, name, lens, q, causal, after))
            else:
                outs.extend(self.per_request_attention(b, name, lens, q, causal, after,
                                                       ids if len(lens) == len(ids) else np.arange(len(lens))))
        return outs if len(outs) > 1 else outs[0]

    def fused_attention(self, b: GraphBuilder, name: str, kv: np.ndarray, q: int, causal: bool, after) -> str:
        op = mk.attention(name, kv, q, causal, heads=self.heads, kv_heads=self.kv_heads, head_dim=self.d,
                          act=self.act, kv=self.kvdt)
        return b.add(op, after)

    def per_request_attention(self, b: GraphBuilder, name: str, kv: np.ndarray, q: int, causal: bool,
                              after, ids: np.ndarray) -> list[str]:
        outs = []
        for i, length in zip(ids.tolist(), kv.tolist()):
            qk, sm, sv = mk.attention_request(name, i, length, q, causal, heads=self.heads, kv_heads=self.kv_heads,
                                              head_dim=self.d, act=self.act, kv=self.kvdt)
            outs.append(b.add(sv, b.add(sm, b.add(qk, after))))
        return outs

    def interleaved(self) -> nx.DiGraph:
        """NeuPIMs sub-batch interleaving over min(2, layers) layers: each layer twice, once per sub-batch (nodes
        `L<l>.sb<s>/<op>`), sub-batch s of layer l feeding sub-batch s of layer l + 1. Each layer of a sub-batch
        has a pre part (up to and with its attention) and a post part (projection, FFN). The GEMM unit prefers the
        artifact's order, pre(0,0) pre(0,1) post(0,0) pre(1,0) post(0,1) pre(1,1) post(1,0) post(1,1), so that
        one sub-batch's attention (PIM) overlaps the other's GEMMs: queue priorities (node attribute `priority`,
        that position) choose among ready work, and a unit never idles while work is ready (it fills a half's
        all-reduce with the other half's GEMMs, as the paper overlaps communication); order edges keep the
        attention parts in sequence on PIM, through a join node per pair of parts (attribute `barrier`, no op:
        the executor passes through it when all its predecessors are done)."""
        halves = sub_batches(self.w.kv_lens, self.w.channels)
        full = nx.DiGraph()
        parts: list[tuple[list[str], list[str]]] = []      # (attention sources, attention sinks) in order
        for layer in range(min(2, self.w.layers)):
            for sb, requests in enumerate(halves):
                g = self.layer(requests).graph
                scope = f"L{layer}.sb{sb}/"
                full.update(nx.relabel_nodes(g, {n: scope + n for n in g.nodes}, copy=True))
                if layer:
                    prev = f"L{layer - 1}.sb{sb}/"
                    full.add_edges_from((prev + t, scope + h) for t in _sinks(g) for h in _sources(g))
                att = {n for n, d in g.nodes(data=True) if d["op"].request is not None}
                post = {q for n in att for q in g.successors(n)} - att
                later = post.union(*(nx.descendants(g, n) for n in post))
                for n in g.nodes:
                    full.nodes[scope + n]["priority"] = _npu_order(len(parts), 2 * min(2, self.w.layers), n in later)
                first = [scope + n for n in att if not set(g.predecessors(n)) & att]
                final = [scope + n for n in att if not set(g.successors(n)) & att]
                parts.append((first, final))
        for k, ((_, att_end), (att_start, _)) in enumerate(zip(parts, parts[1:])):
            gate = f"order{k}"          # attention parts in order: a join node, O(N) edges instead of N^2
            full.add_node(gate, barrier=True)
            full.add_edges_from((t, gate) for t in att_end)
            full.add_edges_from((gate, h) for h in att_start)
        return full

    def epilogue(self) -> GraphBuilder:
        b = GraphBuilder()
        rows = self.w.generated_tokens
        x = self.norm(b, "final_norm", rows, None)
        x = self.linear(b, "lm_head", rows, self.vocab, self.m.hidden, x, bias=False)
        if self.tp > 1:
            x = self.collective(b, "logits_all_gather", "all_gather", rows * self.m.vocab * DTYPE_BYTES[self.act],
                                self.tp, x)
        if self.profile.sampling:
            self.vector(b, "sampling", "sampling", rows * self.m.vocab, x)
        return b


def expert_loads(tokens: int, experts: int, top_k: int, skew: float = 0.0) -> np.ndarray:
    """Token copies routed to each expert; they sum to tokens x top_k and none exceeds `tokens`. Uniform routing
    (skew 0) activates E (1 - (1 - k/E)^T) experts, the expectation, rounded up, sharing the copies evenly; skew s
    gives expert i a share ~ (i + 1)^-s (largest remainder, capped at one copy per token)."""
    total = tokens * top_k
    if skew == 0:
        active = min(experts, math.ceil(experts * (1 - (1 - top_k / experts) ** tokens) - 1e-9))
        q, r = divmod(total, active)
        return np.array([q + 1] * r + [q] * (active - r) + [0] * (experts - active), dtype=np.int64)
    weights = (np.arange(experts) + 1.0) ** -skew
    loads = np.zeros(experts, dtype=np.int64)
    free = np.ones(experts, dtype=bool)
    while total - loads.sum() > 0:
        left = total - loads.sum()
        share = left * weights * free / (weights * free).sum()
        add = np.floor(share).astype(np.int64)
        order = np.argsort(-(share - add) + 2.0 * ~free, kind="stable")
        add[order[: left - add.sum()]] += 1
        loads = np.minimum(loads + add, tokens)
        free = loads < tokens
    return loads


def sub_batches(kv_lens: np.ndarray, channels: np.ndarray | None) -> list[np.ndarray]:
    """Two sub-batches of request indices: per KV channel (the trace's; else one channel), the first half of its
    requests in trace order (rounded up) and the rest."""
    n = len(kv_lens)
    ch = np.zeros(n, dtype=np.int64) if channels is None else np.asarray(channels, dtype=np.int64)
    first = np.zeros(n, dtype=bool)
    for c in np.unique(ch):
        idx = np.flatnonzero(ch == c)
        first[idx[: (len(idx) + 1) // 2]] = True
    return [np.flatnonzero(first), np.flatnonzero(~first)]


def _npu_order(part: int, parts: int, post: bool) -> int:
    """Position of a part in the artifact's NPU order pre(0) pre(1) post(0) pre(2) post(1) ... post(n-1): pre(i)
    at max(0, 2i - 1), post(i) right after pre(i + 1), the last post last."""
    if not post:
        return max(0, 2 * part - 1)
    return 2 * part + 2 if part < parts - 1 else 2 * part + 1


def _sources(g: nx.DiGraph) -> list[str]:
    return [n for n, d in g.in_degree() if d == 0]


def _sinks(g: nx.DiGraph) -> list[str]:
    return [n for n, d in g.out_degree() if d == 0]


def lower(workload: Workload, shard: Shard = Shard(), lowering: type[Lowering] = Lowering) -> OpGraph:
    """The OpGraph of one step of `workload` on one device shard (tensor-parallel rank 0, expert rank of `shard`);
    `lowering` may be a subclass that lowers another step (a serving iteration's attention groups)."""
    low = lowering(workload, shard)
    layers = workload.layers
    pp = workload.spec.pp
    stages = [layers // pp + (1 if i < layers % pp else 0) for i in range(pp)]
    handoff = None
    if pp > 1:
        nbytes = workload.new_tokens * workload.model.hidden * DTYPE_BYTES[low.act]
        handoff = mk.collective("pp_send_recv", "send_recv", nbytes, 2, act=low.act)
    interleaved = low.interleaved() if workload.spec.schedule.sub_batch_interleaving else None
    whole = workload.spec.scope == "model"
    prologue = low.prologue().graph if whole else nx.DiGraph()
    epilogue = low.epilogue().graph if whole else nx.DiGraph()
    return OpGraph(prologue, low.layer().graph, epilogue, layers, stages, handoff, interleaved)
