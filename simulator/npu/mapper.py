"""GEMM mapping search: dataflow, core partition, scratchpad tile and loop order as design choices.

A mapping is (dataflow, partition [pm, pn, pk] of the cores along M, N, K, tile [Tm, Tn, Tk] per core, loop
order). Every candidate is scored with the same closed forms as `NpuModel._systolic_plan` (compute cycles of the
array convention, tile traffic of `tiling.traffic`, double-buffered DMA overlap of `dma.overlap`, the K split's
reduce-scatter on the NoC), vectorised with numpy over all tiles of a (dataflow, partition, order) block, so a
search over tens of thousands of mappings takes milliseconds. Objectives: latency (cycles), off-chip traffic
(DRAM bytes) or energy (counts x the unit's energy table + DRAM pJ/bit + static power). The space is searched
exhaustively when small (tiles = every multiple of the array side), otherwise pruned (power-of-two multiples)
plus random samples of the full space; today's default mapping is always a candidate, so the search is never
worse than it. Equations: docs/npu.md.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from itertools import product

import numpy as np

from simulator.errors import ConfigError
from simulator.lowering.ops import DTYPE_BYTES
from simulator.memory.analytical import sustained_bandwidth
from simulator.npu import dma as dma_mod
from simulator.npu import noc as noc_mod
from simulator.npu import systolic, tiling
from simulator.npu.energy import default_table

ORDERS = ("m-outer", "n-outer", "k-inner")
DATAFLOWS = ("os", "ws", "is")
EXHAUSTIVE_LIMIT = 1_000_000    # candidates scored exhaustively under `auto`; beyond: pruned + random


@dataclass(frozen=True)
class Mapping:
    dataflow: str
    partition: tuple[int, int, int]     # cores along M, N, K
    tile: tuple[int, int, int]          # Tm, Tn, Tk per core
    order: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SearchResult:
    best: Mapping
    best_metrics: dict
    default: Mapping
    default_metrics: dict
    objective: str
    method: str
    space: int                          # candidates in the full (exhaustive) space
    evaluated: int                      # candidates scored
    top: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"objective": self.objective, "method": self.method, "space": self.space,
                "evaluated": self.evaluated, "best": {**self.best.as_dict(), **self.best_metrics},
                "default": {**self.default.as_dict(), **self.default_metrics}, "top": self.top,
                "gain": {k: self.default_metrics[k] / self.best_metrics[k] if self.best_metrics[k] else 1.0
                         for k in ("cycles", "dram_bytes", "energy_j")}}


def cores_used(M: int, N: int, K: int, partition) -> int:
    pm, pn, pk = partition
    return min(pm, M) * min(pn, N) * min(pk, K)


def reduce_bytes(m: int, n: int, pk: int, acc_bytes: float) -> float:
    """Bytes one core sends in the reduce-scatter of its m x n partial sums over pk cores (COSMA's K split)."""
    return (pk - 1) / pk * m * n * acc_bytes if pk > 1 else 0.0


def partitions(cores: int, noc: bool) -> list[tuple[int, int, int]]:
    """Every split of at most `cores` cores along M, N, K (1-D, 2-D and 2.5-D/3-D); K splits need a NoC."""
    out = []
    for pm in range(1, cores + 1):
        for pn in range(1, cores // pm + 1):
            for pk in range(1, (cores // (pm * pn) if noc else 1) + 1):
                out.append((pm, pn, pk))
    return out


def tile_values(dim: int, base: int, exhaustive: bool) -> np.ndarray:
    """Tile sizes along one dimension: multiples of the array side (all, or power-of-two ones) and the dim."""
    if exhaustive:
        vals = set(range(base, dim, base))
    else:
        vals, t = set(), base
        while t < dim:
            vals.add(t)
            t *= 2
    vals.add(dim)
    return np.array(sorted(vals), dtype=np.int64)


class Evaluator:
    """Vectorised cost of candidate mappings of one GEMM on one NPU (the closed forms of `_systolic_plan`)."""

    def __init__(self, M: int, N: int, K: int, spec, memory, dtype: str, *, batch: int = 1, energy_table=None):
        self.M, self.N, self.K, self.spec, self.memory, self.batch = M, N, K, spec, memory, batch
        self.b = DTYPE_BYTES[dtype]
        self.dtype = dtype
        self.bw = dma_mod.dram_stream_bandwidth(memory) if memory.timing is not None else sustained_bandwidth(memory)
        self.table = energy_table or {}
        self.dram_j_per_byte = 8 * memory.energy_per_bit

    def _dma(self, x, used: int):
        s = self.spec
        mem = x * used / self.bw * s.clock
        if s.noc is None or s.cores == 1:
            return mem
        return np.where(x > 0, np.maximum(mem, x / s.noc.flit_bytes), mem)

    def block(self, df: str, part: tuple[int, int, int], order: str, tm, tn, tk) -> dict:
        """Metrics of tiles (numpy arrays, clipped to the per-core GEMM) for one dataflow, partition and order."""
        s, arr, b, batch = self.spec, self.spec.systolic, self.b, self.batch
        R, C = arr.rows, arr.cols
        pm, pn, pk = part
        m, n, k = math.ceil(self.M / pm), math.ceil(self.N / pn), math.ceil(self.K / pk)
        used = cores_used(self.M, self.N, self.K, part)
        tm, tn, tk = np.minimum(tm, m), np.minimum(tn, n), np.minimum(tk, k)
        a, bb, foot, fit = tiling.traffic(m, n, k, tm, tn, tk, order, in_bytes=b, out_bytes=b,
                                          acc_bytes=arr.accumulator_bytes, scratchpad=s.scratchpad)
        traffic = a + bb + m * n * b / pk
        macs_core = float(m) * n * k
        rate = s.macs_per_pe[self.dtype]
        whole = float(systolic.scalesim_cycles(m, n, k, R, C, df))
        body = np.zeros(tm.shape)
        compute = np.zeros(tm.shape)
        last_c = np.zeros(tm.shape)
        last_d = np.zeros(tm.shape)
        for im, in_, ik in product((0, 1), repeat=3):
            sizes, count = [], np.ones(tm.shape)
            for i, dim, t in ((im, m, tm), (in_, n, tn), (ik, k, tk)):
                size = t if i == 0 else dim % t
                count = count * (dim // t if i == 0 else (size > 0))
                sizes.append(np.maximum(size, 1))
            gm, gn, gk = sizes
            if arr.timing == "scalesim":
                c = whole * gm * gn * gk / macs_core
            else:
                c = systolic.onnxim_issue_cycles(gm, gn, gk, R, C, df, min_rows=arr.min_tile_rows,
                                                 arrays=arr.arrays).astype(float)
            c = c / rate
            d = self._dma(traffic * gm * gn * gk / macs_core, used)
            n_steps = count * batch
            compute += n_steps * c
            body += n_steps * (np.maximum(c, d) if s.scratchpad.double_buffer else c + d)
            last_c, last_d = np.where(count > 0, c, last_c), np.where(count > 0, d, last_d)
        if s.scratchpad.double_buffer:
            body += last_c - np.maximum(last_c, last_d)
        first = self._dma((tm * (k if order == "m-outer" else tk) + tk * tn) * b, used)
        total = s.dma.latency + first + body + self._dma(tm * tn * b, used)
        cold = 0.0 if arr.timing == "scalesim" else float(systolic.onnxim_fill_cycles(R, C))
        red = reduce_bytes(m, n, pk, arr.accumulator_bytes) * batch
        red_cycles = red / s.noc.flit_bytes if red else 0.0
        cycles = total + cold + red_cycles
        dram = traffic * used * batch
        reads = systolic.operand_reads(m, n, k, R, C, df)
        sram_read = ((reads["a"] + reads["b"]) * b + reads["c_read"] * arr.accumulator_bytes) * used * batch
        sram_write = (traffic * batch + reads["c_write"] * arr.accumulator_bytes) * used
        noc = (dram + red * used) if (s.cores > 1 and s.noc is not None) else 0.0 * dram
        t = self.table
        macs = float(self.M) * self.N * self.K * batch
        energy = (macs * t.get(f"mac.{self.dtype}", 0.0) + macs * (2 * b + arr.accumulator_bytes) * t.get("reg.byte", 0)
                  + sram_read * t.get("sram.read_byte", 0.0) + sram_write * t.get("sram.write_byte", 0.0)
                  + noc * 8 * t.get("noc.bit_hop_links", 0.0) + dram * self.dram_j_per_byte
                  + s.static_power * cycles / s.clock)
        return {"cycles": cycles, "compute_cycles": compute + cold, "dram_bytes": dram, "noc_bytes": noc,
                "energy_j": energy, "fits": fit, "footprint": foot, "used": used, "per_core": (m, n, k),
                "tm": tm, "tn": tn, "tk": tk}


def _space(M, N, K, spec, g, exhaustive: bool):
    """(dataflow, partition, order, tm, tn, tk) blocks of the space the unit's mapping leaves open."""
    arr = spec.systolic
    dfs = DATAFLOWS if g.dataflow == "any" else (g.dataflow or arr.dataflow,)
    parts = [g.partition] if g.partition else partitions(spec.cores, spec.noc is not None)
    orders = (g.order,) if g.order else ORDERS
    blocks = []
    for df, part, order in product(dfs, parts, orders):
        m, n, k = math.ceil(M / part[0]), math.ceil(N / part[1]), math.ceil(K / part[2])
        if g.tile:
            vals = [np.array([min(t, d)]) for t, d in zip(g.tile, (m, n, k))]
        else:
            vals = [tile_values(m, arr.rows, exhaustive), tile_values(n, arr.cols, exhaustive),
                    tile_values(k, arr.rows, exhaustive)]
            if order != "k-inner":
                vals[2] = np.array([k])
        blocks.append((df, tuple(part), order, vals))
    return blocks


def _allowed(m: Mapping, g, spec) -> bool:
    """Whether mapping `m` agrees with the keys the unit's mapping fixes (the default joins the search if so)."""
    df = g.dataflow or spec.systolic.dataflow
    return ((df == "any" or m.dataflow == df) and (g.partition is None or m.partition == tuple(g.partition))
            and (g.tile is None or (m.tile == tuple(g.tile) and m.order == g.order)))


def _grid(vals):
    tm, tn, tk = np.meshgrid(*vals, indexing="ij")
    return tm.ravel(), tn.ravel(), tk.ravel()


def search(M: int, N: int, K: int, spec, memory, dtype: str = "fp16", *, batch: int = 1, model=None,
           name: str = "npu", gemm=None, method: str | None = None, objective: str | None = None,
           top: int = 10) -> SearchResult:
    """Best mapping of an M x N x K GEMM (`batch` of them) on `spec`, searching what `gemm` (a GemmMapping,
    default the unit's `mapping.gemm`) leaves open. `model` (an NpuModel) gives the default mapping and the
    energy table."""
    g = gemm or spec.mapping.gemm
    if dtype not in spec.macs_per_pe:
        raise ConfigError(f"this NPU has no {dtype} MACs; supported: {', '.join(sorted(spec.macs_per_pe))}",
                          key=f"{name}.macs_per_pe")
    if g.partition is not None:
        if math.prod(g.partition) > spec.cores:
            raise ConfigError(f"partition {list(g.partition)} uses {math.prod(g.partition)} cores; "
                              f"the NPU has {spec.cores}", key=f"{name}.mapping.gemm.partition")
        if g.partition[2] > 1 and spec.noc is None:
            raise ConfigError("a K split reduces partial sums on the NoC; this NPU has no noc",
                              key=f"{name}.mapping.gemm.partition")
    objective = objective or g.objective
    method = method or (g.search if g.search != "none" else "auto")
    table = _energy_table(spec, model)
    ev = Evaluator(M, N, K, spec, memory, dtype, batch=batch, energy_table=table)
    full = _space(M, N, K, spec, g, exhaustive=True)
    space = sum(len(v[0]) * len(v[1]) * len(v[2]) for *_, v in full)
    if method == "auto":
        method = "exhaustive" if space <= EXHAUSTIVE_LIMIT else "pruned"
    rng = np.random.default_rng(g.seed)
    blocks = []
    if method == "exhaustive":
        blocks = [(df, p, o, *_grid(v)) for df, p, o, v in full]
    else:
        if method == "pruned":
            blocks = [(df, p, o, *_grid(v)) for df, p, o, v in _space(M, N, K, spec, g, exhaustive=False)]
        sizes = np.array([len(v[0]) * len(v[1]) * len(v[2]) for *_, v in full], dtype=float)
        draws = rng.multinomial(g.samples, sizes / sizes.sum())
        for (df, p, o, v), nd in zip(full, draws):
            if nd:
                blocks.append((df, p, o, *(vals[rng.integers(0, len(vals), nd)] for vals in v)))
    default = model.default_mapping(M, N, K, dtype) if model is not None else None
    if default is not None and _allowed(default, g, spec):
        blocks.append((default.dataflow, default.partition, default.order,
                       *(np.array([t]) for t in default.tile)))
    rows = []
    for df, p, o, tm, tn, tk in blocks:
        r = ev.block(df, p, o, tm, tn, tk)
        rows.append((df, p, o, r))
    key = {"latency": "cycles", "traffic": "dram_bytes", "energy": "energy_j"}[objective]
    cat = {k: np.concatenate([np.broadcast_to(r[k], r["tm"].shape) for *_, r in rows])
           for k in ("cycles", "dram_bytes", "energy_j", "compute_cycles", "noc_bytes", "fits", "tm", "tn", "tk")}
    labels = np.concatenate([np.full(r["tm"].shape, i) for i, (*_, r) in enumerate(rows)])
    fits = cat["fits"].astype(bool)
    primary = np.where(fits, cat[key], np.inf)
    order_idx = np.lexsort((cat["energy_j"], cat["dram_bytes"], cat["cycles"], primary))
    if not fits.any():
        raise ConfigError(f"no mapping of gemm {M}x{N}x{K} fits the scratchpad", key=f"{name}.scratchpad.size")

    def describe(i: int) -> tuple[Mapping, dict]:
        df, p, o, r = rows[labels[i]]
        mp = Mapping(df, tuple(int(x) for x in p), (int(cat["tm"][i]), int(cat["tn"][i]), int(cat["tk"][i])), o)
        metrics = {k: float(cat[k][i]) for k in ("cycles", "compute_cycles", "dram_bytes", "noc_bytes", "energy_j")}
        metrics["per_core_shape"] = list(r["per_core"])
        metrics["cores_used"] = int(r["used"])
        return mp, metrics

    best, best_m = describe(int(order_idx[0]))
    d_map, d_m = (default, describe(len(labels) - 1)[1]) if default is not None and _allowed(default, g, spec) \
        else (best, best_m)
    listing = [{**m.as_dict(), **x} for m, x in (describe(int(i)) for i in order_idx[:top] if fits[i])]
    return SearchResult(best, best_m, d_map, d_m, objective, method, space, len(labels), listing)


def _energy_table(spec, model) -> dict[str, float]:
    """Joules per action the search prices: the unit's table over the model's defaults; NoC per bit x links."""
    defaults = model.defaults if model is not None else default_table(spec.scratchpad.size)
    table = {a: e for a, (e, _) in defaults.items()}
    table.update(spec.energy)
    if spec.noc is not None and spec.cores > 1:
        per_hop = spec.noc.energy_per_bit_hop or table.get("noc.bit_hop", 0.0)
        links = noc_mod.average_hops(spec.noc) - (0 if spec.noc.topology == "crossbar" else 1)
        table["noc.bit_hop_links"] = per_hop * max(links, 1.0)
    return table
