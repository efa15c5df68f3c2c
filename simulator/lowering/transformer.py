"""Lower a transformer workload to an OpGraph of one device's shard of one step.

Tensor parallelism (Megatron style) splits heads, the MLP inner size and the vocabulary by `tp` and adds an
all-reduce after the attention output projection and after the MLP; pipeline parallelism splits layers into
`pp` stages with a send/recv of the activations between stages. The op constructors (and their FLOP counts)
are in `builders.py`.
"""

from __future__ import annotations

import math

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

    def layer(self) -> GraphBuilder:
        b = GraphBuilder()
        m, t, h = self.m, self.tokens, self.m.hidden
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
        attn = self.attention(b, [kv] + ([x] if isinstance(x, str) else list(x)))
        if self.profile.output_copy:
            attn = self.vector(b, "attn_out_copy", "copy", t * self.heads * self.d, attn)
        x = self.linear(b, "o_proj", t, h, self.heads * self.d, attn)
        if self.tp > 1:
            x = self.collective(b, "attn_all_reduce", "all_reduce", t * h * DTYPE_BYTES[self.act], self.tp, x)
        x = self.vector(b, "attn_residual", "add", t * h, x)
        x = self.norm(b, "mlp_norm", t, x)
        x = self.moe(b, x) if m.moe else self.mlp(b, x, t, "mlp")
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

    def moe(self, b: GraphBuilder, x: str) -> str:
        """Router, then the experts the batch activates: E (1 - (1 - k/E)^T) of them in expectation, each
        with an equal share of the T k routed tokens (uniform routing)."""
        e, k, t = self.m.moe.experts, self.m.moe.top_k, self.tokens
        r = self.linear(b, "router", t, e, self.m.hidden, x, bias=False)
        r = self.vector(b, "router_topk", "moe_router", t * e, r)
        active = min(e, math.ceil(e * (1 - (1 - k / e) ** t) - 1e-9))
        per_expert = math.ceil(t * k / active)
        outs = [self.mlp(b, r, per_expert, f"expert{i}") for i in range(active)]
        return self.vector(b, "expert_combine", "add", t * self.m.hidden, outs, extra_in=(k - 1) * t * self.m.hidden)

    def attention(self, b: GraphBuilder, after: list[str]) -> str | list[str]:
        s = self.w.spec
        kv = np.asarray(self.w.kv_lens, dtype=np.int64)
        if s.phase == "prefill":
            groups = [("attention", kv, s.prompt_len, True)]
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
                outs.extend(self.per_request_attention(b, name, lens, q, causal, after))
        return outs if len(outs) > 1 else outs[0]

    def fused_attention(self, b: GraphBuilder, name: str, kv: np.ndarray, q: int, causal: bool, after) -> str:
        op = mk.attention(name, kv, q, causal, heads=self.heads, kv_heads=self.kv_heads, head_dim=self.d,
                          act=self.act, kv=self.kvdt)
        return b.add(op, after)

    def per_request_attention(self, b: GraphBuilder, name: str, kv: np.ndarray, q: int, causal: bool,
                              after) -> list[str]:
        outs = []
        for i, length in enumerate(kv.tolist()):
            qk, sm, sv = mk.attention_request(name, i, length, q, causal, heads=self.heads, kv_heads=self.kv_heads,
                                              head_dim=self.d, act=self.act, kv=self.kvdt)
            outs.append(b.add(sv, b.add(sm, b.add(qk, after))))
        return outs

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
    return OpGraph(low.prologue().graph, low.layer().graph, low.epilogue().graph, layers, stages, handoff)
