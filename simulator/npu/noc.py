"""On-chip network timing: closed forms for transfers, and a simulation of latency vs load.

Two simulations, chosen by the spec's allocators. `separable_input_first` (the default, BookSim2's iq router
with `vc_allocator = sw_allocator = separable_input_first`, `alloc_iters = 1`) steps cycle by cycle,
vectorised over all routers and virtual channels: each input VC holds a FIFO of flits; a head is routed,
bids for an output VC in the VC allocator, then its flits bid for the switch in the switch allocator; both
allocators are separable input-first with round-robin arbiters whose pointers move only on a grant, so an
input whose pick loses does not try another request that cycle. `ideal` is event-driven at packet granularity
(one event per packet per router, never per cycle): a packet takes the first cycle at which both its input
and its output port are free (a maximum matching, no allocation losses), with VCs assigned round-robin by
the upstream router. In both, credits return `credit_delay` + 1 cycles after a flit leaves a buffer, and
packets are generated as in BookSim2: Bernoulli injection per node and cycle, uniform random destinations
including the source.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from simulator.errors import UserError, allowed
from simulator.npu.noc_spec import NocSpec

TRAFFIC = ("uniform", "transpose", "bitcomp", "neighbor", "tornado")
_EJECT = 4          # port index of the terminal (ejection) on a mesh router


def average_hops(spec: NocSpec) -> float:
    """Routers visited by a uniform-random packet (source and destination included, self-traffic included)."""
    if spec.topology == "crossbar":
        return 1.0
    k = spec.k
    return 1.0 + 2.0 * (k * k - 1) / (3.0 * k)


def zero_load_latency(spec: NocSpec, hops: float | None = None) -> float:
    """Cycles from creation to the tail's arrival with no contention, for a route through `hops` routers."""
    hops = average_hops(spec) if hops is None else hops
    links = hops - 1
    return (spec.injection_latency + hops * spec.router_delay + links * spec.link_latency
            + spec.ejection_latency + (spec.packet_size - 1))


def transfer_cycles(spec: NocSpec, nbytes: float, hops: float | None = None) -> float:
    """Zero-load cycles to move `nbytes` as a train of flits over a route (serialised at one flit per cycle)."""
    flits = max(1.0, math.ceil(nbytes / spec.flit_bytes))
    return zero_load_latency(spec, hops) - (spec.packet_size - 1) + (flits - 1)


def _destinations(traffic: str, src: np.ndarray, spec: NocSpec, rng: np.random.Generator) -> np.ndarray:
    nodes = spec.nodes
    if traffic == "uniform":
        return rng.integers(0, nodes, size=src.size)
    if spec.topology == "crossbar":
        if traffic == "neighbor":
            return (src + 1) % nodes
        if traffic == "tornado":
            return (src + nodes // 2) % nodes
        return (nodes - 1) - src                      # transpose / bitcomp: mirrored port
    k = spec.k
    x, y = src % k, src // k
    if traffic == "transpose":
        return x * k + y
    if traffic == "bitcomp":
        return (nodes - 1) - src
    if traffic == "neighbor":
        return y * k + (x + 1) % k
    return y * k + (x + (k - 1) // 2) % k          # tornado (BookSim: half way round the ring, in x)


def run_noc(spec: NocSpec, traffic: str = "uniform", injection_rate: float = 0.01, *,
            warmup: int | None = None, measure: int | None = None, seed: int | None = None) -> dict:
    """Simulate `traffic` at `injection_rate` packets per node per cycle; BookSim-style latency statistics.

    Returns avg_packet_latency_cycles (creation to tail arrival, packets created in the measured window),
    avg_hops (routers visited), accepted_flits_per_node_cycle (flits ejected per node per measured cycle),
    plus zero-load and percentile figures and `saturated` (average latency above `latency_thres`, or fewer
    flits accepted than offered by more than 5 %).
    """
    if traffic not in TRAFFIC:
        raise UserError(f"unknown traffic pattern {traffic!r}; {allowed(TRAFFIC)}", key="--traffic")
    if not 0 < injection_rate <= 1:
        raise UserError(f"injection rate must be in (0, 1] packets/node/cycle, got {injection_rate}",
                        key="--injection-rate")
    warmup = spec.warmup_periods * spec.sample_period if warmup is None else int(warmup)
    measure = min(spec.max_samples, 3) * spec.sample_period if measure is None else int(measure)
    drain = max(spec.sample_period, 1000)
    horizon = warmup + measure + drain
    rng = np.random.default_rng(spec.seed if seed is None else seed)
    nodes, size = spec.nodes, spec.packet_size

    # Bernoulli injection per node per cycle (vectorised), then destinations
    inject = rng.random((horizon, nodes)) < injection_rate
    t_create, src = np.nonzero(inject)
    dst = _destinations(traffic, src, spec, rng)
    measured = (t_create >= warmup) & (t_create < warmup + measure)
    if spec.sw_allocator == "ideal":
        done, hops = _simulate(spec, t_create, src, dst)
    else:
        done, hops = _simulate_separable(spec, t_create, src, dst, warmup + measure, measured)
    arrived = done[measured] >= 0                 # all of them unless the run hit its cycle cap (saturated)
    latency = np.where(arrived, done[measured], done.max() + 1) - t_create[measured]
    in_window = (done >= warmup) & (done < warmup + measure)
    accepted = in_window.sum() * size / (nodes * measure)
    offered = injection_rate * size
    avg = float(latency.mean()) if latency.size else float("nan")
    return {
        "topology": spec.topology,
        "nodes": nodes,
        "traffic": traffic,
        "injection_rate": injection_rate,
        "packets_measured": int(latency.size),
        "avg_packet_latency_cycles": avg,
        "p99_packet_latency_cycles": float(np.percentile(latency, 99)) if latency.size else float("nan"),
        "max_packet_latency_cycles": float(latency.max()) if latency.size else float("nan"),
        "avg_hops": float(hops[measured].mean()) if latency.size else float("nan"),
        "zero_load_latency_cycles": zero_load_latency(spec),
        "accepted_flits_per_node_cycle": float(accepted),
        "offered_flits_per_node_cycle": offered,
        "saturated": bool(avg > spec.latency_thres or accepted < 0.95 * offered or not arrived.all()),
        "warmup_cycles": warmup,
        "measured_cycles": measure,
    }


def _simulate(spec: NocSpec, t_create: np.ndarray, src: np.ndarray, dst: np.ndarray):
    """Ideal allocators, one event per packet per router; returns tail arrival cycles and routers visited.

    Per input port, packets queue in `num_vcs` FIFO virtual channels (assigned round-robin by the upstream
    router, as its VC allocator does). A packet starts route computation when it reaches the head of its VC:
    on arrival, or the cycle after its predecessor in that VC won the switch; it requests the switch
    `routing + vc_alloc + sw_alloc` cycles later. It may cross only if its downstream VC has a free buffer
    slot: the packet `vc_buf_size` places ahead in that VC must have left, and its credit come back
    (`credit_delay` + the credit channel's cycle). Then it takes the first cycle at which its input and its
    output port are both free. A packet is scheduled only when it can be decided (its predecessor and the
    packet holding its credit have left), so blocked packets cost no events."""
    count = t_create.size
    done = np.zeros(count, dtype=np.int64)
    hops = np.zeros(count, dtype=np.int64)
    size = spec.packet_size
    ready_delay = int(spec.routing_delay + spec.vc_alloc_delay + spec.sw_alloc_delay)
    st, link = int(spec.st_final_delay), int(spec.link_latency)
    inj, ej = int(spec.injection_latency), int(spec.ejection_latency)
    credit = int(spec.credit_delay) + 1
    vcs, depth = spec.num_vcs, max(1, spec.vc_buf_size // size)
    mesh = spec.topology == "mesh"
    k = spec.k
    ports = 5 if mesh else spec.nodes
    routers = spec.nodes if mesh else 1
    in_busy: list[set[int]] = [set() for _ in range(routers * ports)]
    out_busy: list[set[int]] = [set() for _ in range(routers * ports)]
    nlanes = routers * ports * vcs
    sw: list[list[int]] = [[] for _ in range(nlanes)]     # switch cycle of each entry (-1: not yet)
    arr: list[list[int]] = [[] for _ in range(nlanes)]    # ready cycle on arrival (-1: not arrived)
    pk: list[list[int]] = [[] for _ in range(nlanes)]     # packet of each entry
    rr = [0] * (routers * ports)                          # round-robin VC pointer per output port
    waiters: dict[tuple[int, int], list[tuple[int, int]]] = {}   # entry -> entries waiting for its credit
    nxt_lane: dict[int, tuple[int, int]] = {}
    heap: list[tuple[int, int, int, int]] = []          # (ready, tie, lane, position)
    heappop, heappush = heapq.heappop, heapq.heappush
    tie = pops = 0

    def allocate(gp: int, lane_base: int, p: int) -> tuple[int, int]:
        lane = lane_base + rr[gp]
        rr[gp] = (rr[gp] + 1) % vcs
        sw[lane].append(-1)
        arr[lane].append(-1)
        pk[lane].append(p)
        return lane, len(sw[lane]) - 1

    # injection: a source channel carries one flit per cycle into the local port's VCs
    inj_free = np.zeros(spec.nodes, dtype=np.int64)
    order = np.lexsort((src, t_create))
    t_list, s_list, d_list = t_create.tolist(), src.tolist(), dst.tolist()
    for p in order.tolist():
        s = s_list[p]
        arrive = max(t_list[p] + inj, int(inj_free[s]))
        inj_free[s] = arrive + size
        gp = (s * ports + _EJECT) if mesh else s
        lane, pos = allocate(gp, gp * vcs, p)
        arr[lane][pos] = arrive + ready_delay
        if pos == 0:
            heap.append((arrive + ready_delay, tie, lane, pos))
            tie += 1
    heapq.heapify(heap)
    dx_of = [d % k for d in d_list] if mesh else d_list
    dy_of = [d // k for d in d_list] if mesh else d_list

    while heap:
        ready, _, lane, pos = heappop(heap)
        pops += 1
        p = pk[lane][pos]
        gin = lane // vcs
        router, inport = divmod(gin, ports)
        if mesh:
            x, y = router % k, router // k
            dx, dy = dx_of[p], dy_of[p]
            out = 0 if x < dx else 1 if x > dx else 2 if y < dy else 3 if y > dy else _EJECT
        else:
            out = d_list[p]
        eject = out == _EJECT or not mesh
        earliest = ready
        if not eject:
            nxt = router + (1, -1, k, -k)[out]
            if p in nxt_lane:
                lane2, pos2 = nxt_lane[p]
            else:                                     # VC allocation, round-robin over the output's VCs
                gout = router * ports + out
                lane2, pos2 = allocate(gout, (nxt * ports + (out ^ 1)) * vcs, p)
                nxt_lane[p] = (lane2, pos2)
            if pos2 >= depth:                         # credit: the entry `depth` ahead must have left
                freed = sw[lane2][pos2 - depth]
                if freed < 0:
                    waiters.setdefault((lane2, pos2 - depth), []).append((lane, pos))
                    continue
                earliest = max(earliest, freed + credit)
        ib, ob = in_busy[router * ports + inport], out_busy[router * ports + out]
        slot = earliest
        if size == 1:
            while slot in ib or slot in ob:
                slot += 1
            ib.add(slot)
            ob.add(slot)
        else:
            while any((c in ib or c in ob) for c in range(slot, slot + size)):
                slot += 1
            ib.update(range(slot, slot + size))
            ob.update(range(slot, slot + size))
        last = slot + size - 1
        sw[lane][pos] = last
        hops[p] += 1
        if eject:
            done[p] = slot + st + ej + (size - 1)
        else:
            del nxt_lane[p]
            reach = slot + st + link + ready_delay
            arr[lane2][pos2] = reach
            if pos2 == 0 or sw[lane2][pos2 - 1] >= 0:
                heappush(heap, (max(reach, sw[lane2][pos2 - 1] + 1 + ready_delay) if pos2 else reach,
                                tie, lane2, pos2))
                tie += 1
        # the next packet of this VC becomes its head; packets waiting for this buffer slot get their credit
        if pos + 1 < len(sw[lane]) and arr[lane][pos + 1] >= 0:
            heappush(heap, (max(arr[lane][pos + 1], last + 1 + ready_delay), tie, lane, pos + 1))
            tie += 1
        for w_lane, w_pos in waiters.pop((lane, pos), ()):
            heappush(heap, (max(arr[w_lane][w_pos], last + credit,
                                sw[w_lane][w_pos - 1] + 1 + ready_delay if w_pos else 0), tie, w_lane, w_pos))
            tie += 1
        if pops % 65536 == 0:                         # forget bookings in the past
            for busy in (in_busy, out_busy):
                for i, b in enumerate(busy):
                    if b:
                        busy[i] = {c for c in b if c >= ready}
    return done, hops


def _mesh_tables(spec: NocSpec):
    """Per input VC (lane) its router, upstream output VC; per output VC its downstream lane (-1: a terminal)."""
    vcs, k = spec.num_vcs, spec.k
    mesh = spec.topology == "mesh"
    ports = 5 if mesh else spec.nodes
    routers = spec.nodes if mesh else 1
    lanes = routers * ports * vcs
    down = np.full(lanes, -1, dtype=np.int64)          # output VC (router, out port, vc) -> next router's lane
    up = np.full(lanes, -1, dtype=np.int64)            # lane -> the upstream output VC that feeds it
    if mesh:
        idx = np.arange(lanes)
        r, o, v = idx // (ports * vcs), (idx // vcs) % ports, idx % vcs
        x, y = r % k, r // k
        step = np.array([1, -1, k, -k, 0])[o]
        inside = np.select([o == 0, o == 1, o == 2, o == 3], [x < k - 1, x > 0, y < k - 1, y > 0], False)
        nxt = ((r + step) * ports + (o ^ 1)) * vcs + v
        down[inside] = nxt[inside]
        up[nxt[inside]] = idx[inside]
    return ports, routers, down, up


def _first_per_group(group: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """Index of the request that wins in each group: smallest keys (last key most significant), as an arbiter."""
    order = np.lexsort((*keys, group))
    g = group[order]
    first = np.ones(g.size, dtype=bool)
    first[1:] = g[1:] != g[:-1]
    return order[first]


def _simulate_separable(spec: NocSpec, t_create: np.ndarray, src: np.ndarray, dst: np.ndarray,
                        until: int, watch: np.ndarray):
    """Cycle by cycle, vectorised over all routers: BookSim2's input-queued router with separable input-first
    VC and switch allocators (one pass, round-robin arbiters), flit by flit. Runs until the packets flagged in
    `watch` have arrived and cycle `until` is reached. Returns tail arrival cycles (-1: not arrived) and hops.

    Per cycle, in BookSim's order: credits and flits arrive; each idle VC whose head flit arrived starts route
    computation; VC allocation for heads routed `routing_delay` cycles earlier; switch allocation for flits of
    VCs that hold an output VC and a credit; winners leave (an output VC is released when its tail is sent)."""
    size, vcs, depth = spec.packet_size, spec.num_vcs, spec.vc_buf_size
    r_d, va, sa = int(spec.routing_delay), int(spec.vc_alloc_delay), int(spec.sw_alloc_delay)
    st, link = int(spec.st_final_delay), int(spec.link_latency)
    inj, ej = int(spec.injection_latency), int(spec.ejection_latency)
    credit_back = sa - 1 + 1 + int(spec.credit_delay)   # flit leaves the buffer at sa-1; credit channel 1 cycle
    hop = sa + st + link                                 # switch grant to arrival in the next router's buffer
    mesh, k, nodes = spec.topology == "mesh", spec.k, spec.nodes
    ports, routers, down, up = _mesh_tables(spec)
    lanes, pv = routers * ports * vcs, ports * vcs
    inj_port = np.full(nodes, _EJECT) if mesh else np.arange(nodes)
    inj_router = np.arange(nodes) if mesh else np.zeros(nodes, dtype=np.int64)
    inj_lane0 = (inj_router * ports + inj_port) * vcs   # injection lanes of each node: + vc
    is_inj = np.zeros(lanes, dtype=bool)
    is_inj[(inj_lane0[:, None] + np.arange(vcs)).ravel()] = True
    lane_router = np.arange(lanes) // pv
    lane_local = np.arange(lanes) % pv                   # input VC index in its router: port * vcs + vc
    lane_node = np.zeros(lanes, dtype=np.int64)          # injection lane -> node
    lane_node[(inj_lane0[:, None] + np.arange(vcs)).ravel()] = np.repeat(np.arange(nodes), vcs)

    count = t_create.size
    done = np.full(count, -1, dtype=np.int64)
    hops = np.zeros(count, dtype=np.int64)
    dx, dy = (dst % k, dst // k) if mesh else (dst, dst)

    # input VC buffers (ring of flit ids = packet * size + flit), VC state: 0 idle, 1 VC allocation, 2 active
    buf = np.zeros((lanes, depth), dtype=np.int64)
    bhead = np.zeros(lanes, dtype=np.int64)
    bcnt = np.zeros(lanes, dtype=np.int64)
    state = np.zeros(lanes, dtype=np.int8)
    when = np.zeros(lanes, dtype=np.int64)               # first cycle of the next VC or switch request
    held = np.full(lanes, -1, dtype=np.int64)            # output VC held by the lane's packet
    # output VC state (as BookSim's BufferState of the next router): in use by a packet, flits not yet credited
    in_use = np.zeros(lanes, dtype=bool)
    occ = np.zeros(lanes, dtype=np.int64)
    terminal = down < 0
    # round-robin pointers (last grant, -1 at start): VC allocator per input VC and per output VC; switch
    # allocator per input port (over outputs) and per output port (over inputs); VC preselection per input port
    vc_in_ptr = np.full(lanes, -1, dtype=np.int64)
    vc_out_ptr = np.full(lanes, -1, dtype=np.int64)
    sw_in_ptr = np.full(routers * ports, -1, dtype=np.int64)
    sw_out_ptr = np.full(routers * ports, -1, dtype=np.int64)
    sw_offset = np.zeros(routers * ports, dtype=np.int64)
    # sources: FIFO of packets per node; the terminal's view of its injection VCs
    queue = np.lexsort((t_create, src))
    q_ptr = np.searchsorted(src[queue], np.arange(nodes))
    q_end = np.searchsorted(src[queue], np.arange(nodes), side="right")
    q_flit = np.zeros(nodes, dtype=np.int64)
    src_vc = np.zeros(nodes, dtype=np.int64)
    src_last = np.full(nodes, -1, dtype=np.int64)
    src_use = np.zeros((nodes, vcs), dtype=bool)
    src_occ = np.zeros((nodes, vcs), dtype=np.int64)
    queue = np.append(queue, 0)                          # sentinel for empty queues
    ready_at = t_create + inj
    arrivals: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    credits: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    vrange = np.arange(vcs)
    remaining = int(watch.sum())
    t = 0

    def receive(lane: np.ndarray, fid: np.ndarray) -> None:
        buf[lane, (bhead[lane] + bcnt[lane]) % depth] = fid
        bcnt[lane] += 1
        idle = lane[state[lane] == 0]                   # a head reaches an idle VC: route computation starts
        state[idle] = 1
        when[idle] = t + r_d

    while remaining > 0 or t < until:
        if t in credits:                                 # credits processed before allocation
            router_ovc, src_slot = credits.pop(t)
            occ[router_ovc] -= 1
            src_occ.reshape(-1)[src_slot] -= 1
        if t in arrivals:
            receive(*arrivals.pop(t))
        # injection: one flit per node and cycle; a head takes the next VC (round-robin) free and not full
        pending = np.flatnonzero(q_ptr < q_end)
        if pending.size:
            pk = queue[q_ptr[pending]]
            go = ready_at[pk] <= t
            pending, pk = pending[go], pk[go]
            if pending.size:
                head = q_flit[pending] == 0
                cand = (src_last[pending, None] + 1 + vrange) % vcs
                free = ~src_use[pending[:, None], cand] & (src_occ[pending[:, None], cand] < depth)
                first = free.argmax(1)
                vc = np.where(head, cand[np.arange(pending.size), first], src_vc[pending])
                ok = np.where(head, free.any(1), src_occ[pending, vc] < depth)
                n, pk, vc, head = pending[ok], pk[ok], vc[ok], head[ok]
                if n.size:
                    fi = q_flit[n]
                    tail = fi == size - 1
                    src_use[n[head], vc[head]] = True
                    src_use[n[tail], vc[tail]] = False
                    src_occ[n, vc] += 1
                    src_vc[n], src_last[n] = vc, vc
                    q_flit[n] = np.where(tail, 0, fi + 1)
                    q_ptr[n] += tail
                    receive(inj_lane0[n] + vc, pk * size + fi)
        # VC allocation (separable input-first): each input VC bids for one free output VC of its output port,
        # each output VC grants one bidder; losers retry next cycle
        req = np.flatnonzero((state == 1) & (when <= t))
        if req.size:
            pk = buf[req, bhead[req]] // size
            r = lane_router[req]
            if mesh:
                x, y = r % k, r // k
                out = np.select([x < dx[pk], x > dx[pk], y < dy[pk], y > dy[pk]], [0, 1, 2, 3], _EJECT)
            else:
                out = dst[pk]
            local = out[:, None] * vcs + vrange              # output VC index in the router: port * vcs + vc
            cand = r[:, None] * pv + local
            rank = np.where(in_use[cand], pv, (local - vc_in_ptr[req, None] - 1) % pv)
            pick = rank.argmin(1)
            bid = rank[np.arange(req.size), pick] < pv
            req, ovc = req[bid], cand[bid, pick[bid]]
            if req.size:
                win = _first_per_group(ovc, (lane_local[req] - vc_out_ptr[ovc] - 1) % pv)
                wl, wo = req[win], ovc[win]
                in_use[wo] = True
                vc_in_ptr[wl] = wo % pv
                vc_out_ptr[wo] = lane_local[wl]
                held[wl] = wo
                state[wl] = 2
                when[wl] = t + va
        # switch allocation (separable input-first): per input port one VC per output (round-robin from the
        # VC after the last winner), the input arbiter picks one output, each output arbiter one input
        req = np.flatnonzero((state == 2) & (when <= t) & (bcnt > 0))
        if req.size:
            ovc = held[req]
            ok = terminal[ovc] | (occ[ovc] < depth)
            req, ovc = req[ok], ovc[ok]
        if req.size:
            inp, outp = req // vcs, ovc // vcs
            bid = _first_per_group(inp, (req % vcs - sw_offset[inp]) % vcs,
                                   (outp % ports - sw_in_ptr[inp] - 1) % ports)
            req, ovc, inp, outp = req[bid], ovc[bid], inp[bid], outp[bid]
            win = _first_per_group(outp, (inp % ports - sw_out_ptr[outp] - 1) % ports)
            wl, wo, wi, wp = req[win], ovc[win], inp[win], outp[win]
            sw_in_ptr[wi] = wp % ports
            sw_out_ptr[wp] = wi % ports
            sw_offset[wi] = (wl % vcs + 1) % vcs
            fid = buf[wl, bhead[wl]]
            bhead[wl] = (bhead[wl] + 1) % depth
            bcnt[wl] -= 1
            pk, fi = fid // size, fid % size
            tail = fi == size - 1
            hops[pk[fi == 0]] += 1
            occ[wo] += 1
            in_use[wo[tail]] = False
            # credit for the freed buffer slot, to the upstream router or the source
            inj_l = is_inj[wl]
            credits[t + credit_back] = (up[wl[~inj_l]],
                                        lane_node[wl[inj_l]] * vcs + wl[inj_l] % vcs)
            fwd = ~terminal[wo]
            if fwd.any():
                arrivals[t + hop] = (down[wo[fwd]], fid[fwd])
            last = pk[~fwd & tail]
            if last.size:
                done[last] = t + sa + st + ej
                remaining -= int(watch[last].sum())
            # the VC's next flit: a body flit bids again after sw_alloc; after a tail the next head is routed
            nxt = wl[tail]
            busy = bcnt[nxt] > 0
            state[nxt] = np.where(busy, 1, 0)
            when[nxt[busy]] = t + sa + r_d
            when[wl[~tail]] = t + sa
        t += 1
        if t > 100 * until:
            break
    return done, hops
