"""Collective algorithms as schedules: a list of steps, each a set of concurrent transfers (src, dst, bytes).

Ranks r = 0..n-1 are the participating devices in the order given; S is the collective's size in bytes (the
all-reduce/broadcast/send buffer, the all-gather output, the reduce-scatter input, the all-to-all send buffer of
one device). A step's transfers start together; the next step starts when the step's last transfer lands
(docs/network.md gives each schedule's alpha-beta cost). Pipelined schedules (tree, ring broadcast) move C
chunks of S/C, one chunk per link per step, so fill and drain are explicit steps.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simulator.errors import UserError

Step = tuple[np.ndarray, np.ndarray, np.ndarray]       # src ranks, dst ranks, bytes
OPS = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "broadcast", "send_recv")
ALGORITHMS = ("ring", "tree", "halving_doubling", "direct", "hierarchical")


def _step(src, dst, nbytes) -> Step:
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    return src, dst, np.broadcast_to(np.asarray(nbytes, dtype=float), src.shape).copy()


def _ring_steps(ranks: np.ndarray, count: int, nbytes: float) -> list[Step]:
    step = _step(ranks, np.roll(ranks, -1), nbytes)      # steps are read only: one object repeated
    return [step] * count


def channel_rings(nodes: list[list[int]]) -> np.ndarray:
    """NCCL's rings over k nodes of L ranks, one per channel c = 0..L-1: each node's ranks rotated by c, so
    that channel c leaves every node from local rank c-1 and enters the next at local rank c (its own NIC)."""
    grid = np.array(nodes)
    L = grid.shape[1]
    return np.stack([np.roll(grid, -c, axis=1).ravel() for c in range(L)])


def ring(op: str, n: int, size: float, chunks: int = 1, nodes: list[list[int]] | None = None) -> list[Step]:
    """Ring schedules. Over several nodes of equal size (L > 1) an all-reduce, all-gather or reduce-scatter runs
    L rings at once (NCCL's channels), each carrying 1/L of the data and crossing nodes on different NICs."""
    r = np.arange(n)
    multi = (op in ("all_reduce", "all_gather", "reduce_scatter") and nodes is not None and len(nodes) > 1
             and len({len(x) for x in nodes}) == 1 and len(nodes[0]) > 1)
    if multi:
        assert nodes is not None
        rings = channel_rings(nodes)
        src, dst = rings.ravel(), np.roll(rings, -1, axis=1).ravel()
        count = 2 * (n - 1) if op == "all_reduce" else n - 1
        step = _step(src, dst, size / (n * len(rings)))
        return [step] * count
    if op == "all_reduce":
        return _ring_steps(r, 2 * (n - 1), size / n)
    if op in ("all_gather", "reduce_scatter"):
        return _ring_steps(r, n - 1, size / n)
    if op == "all_to_all":         # each device forwards the blocks not yet home: n-k blocks at step k
        return [_step(r, np.roll(r, -1), (n - k) * size / n) for k in range(1, n)]
    if op == "broadcast":          # a pipelined chain from rank 0
        steps = []
        for t in range(n - 2 + chunks):
            pos = np.arange(n - 1)
            live = pos[(t - pos >= 0) & (t - pos < chunks)]
            steps.append(_step(live, live + 1, size / chunks))
        return steps
    return send_recv(n, size)


def send_recv(n: int, size: float) -> list[Step]:
    if n != 2:
        raise UserError(f"send_recv moves data between 2 devices, got {n}")
    return [_step([0], [1], size)]


def direct(op: str, n: int, size: float, chunks: int = 1) -> list[Step]:
    src, dst = np.nonzero(~np.eye(n, dtype=bool))
    if op == "all_reduce":        # one-shot reduce-scatter then all-gather
        return [_step(src, dst, size / n), _step(src, dst, size / n)]
    if op in ("all_gather", "reduce_scatter", "all_to_all"):
        return [_step(src, dst, size / n)]
    if op == "broadcast":
        return [_step(np.zeros(n - 1, dtype=int), np.arange(1, n), size)]
    return send_recv(n, size)


def halving_doubling(op: str, n: int, size: float, chunks: int = 1) -> list[Step]:
    if n & (n - 1):
        raise UserError(f"halving-doubling needs a power-of-two number of devices, got {n}")
    r = np.arange(n)
    logn = n.bit_length() - 1
    rs = [_step(r, r ^ (n >> (k + 1)), size / 2 ** (k + 1)) for k in range(logn)]
    ag = [_step(r, r ^ (1 << k), size * 2 ** k / n) for k in range(logn)]
    if op == "all_reduce":
        return rs + ag
    if op == "reduce_scatter":
        return rs
    if op == "all_gather":
        return ag
    if op == "broadcast":          # binomial tree: recursive doubling of the holders
        return [_step(np.arange(2 ** k), np.arange(2 ** k) + 2 ** k, size) for k in range(logn)]
    if op == "send_recv":
        return send_recv(n, size)
    raise UserError(f"halving-doubling has no {op} schedule; use ring or direct")


def binary_tree(ranks: list[int]) -> dict[int, int]:
    """Parent of each rank in a balanced in-order binary tree over `ranks` (the root maps to -1)."""
    parent: dict[int, int] = {}

    def build(lo: int, hi: int, up: int) -> None:
        if lo > hi:
            return
        mid = (lo + hi + 1) // 2
        parent[ranks[mid]] = up
        build(lo, mid - 1, ranks[mid])
        build(mid + 1, hi, ranks[mid])

    build(0, len(ranks) - 1, -1)
    return parent


def _depths(parent: dict[int, int]) -> dict[int, int]:
    depth: dict[int, int] = {}
    for r in parent:
        d, p = 0, parent[r]
        while p != -1:
            d, p = d + 1, parent[p]
        depth[r] = d
    return depth


def tree(op: str, n: int, size: float, chunks: int = 1) -> list[Step]:
    """NCCL's double binary tree: two trees (the second over the ranks mirrored, so that most ranks that are
    leaves in one are inner nodes in the other) each reduce then broadcast half of the buffer, pipelined in
    `chunks` chunks; a node at depth d of a tree of depth D sends chunk c up at step D - d + c and down at
    step D + d + c."""
    if op != "all_reduce":
        raise UserError(f"the tree algorithm is an all-reduce algorithm (NCCL's), not {op}; use ring or direct")
    if n == 1:
        return []
    trees = [binary_tree(list(range(n))), binary_tree(list(range(n))[::-1])]
    half = size / 2 / chunks
    by_step: dict[int, list[tuple[int, int]]] = {}
    for parent in trees:
        depth = _depths(parent)
        big = max(depth.values())
        for r, p in parent.items():
            if p == -1:
                continue
            d = depth[r]
            for c in range(chunks):
                by_step.setdefault(big - d + c, []).append((r, p))          # reduce: child -> parent
                by_step.setdefault(big + d - 1 + c, []).append((p, r))      # broadcast: parent (depth d-1)
    return [_step([a for a, _ in by_step[t]], [b for _, b in by_step[t]], half) for t in sorted(by_step)]


def per_dimension(dims: tuple[int, ...], size: float) -> list[Step]:
    """All-reduce on a torus/mesh grid, one dimension after another (ASTRA-sim's multi-dimensional collectives):
    ring reduce-scatter along dimension 0 in every line at once, then along dimension 1 on the 1/k0 left, ...;
    then the all-gathers in reverse order. Each line runs two rings, one each way round with half the data
    (a line of 2 has one neighbour: one ring)."""
    grid = np.arange(int(np.prod(dims))).reshape(dims)
    rs: list[Step] = []
    share = size
    for d, k in enumerate(dims):
        if k == 1:
            continue
        share /= k
        src, up, down = grid.ravel(), np.roll(grid, -1, axis=d).ravel(), np.roll(grid, 1, axis=d).ravel()
        step = (_step(np.concatenate([src, src]), np.concatenate([up, down]), share / 2) if k > 2
                else _step(src, up, share))
        rs += [step] * (k - 1)
    ag: list[Step] = []
    for step in reversed(rs):
        ag.append(step)
    return rs + ag


def hierarchical(op: str, n: int, size: float, chunks: int = 1, nodes: list[list[int]] | None = None,
                 dims: tuple[int, ...] | None = None) -> list[Step]:
    """All-reduce over k nodes of L ranks: ring reduce-scatter inside every node, ring all-reduce of S/L across
    the nodes among ranks of equal local index (every rail at once), ring all-gather inside every node. On a
    whole torus/mesh (`dims`), dimension by dimension (per_dimension)."""
    if op != "all_reduce":
        raise UserError(f"hierarchical is defined for all_reduce, not {op}; use ring or direct")
    if dims is not None:
        return per_dimension(dims, size)
    if not nodes or len(nodes) < 2 or len({len(x) for x in nodes}) != 1:
        raise UserError("hierarchical needs the devices on 2 or more nodes with as many devices on each "
                        f"(got {[len(x) for x in nodes or []]})")
    k, L = len(nodes), len(nodes[0])
    grid = np.array(nodes)                           # [node, local] -> rank
    intra_src, intra_dst = grid.ravel(), np.roll(grid, -1, axis=1).ravel()
    inter_src, inter_dst = grid.T.ravel(), np.roll(grid, -1, axis=0).T.ravel()
    inside = [_step(intra_src, intra_dst, size / L) for _ in range(L - 1)] if L > 1 else []
    across = [_step(inter_src, inter_dst, size / (L * k)) for _ in range(2 * (k - 1))]
    return inside + across + inside


BUILDERS: dict[str, Callable[..., list[Step]]] = {
    "ring": ring, "tree": tree, "halving_doubling": halving_doubling, "direct": direct,
    "hierarchical": hierarchical,
}
