"""NPU cost model: what one op costs on an NPU (systolic arrays, vector units, scratchpad, DMA, NoC).

`NpuModel(spec, memory).cost(op)` returns an OpCost with time, cycles, the action counts that energy
multiplies, bytes per level and a `detail` dict (mapping, tiling, stall-free compute cycles, stall split,
utilisation, energy). Work is described at tile granularity with closed forms: a GEMM is a handful of groups
of identical tiles, whatever its size. Equations and sources: docs/npu.md.
"""

from __future__ import annotations

import math
from itertools import product

from simulator.engine.cost import OpCost
from simulator.errors import ConfigError
from simulator.lowering.ops import DTYPE_BYTES, Op
from simulator.memory.spec import MemorySpec
from simulator.npu import attention as attention_mod
from simulator.npu import fusion as fusion_mod
from simulator.npu import dma as dma_mod
from simulator.npu import energy as energy_mod
from simulator.npu import noc as noc_mod
from simulator.npu import mapper, mpgemm, systolic, tiling
from simulator.npu.spec import NpuSpec
from simulator.npu.vector import gemv_cycles, vector_cycles

VECTOR_KINDS = ("softmax", "layernorm", "rmsnorm", "rotary", "gelu", "relu", "silu_mul", "add", "moe_router",
                "sampling")
MEMORY_KINDS = ("embedding", "kv_write", "copy")
ROW_DIMS = ("cols", "hidden", "vocab", "row")


def _splits(dim: int, tile: int) -> list[tuple[int, int]]:
    """(count, size) of the full tiles and the remainder tile along one dimension."""
    full, rest = divmod(dim, tile)
    out = [(full, tile)] if full else []
    if rest:
        out.append((1, rest))
    return out


class NpuModel:
    """Cost of ops on one NPU (all its cores) attached to `memory`."""

    def __init__(self, spec: NpuSpec, memory: MemorySpec | None, *, name: str = "npu"):
        if memory is None:
            raise ConfigError("an NPU needs a memory to load its operands from", key=f"{name}.memory")
        self.spec = spec
        self.memory = memory
        self.name = name
        self.memory_name = spec.memory or memory.name
        self.clock = spec.clock
        self.defaults = energy_mod.default_table(spec.scratchpad.size)
        self.fusion_plans: dict[tuple, tuple[frozenset, dict]] = {}   # by block content: (its nodes, allocation)

    def _defaults(self) -> dict[str, tuple[float, str]]:
        """Default per-action energies with their sources: the technology table plus this NPU's NoC."""
        defaults = dict(self.defaults)
        noc = self.spec.noc
        if noc is not None and noc.energy_per_bit_hop:
            defaults["noc.bit_hop"] = (noc.energy_per_bit_hop, f"noc {noc.name}")
        return defaults

    @property
    def energy_table(self) -> dict[str, float]:
        """Joules per action that run-level energy uses when the unit's `energy:` table does not list the action
        (the same defaults `cost` applies per op, so `simulate run` and `simulate op` agree)."""
        return {action: joules for action, (joules, _) in self._defaults().items()}

    # Public -------------------------------------------------------------------------------------------------
    def cost(self, op: Op) -> OpCost:
        kind, d = op.kind, op.dims
        if kind == "gemm":
            return self.gemm(d["M"], d["N"], d["K"], op.dtype, op=op)
        if kind in ("attention_qk", "attention_sv"):
            return self.attention_unfused(op)
        if kind == "attention":
            return self.attention_fused(op)
        if kind in VECTOR_KINDS:
            return self.vector(op)
        if kind in MEMORY_KINDS:
            return self.memory_op(op)
        raise ConfigError(f"an NPU does not run op kind {kind!r} ({op.name})")

    def engine(self, op: Op) -> str:
        """The engine that runs `op`: the vector units or the systolic arrays (with the DMA). They are separate
        pipelines (as in the NeuPIMs NPU), so independent work on them overlaps."""
        return "vector" if op.kind in VECTOR_KINDS else "matrix"

    # On-chip reuse across ops ---------------------------------------------------------------------------------
    def fusable(self, op: Op) -> bool:
        """Whether this model can read `op`'s activation input from, or leave its output in, the scratchpad: the
        GEMMs of the MAC path, flash attention, vector and memory ops (not mpGEMM, cascades or per-request Q.K^T)."""
        if op.kind == "gemm":
            mixed = mpgemm.operands(op)
            return not (mixed and (self.spec.pe != "mac" or mixed[0] not in self.spec.macs_per_pe))
        if op.kind == "attention":
            return self.spec.mapping.attention.cascade == "flash"
        return op.kind in VECTOR_KINDS or op.kind == "kv_write"

    def fuse(self, graph, nodes: set[str]):
        """`graph` with the intermediates its ops on this unit (`nodes`) keep in the scratchpad marked on the ops
        (`fusion.apply`), under the unit's `fusion` policy; `graph` itself when fusion is off."""
        f = self.spec.fusion
        if f.policy == "off":
            return graph
        ops = graph.subgraph(n for n, d in graph.nodes(data=True) if "op" in d)   # no order-only join nodes
        eligible = {n for n in nodes if self.fusable(graph.nodes[n]["op"])}
        key = (tuple(sorted((n, ops.nodes[n]["op"].key()) for n in ops)), tuple(sorted(ops.edges)),
               tuple(sorted(eligible)))
        if key not in self.fusion_plans:
            self.fusion_plans[key] = (frozenset(ops), fusion_mod.allocate(
                ops, self.spec.scratchpad.size, policy=f.policy, reserve=f.reserve, eligible=eligible))
        return fusion_mod.apply(graph, self.fusion_plans[key][1])

    def fusion_summary(self, events: list, layers: int) -> dict | None:
        """The run's fusion report (`fusion.summarise`) over this unit's layer events; None when fusion is off."""
        if self.spec.fusion.policy == "off" or not self.fusion_plans:
            return None
        names = {ev.name for ev in events}      # the plan of the layer graph these events ran
        plans = list(self.fusion_plans.values())
        plan = next((p for nodes, p in plans if names <= nodes), plans[0][1])
        return {"reserve": self.spec.fusion.reserve, **fusion_mod.summarise(plan, events, layers)}

    # GEMM -----------------------------------------------------------------------------------------------------
    def gemm(self, M: int, N: int, K: int, dtype: str = "fp16", *, batch: int = 1, op: Op | None = None,
             b_resident: bool = True, label: str = "gemm") -> OpCost:
        """`batch` independent M x N x K GEMMs (e.g. one per KV head); B is the weight/KV operand."""
        s = self.spec
        mixed = mpgemm.operands(op) if op is not None else None
        if mixed and (s.pe != "mac" or mixed[0] not in s.macs_per_pe):
            return self._finish(mpgemm.plan(self, M, N, K, *mixed, batch=batch), op, flops=2.0 * M * N * K * batch,
                                label=label)
        if dtype not in s.macs_per_pe:
            raise ConfigError(f"this NPU has no {dtype} MACs; supported: {', '.join(sorted(s.macs_per_pe))}",
                              key=f"{self.name}.macs_per_pe")
        read, write = fusion_mod.onchip(op) if op is not None else (0, 0)
        b = DTYPE_BYTES[dtype]
        kept = (min(1.0, read / (M * K * b * batch)), min(1.0, write / (M * N * b * batch)))
        plans = [self._systolic_plan(M, N, K, dtype, batch, kept=kept)]
        if M <= s.gemv_threshold:
            plans.append(self._gemv_plan(M, N, K, dtype, batch, kept=kept))
        plan = min(plans, key=lambda p: p["cycles"])
        plan["alternatives"] = {p["mapping"]: p["cycles"] for p in plans}
        return self._finish(plan, op, flops=2.0 * M * N * K * batch, label=label)

    def _core_split(self, M: int, N: int) -> tuple[int, int, int]:
        """Per-core GEMM rows/cols: split N across cores when it is wide enough, else M."""
        cores = self.spec.cores
        if cores == 1:
            return M, N, 1
        if N >= cores * self.spec.systolic.cols or N >= M:
            return M, math.ceil(N / cores), min(cores, N)
        return math.ceil(M / cores), N, min(cores, M)

    def _dma_cycles(self, nbytes: float, sharers: int) -> float:
        """Cycles to bring `nbytes` to one core while `sharers` cores stream as much: the memory's share, or the
        core's NoC port (one flit per cycle) when that is slower."""
        mem = dma_mod.transfer_seconds(self.memory, nbytes, sharers=sharers) * self.clock
        noc = self.spec.noc
        if noc is None or self.spec.cores == 1 or nbytes <= 0:
            return mem
        return max(mem, nbytes / noc.flit_bytes)

    def _gemm_mapping(self, M: int, N: int, K: int, dtype: str, batch: int) -> mapper.Mapping | None:
        """The mapping the unit's `mapping.gemm` asks for: None (today's heuristic), fixed, or searched."""
        g = self.spec.mapping.gemm
        if g.search == "none" and g.dataflow in (None, self.spec.systolic.dataflow) and g.tile is None \
                and g.partition is None:
            return None
        return mapper.search(M, N, K, self.spec, self.memory, dtype, batch=batch, model=self, name=self.name).best

    def default_mapping(self, M: int, N: int, K: int, dtype: str = "fp16") -> mapper.Mapping:
        """The mapping today's heuristic picks: the array's dataflow, the 1-D core split, the traffic-minimising
        tiling (`tiling.search`)."""
        s, arr = self.spec, self.spec.systolic
        m, n, _ = self._core_split(M, N)
        b = DTYPE_BYTES[dtype]
        t = tiling.search(m, n, K, rows=arr.rows, cols=arr.cols, scratchpad=s.scratchpad, in_bytes=b,
                          out_bytes=b, acc_bytes=arr.accumulator_bytes)
        part = (1, 1, 1) if s.cores == 1 else (1, s.cores, 1) if n < N or M == m else (s.cores, 1, 1)
        return mapper.Mapping(arr.dataflow, part, (t.tm, t.tn, t.tk), t.order)

    def _systolic_plan(self, M: int, N: int, K: int, dtype: str, batch: int,
                       mapping: mapper.Mapping | None = None, kept: tuple[float, float] = (0.0, 0.0)) -> dict:
        """`kept`: shares of A and of C in the scratchpad (fusion): their DRAM loads and stores are not made."""
        s, arr = self.spec, self.spec.systolic
        R, C = arr.rows, arr.cols
        b = DTYPE_BYTES[dtype]
        if mapping is None:
            mapping = self._gemm_mapping(M, N, K, dtype, batch)
        if mapping is None:
            m, n, used = self._core_split(M, N)
            k, pk, df = K, 1, arr.dataflow
            t = tiling.search(m, n, K, rows=R, cols=C, scratchpad=s.scratchpad, in_bytes=b, out_bytes=b,
                              acc_bytes=arr.accumulator_bytes)
        else:
            pm, pn, pk = mapping.partition
            m, n, k = math.ceil(M / pm), math.ceil(N / pn), math.ceil(K / pk)
            used, df = mapper.cores_used(M, N, K, mapping.partition), mapping.dataflow
            t = tiling.fixed(m, n, k, *mapping.tile, mapping.order, in_bytes=b, out_bytes=b,
                             acc_bytes=arr.accumulator_bytes, scratchpad=s.scratchpad)
        macs_rate = s.macs_per_pe[dtype]
        groups = [(cm * cn * ck, tm, tn, tk) for (cm, tm), (cn, tn), (ck, tk)
                  in product(_splits(m, t.tm), _splits(n, t.tn), _splits(k, t.tk))]
        macs_core = float(m) * n * k
        ka, kc = kept
        full = t.a_bytes + t.b_bytes + t.c_bytes / pk         # a K split writes 1/pk of C after the reduction
        traffic = t.a_bytes * (1 - ka) + t.b_bytes + t.c_bytes / pk * (1 - kc)
        if arr.timing == "scalesim":
            whole = float(systolic.scalesim_cycles(m, n, k, R, C, df))
            comp = [whole * tm * tn * tk / macs_core for _, tm, tn, tk in groups]
        else:
            comp = [float(systolic.onnxim_issue_cycles(tm, tn, tk, R, C, df, min_rows=arr.min_tile_rows,
                                                       arrays=arr.arrays)) for _, tm, tn, tk in groups]
        comp = [c / macs_rate for c in comp]
        steps = [dma_mod.Step(cnt * batch, c, self._dma_cycles(traffic * tm * tn * tk / macs_core, used))
                 for (cnt, tm, tn, tk), c in zip(groups, comp)]
        _, tm0, tn0, tk0 = groups[0]
        first_bytes = ((tm0 * (k if t.order == "m-outer" else tk0)) * (1 - ka) + tk0 * tn0) * b
        ov = dma_mod.overlap(steps, first_load=self._dma_cycles(first_bytes, used),
                             last_store=self._dma_cycles(tm0 * tn0 * b * (1 - kc), used),
                             double_buffer=s.scratchpad.double_buffer, latency=s.dma.latency)
        cold = 0.0 if arr.timing == "scalesim" else float(systolic.onnxim_fill_cycles(R, C))
        reduce_bytes = mapper.reduce_bytes(m, n, pk, arr.accumulator_bytes) * batch     # per core, on the NoC
        reduce_cycles = reduce_bytes / s.noc.flit_bytes if reduce_bytes else 0.0
        reads = systolic.operand_reads(m, n, k, R, C, df)
        sram_read = (reads["a"] + reads["b"]) * b + reads["c_read"] * arr.accumulator_bytes
        sram_write = full * batch + reads["c_write"] * arr.accumulator_bytes
        return {
            "mapping": f"systolic-{df}",
            "cycles": ov.cycles + cold + reduce_cycles,
            "compute_cycles": ov.compute + cold,
            "memory_stall_cycles": ov.memory_stall + reduce_cycles,
            "idle_cycles": ov.idle,
            "cores_used": used,
            "dram_bytes": traffic * used * batch,
            "read_saved_bytes": t.a_bytes * ka * used * batch,
            "write_saved_bytes": t.c_bytes / pk * kc * used * batch,
            "noc_reduce_bytes": reduce_bytes * used,
            "sram_read_bytes": sram_read * used * batch,
            "sram_write_bytes": sram_write * used,
            "macs": float(M) * N * K * batch,
            "pe_cycles": (ov.cycles + cold + reduce_cycles) * arr.pes * s.cores,
            "tiling": {**t.as_dict(), "per_core_shape": [m, n, k], "batch": batch, "dataflow": df,
                       "partition": list(mapping.partition) if mapping else None,
                       "tiles": sum(g[0] for g in groups) * batch},
            "dtype": dtype,
        }

    def _gemv_plan(self, M: int, N: int, K: int, dtype: str, batch: int,
                   kept: tuple[float, float] = (0.0, 0.0)) -> dict:
        """Matrix-vector mapping: the B operand streams from memory through the vector units once; `kept`: shares
        of A and of C in the scratchpad (fusion)."""
        s = self.spec
        b = DTYPE_BYTES[dtype]
        cores = min(s.cores, N)
        n = math.ceil(N / cores)
        vc = gemv_cycles(s.vector, M, n, K)
        full = (K * n + M * K + M * n) * b
        nbytes = (K * n + M * K * (1 - kept[0]) + M * n * (1 - kept[1])) * b
        d = self._dma_cycles(nbytes, cores)
        chunk = min(nbytes, s.vector.units * s.vector.lanes * b * 64)       # first chunk before compute starts
        first = self._dma_cycles(chunk, cores)
        ov = dma_mod.stream(float(vc.cycles), d, first=first, latency=s.dma.latency, count=batch)
        return {
            "mapping": "vector-gemv",
            "cycles": ov.cycles,
            "compute_cycles": ov.compute,
            "memory_stall_cycles": ov.memory_stall,
            "idle_cycles": ov.idle,
            "cores_used": cores,
            "dram_bytes": nbytes * cores * batch,
            "read_saved_bytes": M * K * kept[0] * b * cores * batch,
            "write_saved_bytes": M * n * kept[1] * b * cores * batch,
            "sram_read_bytes": full * cores * batch,
            "sram_write_bytes": full * cores * batch,
            "macs": float(M) * N * K * batch,
            "vector_ops": vc.lane_ops * cores * batch,
            "pe_cycles": ov.cycles * s.systolic.pes * s.cores,
            "tiling": {"stream_bytes": nbytes, "per_core_shape": [M, n, K], "batch": batch},
            "dtype": dtype,
        }

    # Attention ------------------------------------------------------------------------------------------------
    def attention_unfused(self, op: Op) -> OpCost:
        d = op.dims
        heads, kvh, hd = d.get("heads", 1), d.get("kv_heads", d.get("heads", 1)), d["head_dim"]
        q, kv = d.get("q_len", 1), d["kv_len"]
        g = max(1, heads // kvh)
        if op.kind == "attention_qk":
            return self.gemm(g * q, kv, hd, op.dtype, batch=kvh, op=op, label="attention_qk")
        return self.gemm(g * q, hd, kv, op.dtype, batch=kvh, op=op, label="attention_sv")

    def stage(self, ops: list[Op], channels=None, start_cycle: float = 0.0) -> OpCost:
        """The per-request Q.K^T (or S.V) GEMVs of a batch as one stream, as an NPU compiler schedules them: each
        request computes as costed alone, the DMA streams every request's K or V back to back, and the fixed
        latencies (DMA, pipeline fill) are paid once: cycles = max(sum of compute, DMA of all bytes) + the largest
        fixed latency. (`channels` and `start_cycle` are the PIM stage's; an NPU has no use for them.)"""
        costs = [self.cost(op) for op in ops]
        compute = sum(c.detail["compute_cycles"] for c in costs)
        dram = sum(c.detail["bytes"]["dram"] for c in costs)
        fixed = max(c.detail["stall"]["idle_cycles"] for c in costs)
        dma = self._dma_cycles(dram, 1)
        cycles = max(compute, dma) + fixed
        counts: dict[str, float] = {}
        for c in costs:
            for action, n in c.counts.items():
                counts[action] = counts.get(action, 0.0) + n
        detail = {"op": f"{ops[0].kind} x {len(ops)}", "mapping": f"stream[{costs[0].detail['mapping']}]",
                  "cycles": cycles, "compute_cycles": compute, "dma_cycles": dma, "idle_cycles": fixed,
                  "requests": len(ops), "bytes": {"dram": dram}}
        return OpCost(time_s=cycles / self.clock, cycles=cycles, bound="memory" if dma > compute else "compute",
                      flops=float(sum(op.flops for op in ops)), counts=counts, bytes={self.memory_name: dram},
                      detail=detail)

    def attention_fused(self, op: Op) -> OpCost:
        """Flash-style: per request and KV head, Q.K^T, softmax and S.V on chip; K and V read once per Q tile.
        `mapping.attention.cascade` picks another mapping instead (simulator/npu/attention.py)."""
        s, d = self.spec, op.dims
        if s.mapping.attention.cascade != "flash":
            return self._finish(attention_mod.cascade(self, op, s.mapping.attention.cascade), op,
                                flops=op.flops or attention_mod._shape(op)["full_flops"], label="attention")
        heads, kvh, hd = d.get("heads", 1), d.get("kv_heads", d.get("heads", 1)), d["head_dim"]
        q, nreq = d.get("q_len", 1), d.get("batch", 1)
        kv_sum = d.get("kv_sum", d["kv_len"] * nreq)
        kv_avg = max(1, round(kv_sum / nreq))
        g = max(1, heads // kvh)
        full = 4.0 * heads * hd * q * kv_sum
        causal = min(1.0, op.flops / full) if op.flops and full else 1.0
        qk = self.gemm(g * q, kv_avg, hd, op.dtype, batch=kvh * nreq, label="qk")
        sv = self.gemm(g * q, hd, kv_avg, op.dtype, batch=kvh * nreq, label="sv")
        sm = vector_cycles(s.vector, "softmax", heads * q * kv_sum * causal, kv_avg)
        compute = (qk.detail["compute_cycles"] + sv.detail["compute_cycles"]) * causal + sm.cycles / s.cores
        # K/V re-read once per Q tile that does not fit with a K/V tile in the scratchpad
        b = DTYPE_BYTES[op.dtype]
        kv_tile = 2 * 2 * min(kv_avg, 512) * hd * b
        tq = max(1, int((s.scratchpad.size - kv_tile) // (hd * (b + s.systolic.accumulator_bytes))))
        rereads = math.ceil(g * q / tq)
        kv_bytes = sum(t.bytes for t in op.inputs if t.resident) or 2 * kv_sum * kvh * hd * b
        act_bytes = (sum(t.bytes for t in op.inputs if not t.resident) + op.bytes_out) or 2 * nreq * q * heads * hd * b
        read, write = fusion_mod.onchip(op)
        full = kv_bytes * rereads + act_bytes
        dram = full - read - write                  # Q read from / O left in the scratchpad (fusion)
        dma = self._dma_cycles(dram, 1)
        first = self._dma_cycles(min(dram, kv_tile), 1)
        ov = dma_mod.stream(compute, dma, first=first, latency=s.dma.latency)
        mapping = f"flash[{qk.detail['mapping']}+{sv.detail['mapping']}]"
        plan = {
            "mapping": mapping, "cycles": ov.cycles, "compute_cycles": ov.compute,
            "memory_stall_cycles": ov.memory_stall, "idle_cycles": ov.idle, "cores_used": s.cores,
            "dram_bytes": dram, "read_saved_bytes": read, "write_saved_bytes": write,
            "sram_read_bytes": full + sm.lane_ops * b, "sram_write_bytes": full,
            "macs": (qk.counts.get(f"mac.{op.dtype}", 0) + sv.counts.get(f"mac.{op.dtype}", 0)) * causal,
            "vector_ops": sm.lane_ops + qk.counts.get("vector.op", 0) + sv.counts.get("vector.op", 0),
            "pe_cycles": ov.cycles * s.systolic.pes * s.cores,
            "tiling": {"q_tile_rows": tq, "kv_rereads": rereads, "kv_len_avg": kv_avg, "requests": nreq,
                       "qk": qk.detail["tiling"], "sv": sv.detail["tiling"]},
            "dtype": op.dtype,
        }
        return self._finish(plan, op, flops=op.flops or full, label="attention")

    # Vector and memory ops ----------------------------------------------------------------------------------
    def vector(self, op: Op) -> OpCost:
        s, d = self.spec, op.dims
        b = DTYPE_BYTES[op.dtype]
        elements = d.get("elements") or d.get("rows", 1) * d.get("cols", 1)
        row = next((d[k] for k in ROW_DIMS if k in d), None)
        per_core = math.ceil(elements / s.cores)
        vc = vector_cycles(s.vector, op.kind, per_core, row)
        full = op.bytes or 2 * elements * b
        read, write = fusion_mod.onchip(op)
        nbytes = full - read - write                # inputs read from / outputs left in the scratchpad (fusion)
        dma = self._dma_cycles(nbytes, 1)
        first = self._dma_cycles(min(nbytes, s.vector.units * s.vector.lanes * b), 1)
        ov = dma_mod.stream(float(vc.cycles), dma, first=first, latency=s.dma.latency)
        plan = {
            "mapping": "vector", "cycles": ov.cycles, "compute_cycles": ov.compute,
            "memory_stall_cycles": ov.memory_stall, "idle_cycles": ov.idle, "cores_used": s.cores,
            "dram_bytes": nbytes, "read_saved_bytes": read, "write_saved_bytes": write,
            "sram_read_bytes": full * vc.passes, "sram_write_bytes": full,
            "macs": 0.0, "vector_ops": vc.lane_ops * s.cores,
            "pe_cycles": ov.cycles * s.systolic.pes * s.cores,
            "tiling": {"iterations": vc.iterations, "passes": vc.passes, "row": row},
            "dtype": op.dtype,
        }
        return self._finish(plan, op, flops=op.flops, label=op.kind)

    def memory_op(self, op: Op) -> OpCost:
        s = self.spec
        full = op.bytes or 2 * op.dims.get("elements", 0) * DTYPE_BYTES[op.dtype]
        read, write = fusion_mod.onchip(op)
        nbytes = full - read - write                # e.g. a kv_write's new K/V read from the scratchpad (fusion)
        dma = self._dma_cycles(nbytes, 1) + s.dma.latency
        plan = {
            "mapping": "dma", "cycles": dma, "compute_cycles": 0.0, "memory_stall_cycles": dma - s.dma.latency,
            "idle_cycles": s.dma.latency, "cores_used": s.cores, "dram_bytes": nbytes,
            "read_saved_bytes": read, "write_saved_bytes": write,
            "sram_read_bytes": full / 2, "sram_write_bytes": full / 2, "macs": 0.0,
            "pe_cycles": dma * s.systolic.pes * s.cores, "tiling": {}, "dtype": op.dtype,
        }
        return self._finish(plan, op, flops=0.0, label=op.kind)

    # Common ---------------------------------------------------------------------------------------------------
    def _finish(self, plan: dict, op: Op | None, *, flops: float, label: str) -> OpCost:
        s = self.spec
        cycles = float(plan["cycles"])
        seconds = cycles / self.clock
        counts: dict[str, float] = {}
        if plan["macs"]:
            counts[plan.get("mac_action", f"mac.{plan['dtype']}")] = plan["macs"]
            b = DTYPE_BYTES[plan["dtype"]]
            if plan["mapping"].startswith("systolic"):
                counts["reg.byte"] = plan["macs"] * (2 * b + s.systolic.accumulator_bytes)
            elif plan.get("reg_bytes"):
                counts["reg.byte"] = plan["reg_bytes"]
        if plan.get("vector_ops"):
            counts["vector.op"] = plan["vector_ops"]
        counts["sram.read_byte"] = plan["sram_read_bytes"]
        counts["sram.write_byte"] = plan["sram_write_bytes"]
        noc_bytes = 0.0
        if s.cores > 1 and s.noc is not None:
            links = noc_mod.average_hops(s.noc) - (0 if s.noc.topology == "crossbar" else 1)
            noc_bytes = plan["dram_bytes"] + plan.get("noc_reduce_bytes", 0.0)
            counts["noc.bit_hop"] = noc_bytes * 8 * max(links, 1.0)
        table = dict(s.energy)
        total_j, per_action, sources = energy_mod.energy(counts, table, self._defaults(), s.static_power, seconds)
        compute, stall, idle = plan["compute_cycles"], plan["memory_stall_cycles"], plan["idle_cycles"]
        dram_cycles = self._dma_cycles(plan["dram_bytes"], 1)
        bound = "memory" if dram_cycles > compute else "compute"
        peak_macs = s.systolic.pes * s.cores * max(s.macs_per_pe.values())
        detail = {
            "op": label,
            "mapping": plan["mapping"],
            "cores_used": plan["cores_used"],
            "cycles": cycles,
            "compute_cycles": compute,
            "stall": {"memory_stall_cycles": stall, "compute_cycles": compute, "idle_cycles": idle},
            "utilisation": {
                "pe": plan["macs"] / (peak_macs * cycles) if cycles else 0.0,
                "pe_stall_free": plan["macs"] / (peak_macs * compute) if compute else 0.0,
                "memory_bandwidth": (plan["dram_bytes"] / seconds / self.memory.peak_bandwidth) if seconds else 0.0,
            },
            "bytes": {"dram": plan["dram_bytes"], "sram_read": plan["sram_read_bytes"],
                      "sram_write": plan["sram_write_bytes"], "noc": noc_bytes},
            "tiling": plan["tiling"],
            "energy_j": total_j,
            "energy_breakdown_j": per_action,
            "energy_sources": sources,
        }
        if "alternatives" in plan:
            detail["mapping_cycles"] = plan["alternatives"]
        if plan.get("read_saved_bytes") or plan.get("write_saved_bytes"):
            detail["fusion"] = {"read_saved_bytes": plan["read_saved_bytes"],
                                "write_saved_bytes": plan["write_saved_bytes"]}
        return OpCost(time_s=seconds, cycles=cycles, bound=bound, flops=flops, counts=counts,
                      bytes={self.memory_name: plan["dram_bytes"]}, detail=detail)


def make_model(name: str, spec: NpuSpec, memory: MemorySpec | None) -> NpuModel:
    """Registry factory (`simulator.hardware.units`): the NPU model for any fidelity level."""
    return NpuModel(spec, memory, name=name)
