"""Lower a transformer workload to an OpGraph of one device's shard of one step.

Tensor parallelism (Megatron style) splits heads, the MLP inner size and the vocabulary by `tp` and adds an
all-reduce after the attention output projection and after the MLP; pipeline parallelism splits layers into
`pp` stages with a send/recv of the activations between stages. The op constructors (and their FLOP counts)
are in `builders.py`.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np

from simulator.lowering import builders as mk
from simulator.lowering.graph import GraphBuilder, OpGraph
from simulator.lowering.ops import DTYPE_BYTES, Op, Tensor, shape
from simulator.lowering.profiles import PROFILES, Profile
from simulator.workload.spec import Workload


class Lowering:
    """Builds the prologue, the shared layer graph and the epilogue for one workload."""

    def __init__(self, workload: Workload):
        self.w = workload
        self.m = workload.model
        s = workload.spec
        self.profile: Profile = PROFILES[s.implementation]
        self.tp = s.tp
        self.act, self.wdt, self.kvdt = s.dtype.activations, s.dtype.weights, s.dtype.kv
        self.heads = self.m.heads // self.tp
        self.kv_heads = max(1, self.m.n_kv_heads // self.tp)
        self.d = self.m.d_head
        self.ffn = math.ceil(self.m.ffn / self.tp)
        self.vocab = math.ceil(self.m.vocab / self.tp)
        self.tokens = workload.new_tokens

    # Helpers ---------------------------------------------------------------------------------------------
    def linear(self, b: GraphBuilder, name: str, m: int, n: int, k: int, after, bias: bool | None = None) -> str:
        bias = self.m.bias if bias is None else bias
        return b.add(mk.gemm(name, m, n, k, weights=self.wdt, act=self.act, bias=bias), after)

    def vector(self, b: GraphBuilder, name: str, kind: str, elements: int, after, **kw) -> str:
        return b.add(mk.vector(name, kind, elements, act=self.act, profile=self.profile, **kw), after)

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
                x = [self.vector(b, f"rotary_{p}", "rotary", t * n * self.d, x)
                     for p, n in (("q", self.heads), ("k", self.kv_heads))]
            else:
                x = self.vector(b, "rotary", "rotary", t * (self.heads + self.kv_heads) * self.d, x)
        kv_new = 2 * t * self.kv_heads * self.d
        kv = b.add(Op("kv_write", "kv_write", shape(elements=kv_new), 0.0, (Tensor("kv", kv_new, self.act),),
                      (Tensor("cache", kv_new, self.kvdt, resident=True),), dtype=self.kvdt,
                      kernels=self.profile.kv_copy_kernels), x)
        attn = self.attention(b, [kv] + ([x] if isinstance(x, str) else list(x)), requests)
        if self.profile.output_copy:
            attn = self.vector(b, "attn_out_copy", "copy", t * self.heads * self.d, attn)
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
            x = self.vector(b, f"{prefix}.act", "silu_mul", t * f, x)
        else:
            x = self.linear(b, f"{prefix}.up_proj", t, f, h, x)
            x = self.vector(b, f"{prefix}.act", self.m.activation if self.m.activation != "silu" else "gelu", t * f, x)
        return self.linear(b, f"{prefix}.down_proj", t, h, f, x)

    def moe(self, b: GraphBuilder, x: str, t: int) -> str:
        """Router, then the experts the batch activates: E (1 - (1 - k/E)^T) of them in expectation, each
        with an equal share of the T k routed tokens (uniform routing)."""
        e, k = self.m.moe.experts, self.m.moe.top_k
        r = self.linear(b, "router", t, e, self.m.hidden, x, bias=False)
        r = self.vector(b, "router_topk", "moe_router", t * e, r)
        active = min(e, math.ceil(e * (1 - (1 - k / e) ** t) - 1e-9))
        per_expert = math.ceil(t * k / active)
        outs = [self.mlp(b, r, per_expert, f"expert{i}") for i in range(active)]
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
        attention parts in sequence on PIM."""
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
        for (_, att_end), (att_start, _) in zip(parts, parts[1:]):
            full.add_edges_from((t, h) for t in att_end for h in att_start)    # attention parts in order
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


def lower(workload: Workload) -> OpGraph:
    """The OpGraph of one step of `workload` on one device shard (tensor-parallel rank 0)."""
    low = Lowering(workload)
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
