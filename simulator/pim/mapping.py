"""Mapping of GEMVs onto PIM rows: NeuPIMs' decode-attention KV layout, PIM-GPT-style weight partitioning, and
KV placement over channels.

A channel *program* is the command stream of one channel as a sequence of ops, each a GWRITE or a PIM row
(P_HEADER, G_ACTs, `readres` COMPS_READRES of `comps` COMPs each). Arrays, one entry per op:

    kind     0 GWRITE, 1 row
    readres  COMPS_READRES in the row (heads packed in the row for Q.K^T; 1 for S.V and GEMV)
    comps    COMPs per COMPS_READRES
    header   COMP count the row's P_HEADER declares (S.V rounds it up to a power of two, as NeuPIMs encodes it)

KV layout (NeuPIMs, ../shared/reference/neupims/README.md):
- keys: one token per bank per row, so a row group of `banks` tokens; a row holds row_elements / head_dim heads
  of that token ("heads per tile"); the query of heads x head_dim elements is written in chunks of one row
  (one GWRITE each), and each row of a chunk gets one COMPS_READRES of head_dim / coverage COMPs per head.
- values: 512 tokens (one row of elements) per row; each bank holds one head dimension, so a head needs
  head_dim / banks rows per 512-token chunk; one GWRITE of the chunk's scores per (head, chunk).

Spread KV layout (PIM-GPT, batch 1): one request's KV cache over every channel, in the same row formats.
- keys: the `banks`-token row groups go round robin over channels; each channel writes the query into its own
  global buffer and scores its tokens (the host gathers the scores for the softmax).
- values: the heads x head_dim / banks row groups (banks head dimensions of one head, all tokens) are dealt to
  channels in contiguous blocks, so a channel writes the scores of only the one or two heads it holds and
  returns whole output dimensions (no reduction across channels).
"""

from __future__ import annotations

import math

import numpy as np

from simulator.pim.commands import PimTiming

GWRITE, ROW = 0, 1


def _program(kind, readres, comps, header) -> dict[str, np.ndarray]:
    return {"kind": np.asarray(kind, dtype=np.int64), "readres": np.asarray(readres, dtype=np.int64),
            "comps": np.asarray(comps, dtype=np.int64), "header": np.asarray(header, dtype=np.int64)}


def concat(programs: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not programs:
        return _program([], [], [], [])
    return {k: np.concatenate([p[k] for p in programs]) for k in programs[0]}


def _pow2_ceil(n: np.ndarray) -> np.ndarray:
    n = np.maximum(np.asarray(n, dtype=np.int64), 1)
    return (1 << np.ceil(np.log2(n)).astype(np.int64)).astype(np.int64)


def qk_program(t: PimTiming, heads: int, head_dim: int, kv_len: int) -> dict[str, np.ndarray]:
    """Q.K^T of one decoding request: per query chunk a GWRITE, then one row per group of `banks` tokens."""
    width = heads * head_dim
    chunks = math.ceil(width / t.row_elements)
    per_tile = max(1, math.ceil(t.row_elements / head_dim))
    rest = width % t.row_elements
    last = per_tile if rest == 0 else math.ceil(rest / head_dim)
    comps = math.ceil(head_dim / t.coverage)
    tiles = math.ceil(kv_len / t.banks)
    heads_in = np.full(chunks, per_tile, dtype=np.int64)
    heads_in[-1] = last
    # per chunk: [GWRITE, row x tiles]
    kind = np.tile(np.r_[GWRITE, np.full(tiles, ROW)], chunks)
    readres = np.repeat(heads_in, tiles + 1) * (kind == ROW)
    return _program(kind, readres, np.where(kind == ROW, comps, 0), readres * comps)


def sv_program(t: PimTiming, heads: int, head_dim: int, kv_len: int) -> dict[str, np.ndarray]:
    """S.V of one decoding request: per head and 512-token chunk a GWRITE of the scores, then head_dim / banks
    rows with one COMPS_READRES each."""
    chunks = math.ceil(kv_len / t.row_elements)
    tiles = math.ceil(head_dim / t.banks)
    full = t.row_elements // t.coverage
    rest = kv_len % t.row_elements
    n = np.full(chunks, full, dtype=np.int64)
    if rest:
        n[-1] = math.ceil(rest / t.coverage)
    kind = np.tile(np.r_[GWRITE, np.full(tiles, ROW)], chunks * heads)
    comps = np.tile(np.repeat(n, tiles + 1), heads) * (kind == ROW)
    return _program(kind, (kind == ROW).astype(np.int64), comps, np.where(kind == ROW, _pow2_ceil(comps), 0))


def gemv_program(t: PimTiming, m: int, n: int, k: int) -> dict[str, np.ndarray]:
    """y[M,N] = x[M,K] W[N,K]^T with W partitioned PIM-GPT style: output rows spread over channels, then banks;
    K along DRAM rows. Per input vector and K chunk: one GWRITE, then rows of the bank-resident weight rows (a
    chunk narrower than half a row packs several weight rows per DRAM row against as many copies of the chunk in
    the global buffer, one READRES each). One channel's program (all are alike)."""
    per_channel = math.ceil(n / t.channels)
    per_bank = math.ceil(per_channel / t.banks)
    chunks = math.ceil(k / t.row_elements)
    progs = []
    for c in range(chunks):
        width = min(t.row_elements, k - c * t.row_elements)
        pack = max(1, t.row_elements // width)
        rows = math.ceil(per_bank / pack)
        comps = math.ceil(width / t.coverage)
        readres = np.full(rows, pack, dtype=np.int64)
        if per_bank % pack:
            readres[-1] = per_bank % pack
        progs.append(_program(np.r_[GWRITE, np.full(rows, ROW)], np.r_[0, readres], np.r_[0, np.full(rows, comps)],
                              np.r_[0, readres * comps]))
    one = concat(progs)
    return concat([one] * max(1, m))


def spread_qk(t: PimTiming, heads: int, head_dim: int, kv_len: int) -> dict[int, dict[str, np.ndarray]]:
    """Q.K^T of one request with its keys spread over every channel: channel c holds every channels-th
    `banks`-token row group and runs the NeuPIMs key program on them; channels without a group stay idle."""
    tiles = math.ceil(kv_len / t.banks)
    share = [tiles // t.channels + int(c < tiles % t.channels) for c in range(t.channels)]
    return {c: qk_program(t, heads, head_dim, n * t.banks) for c, n in enumerate(share) if n}


def spread_sv(t: PimTiming, heads: int, head_dim: int, kv_len: int) -> dict[int, dict[str, np.ndarray]]:
    """S.V of one request with its values spread over every channel: the heads x head_dim / banks row groups
    go to channels in contiguous blocks; per head it holds, a channel runs the NeuPIMs value program on its
    row groups (one GWRITE of that head's scores per chunk)."""
    per_head = math.ceil(head_dim / t.banks)
    groups = heads * per_head
    out = {}
    for c in range(t.channels):
        lo, hi = c * groups // t.channels, (c + 1) * groups // t.channels
        heads_held = range(lo // per_head, math.ceil(hi / per_head))
        held = [min(hi, (h + 1) * per_head) - max(lo, h * per_head) for h in heads_held]
        progs = [sv_program(t, 1, n * t.banks, kv_len) for n in held if n > 0]
        if progs:
            out[c] = concat(progs)
    return out


def place_kv(kv_lens: np.ndarray, channels: int, method: str, given: np.ndarray | None = None,
             load: np.ndarray | None = None) -> np.ndarray:
    """Channel of each request's KV cache: the trace's own (`trace`), round robin, or greedy min-load bin
    packing in arrival order (ties to the lowest channel) of each request's `load` (default its KV length; the
    PIM model passes its latency estimate)."""
    kv_lens = np.asarray(kv_lens, dtype=np.int64)
    if method == "trace" and given is not None:
        return np.asarray(given, dtype=np.int64) % channels
    if method in ("trace", "round-robin"):
        return np.arange(len(kv_lens), dtype=np.int64) % channels
    weights = kv_lens if load is None else np.asarray(load, dtype=float)
    total = np.zeros(channels)
    out = np.empty(len(kv_lens), dtype=np.int64)
    for i, w in enumerate(weights.tolist()):   # one step per request, not per cycle
        c = int(np.argmin(total))
        out[i] = c
        total[c] += w
    return out


def counts(program: dict[str, np.ndarray], t: PimTiming) -> dict[str, float]:
    """Command counts of a program (cmd.<NAME> keys). COMPS_READRES is counted as its COMPs and one READRES."""
    rows = program["kind"] == ROW
    n_rows = int(rows.sum())
    return {"cmd.GWRITE": float((~rows).sum()), "cmd.P_HEADER": float(n_rows),
            "cmd.G_ACT": float(n_rows * t.activates),
            "cmd.COMP": float((program["comps"] * program["readres"]).sum()),
            "cmd.READRES": float(program["readres"].sum()), "cmd.PIM_PRE": float(n_rows * t.precharges)}
