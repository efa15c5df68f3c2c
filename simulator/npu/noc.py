"""On-chip network timing: closed forms for transfers, and a packet-level simulation for latency vs load.

The simulation is event-driven at packet granularity (one event per packet per router, never per cycle):
a packet created at cycle t waits for its node's injection channel, then at each router on its
dimension-order (X then Y) route it queues in a virtual channel of its input port, reaches the head of that
VC, is ready for the switch `routing + vc_alloc + sw_alloc` cycles later, needs a credit for a buffer slot in
its downstream VC, and is granted the first cycle at which both its input port and its output port are free
(input speedup = output speedup = 1). It leaves after `st_final` and reaches the next router after the link
latency. A packet of P flits holds both ports for P consecutive cycles (a flit batch). Packets are generated
as in BookSim2: Bernoulli injection per node and cycle, uniform random destinations including the source.
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
    stats = _simulate(spec, t_create, src, dst)
    done, hops = stats

    measured = (t_create >= warmup) & (t_create < warmup + measure)
    latency = done[measured] - t_create[measured]
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
        "saturated": bool(avg > spec.latency_thres or accepted < 0.95 * offered),
        "warmup_cycles": warmup,
        "measured_cycles": measure,
    }


def _simulate(spec: NocSpec, t_create: np.ndarray, src: np.ndarray, dst: np.ndarray):
    """One event per packet per router; returns the tail arrival cycle and the routers visited per packet.

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
