"""The GPU's transaction-level model: one call per op, each op a short list of modelled kernels.

Dims contract (what `Op.dims` must hold per kind; names as the lowering emits them):

    gemm                      M, N, K            x[M,K] . W[N,K]^T; optional `batch` (a batched matmul, N per batch)
    attention                 batch, heads, kv_heads, head_dim, q_len, kv_len (longest request), kv_sum (sum of
                              the requests' KV lengths; default batch x kv_len), causal (0/1). q_len <= 16 uses
                              the split-KV decode kernel, longer q_len the flash prefill kernel.
    attention_qk/attention_sv heads, kv_heads, head_dim, q_len, kv_len (one request, unfused batched GEMMs)
    softmax, sampling         rows, cols
    rmsnorm, layernorm        tokens, hidden; `Op.kernels` picks the implementation: 1 fused, 2 PyTorch's
                              F.rms_norm (one kernel, two passes), 8 HF eager with fp32 upcast
                              (elementwise.rmsnorm_kernels)
    add, gelu, silu_mul, rotary, copy, kv_write, embedding, moe_router (and any other vector/memory kind)
                              elements; Op.inputs / Op.outputs hold ALL the traffic of the op's `Op.kernels`
                              kernels (the lowering's profile "passes", intermediates included); the model
                              splits it evenly over the kernels, later kernels reading from L2 when it fits

Launch modes: "graph" (CUDA graph, the whole-step default: each kernel pays `launch_overhead`) and "eager"
(each kernel also pays `eager_launch_gap`, and the timed call pays `eager_call_overhead` once; this is what a
single `F.linear` timed with CUDA events measures).
"""

from __future__ import annotations

from dataclasses import replace

from simulator.engine.cost import OpCost
from simulator.gpu import attention as attn
from simulator.gpu.elementwise import (
    Kernel,
    dram_bytes,
    kernel_time,
    rmsnorm_kernels,
    softmax_kernels,
    split_kernels,
)
from simulator.gpu.execution import EXECUTION
from simulator.gpu.gemm import formats, plan_gemm
from simulator.gpu.machine import LAUNCH_MODES, Machine
from simulator.gpu.spec import GpuSpec
from simulator.lowering.ops import DTYPE_BYTES, Op
from simulator.memory.spec import MemorySpec

DECODE_MAX_Q = 16


class GpuModel:
    """Kernel-level cost model of one GPU with its memory. `cost(op)` is memoised on the op's identity."""

    def __init__(self, spec: GpuSpec, memory: MemorySpec, *, mode: str = "graph", name: str = "gpu",
                 memo: bool = True):
        if mode not in LAUNCH_MODES:
            raise ValueError(f"launch mode must be one of {LAUNCH_MODES}, got {mode!r}")
        self._spec = spec
        self._memory = memory
        self._m = Machine.build(spec, memory)
        self._rotated: dict[float, Machine] = {}      # by the bytes of input sets a benchmark cycles through
        self._mode = mode
        self._name = name
        self._memo: dict[tuple, OpCost] | None = {} if memo else None
        self._execution = EXECUTION["cuda-graph"] if mode == "graph" else None
        self._graph_gap = 0.0

    def configure(self, workload, kernels: int = 0) -> None:
        """Take the workload's execution profile (launch mode and host terms, execution.py) for whole steps of
        `kernels` kernels (a CUDA graph of many kernels leaves longer gaps between them: `large_graph_gap`)."""
        profile = EXECUTION[workload.execution]
        s = self._spec
        gap = s.large_graph_gap if s.large_graph_kernels is not None and kernels > s.large_graph_kernels else 0.0
        if profile != self._execution or gap != self._graph_gap:
            self._execution, self._mode, self._graph_gap = profile, profile.launch, gap
            if self._memo is not None:
                self._memo.clear()

    @property
    def execution(self) -> str | None:
        """The execution profile whole steps run under (None: a bare model in eager single-call mode)."""
        return self._execution.name if self._execution else None

    @property
    def spec(self) -> GpuSpec:
        return self._spec

    @property
    def machine(self) -> Machine:
        """The derived rates the kernel models see (inside a step)."""
        return self._m

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def memory_name(self) -> str:
        return self._spec.memory or "hbm"

    @property
    def static_power(self) -> float:
        return self._spec.static_power

    def cost_isolated(self, op: Op) -> OpCost:
        """One call on its own, as `simulate op` measures it: eager launch, inputs rotated out of L2 (the
        calibration's median_us)."""
        return self.cost(op, mode="eager", footprint=float("inf"))

    def cost(self, op: Op, mode: str | None = None, footprint: float | None = None) -> OpCost:
        """The op inside a step (its inputs where the op before it left them), or, with `footprint`, timed as a
        benchmark that cycles calls through input sets of that many bytes in all."""
        mode = mode or self._mode
        if mode not in LAUNCH_MODES:
            raise ValueError(f"launch mode must be one of {LAUNCH_MODES}, got {mode!r}")
        m = self._m
        if footprint is not None:
            if footprint not in self._rotated:
                self._rotated[footprint] = replace(self._m, rotation=footprint)
            m = self._rotated[footprint]
        key = (op.key(), mode, m.rotation)
        if self._memo is not None and key in self._memo:
            return self._memo[key]
        handler = _HANDLERS.get(op.kind)
        if handler is None and op.op_class in ("vector", "memory"):
            handler = GpuModel._elementwise          # any other elementwise kind: bandwidth + launch
        if handler is None:
            raise ValueError(f"op kind {op.kind!r} does not run on a GPU unit (collectives run on links)")
        work, kernels, hbm, l2, bound, detail = handler(self, op, m)
        launch = self._m.launch(kernels, mode) + (kernels * self._graph_gap if mode == "graph" else 0.0)
        time_s = work + launch
        if launch > work:
            bound = "latency"
        ex = self._execution if mode == self._mode else None
        if ex is not None:
            if ex.host_per_kernel and kernels * ex.host_per_kernel > time_s:
                time_s, bound = kernels * ex.host_per_kernel, "latency"
            if ex.host_per_step and op.kind == "embedding":      # the step's host work, before its first kernel
                time_s += ex.host_per_step
                detail["host_step_s"] = ex.host_per_step
            detail["execution"] = ex.name
        counts = _counts(op, l2, (detail.get("clock_hz", self._spec.clock) / self._spec.clock) ** 2)
        cost = OpCost(time_s=time_s, cycles=time_s * self._spec.clock, bound=bound, flops=op.flops,
                      counts=counts, bytes={self.memory_name: hbm},
                      detail={"kernels": kernels, "launch_s": launch, "work_s": work, "mode": mode, **detail})
        if self._memo is not None:
            self._memo[key] = cost
        return cost

    # --- handlers: return (work seconds, kernels, HBM bytes, L2/SRAM bytes, bound, detail) ---

    def _gemm(self, op: Op, m: Machine):
        d = op.dims
        batch = d.get("batch", 1)
        out_dtype = op.outputs[0].dtype if op.outputs else None
        t = {x.name: x for x in op.inputs}
        fmt = formats(m, op.dtype, t["x"].dtype if "x" in t else None, t["w"].dtype if "w" in t else None,
                      t["w_scale"].bytes if "w_scale" in t else 0.0)
        p = plan_gemm(m, d["M"], d["N"] * batch, d["K"], op.dtype, out_dtype, fmt, op.legacy_mma)
        detail = {"tile": f"{p.bm}x{p.bn}", "split_k": p.split_k if p.split_k else "stream-k", "ctas": p.ctas,
                  "waves": p.waves, "stages": p.stages, "clock_hz": p.clock, "t_mainloop_s": p.t_mainloop,
                  "t_hbm_s": p.t_hbm, "slow_path": p.slow_path}
        return p.time_s, p.kernels, p.hbm_bytes, p.l2_bytes, p.bound, detail

    def _attention(self, op: Op, m: Machine):
        d = op.dims
        B, H, KH, D = d["batch"], d["heads"], d.get("kv_heads", d["heads"]), d["head_dim"]
        q, L = d.get("q_len", 1), d["kv_len"]
        kv = _kv_dtype(op)
        if q <= DECODE_MAX_Q:
            p = attn.decode(m, B, H, KH, D, L, d.get("kv_sum", B * L), q, op.dtype, kv)
        else:
            p = attn.prefill(m, B, H, KH, D, q, L, bool(d.get("causal", 0)), op.dtype, kv)
        return p.time_s, p.kernels, p.hbm_bytes, p.hbm_bytes, p.bound, {"kernel": p.kind, "ctas": p.ctas,
                                                                         "splits": p.splits}

    def _attention_part(self, op: Op, m: Machine):
        d = op.dims
        H, KH, D, q, L = d["heads"], d.get("kv_heads", d["heads"]), d["head_dim"], d.get("q_len", 1), d["kv_len"]
        group = H // KH
        if op.kind == "attention_qk":      # [q*group, D] . K[L, D]^T per KV head
            M, N, K = q * group, L * KH, D
        else:                              # [q*group, L] . V[L, D] per KV head
            M, N, K = q * group, D * KH, L
        p = plan_gemm(m, M, N, K, op.dtype, fmt=formats(m, op.dtype, op.dtype, _kv_dtype(op)))
        return p.time_s, p.kernels, p.hbm_bytes, p.l2_bytes, p.bound, {"tile": f"{p.bm}x{p.bn}"}

    @staticmethod
    def _kernels(m: Machine, ks: list[Kernel], bound: str = "memory"):
        work = sum(kernel_time(m, k) for k in ks)
        hbm = sum(dram_bytes(m, k) for k in ks)
        l2 = sum(k.bytes for k in ks)
        return work, len(ks), hbm, l2, bound, {}

    def _norm(self, op: Op, m: Machine):
        d = op.dims
        return self._kernels(m, rmsnorm_kernels(d["tokens"], d["hidden"], op.dtype, op.kernels,
                                             layer=op.kind == "layernorm", strided=op.strided))

    def _softmax(self, op: Op, m: Machine):
        d = op.dims
        if "rows" not in d or "cols" not in d:
            return self._elementwise(op, m)
        out = op.outputs[0].dtype if op.outputs else op.dtype
        return self._kernels(m, softmax_kernels(d["rows"], d["cols"], op.dtype, out))

    def _elementwise(self, op: Op, m: Machine):
        read, write = op.bytes_in, op.bytes_out
        if not read and not write:
            n = op.dims.get("elements", 0) * DTYPE_BYTES[op.dtype]
            read, write = n, n
        elements = op.dims.get("elements", 0)
        if op.kind == "kv_write":                    # its kernels copy K and V: half the elements each
            elements /= max(1, op.kernels)
        # eager SiLU x up: PyTorch's own vectorised SiLU kernel first (a fused or generic-path kernel is not it)
        act = elements if op.kind == "silu_mul" and op.kernels == 2 and not op.strided else 0.0
        return self._kernels(m, split_kernels(read, write, op.kernels, op.strided, elements, act))


_HANDLERS = {
    "gemm": GpuModel._gemm,
    "attention": GpuModel._attention,
    "attention_qk": GpuModel._attention_part,
    "attention_sv": GpuModel._attention_part,
    "softmax": GpuModel._softmax,
    "sampling": GpuModel._softmax,
    "rmsnorm": GpuModel._norm,
    "layernorm": GpuModel._norm,
    **{k: GpuModel._elementwise for k in ("add", "gelu", "silu_mul", "rotary", "copy", "kv_write", "embedding",
                                          "moe_router")},
}


def _kv_dtype(op: Op) -> str:
    """Storage dtype of an attention op's KV cache operand (the resident input), else the op's dtype."""
    return next((t.dtype for t in op.inputs if t.resident), op.dtype)


def _counts(op: Op, l2_bytes: float, dvfs: float = 1.0) -> dict[str, float]:
    """Actions for the energy table: tensor MACs by dtype, vector ops, bytes through L2/shared memory. The table
    holds energies at the boost clock; a kernel the power limit slows to clock f counts its SM actions as
    boost-clock equivalents, x (f / f_boost)^2 (energy per action ~ V^2, the voltage following the clock)."""
    if op.op_class in ("gemm", "attention"):
        return {f"mac.{op.dtype}": op.flops / 2 * dvfs, "sram.byte": l2_bytes * dvfs}
    counts = {"sram.byte": l2_bytes}
    if op.flops:
        counts["vector.op"] = op.flops
    return counts


def gpu_model(name: str, spec: GpuSpec, memory: MemorySpec | None) -> GpuModel:
    """Registry factory (transaction level): the kernel model of a GPU unit."""
    if memory is None:
        raise ValueError(f"GPU unit {name!r} needs a memory (set `memory:` to one of the device's memories)")
    return GpuModel(spec, memory, name=name)
