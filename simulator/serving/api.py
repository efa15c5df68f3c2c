"""`serve()`: a request stream served on simulated hardware, as DataFrames (requests, iterations, KV transfers)
and a summary; the function beside `simulate()` that the CLI, the plan search and the reports call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.config.loader import parse_set
from simulator.errors import ConfigError
from simulator.serving import metrics
from simulator.serving.config import parse_serve_sets, parse_slo
from simulator.serving.engine import idle_energy, run_replica
from simulator.serving.groups import Deployment, deployment
from simulator.serving.kv import kv_bytes_per_token
from simulator.serving.requests import Stream, read_trace, synthetic
from simulator.serving.schedulers import Limits, scheduler
from simulator.serving.state import Replica, Req
from simulator.workload.spec import load_workload

TRANSFER_COLUMNS = ("request", "prefill_replica", "decode_replica", "start_s", "end_s", "bytes")


@dataclass
class Serving:
    """What one serving simulation produced."""

    requests: pd.DataFrame
    iterations: pd.DataFrame
    transfers: pd.DataFrame
    summary: dict
    deployment: Deployment = field(repr=False)

    def write(self, out: str | Path, *, force: bool = False) -> None:
        """The run's folder (requests.csv, iterations.csv, ...), written as `simulate run --out` writes its record."""
        from simulator.serving.outputs import write_serving

        write_serving(self, Path(out), force=force)


def serve(hw: str | Path, workload: str | Path, sets: Sequence[str] = (), *, rate: float | None = None,
          trace: str | Path | None = None, requests: int | None = None, lengths: str = "sharegpt",
          arrival: str = "poisson", cv: float = 1.0, seed: int = 0, scheduler_name: str = "vllm",
          slo: str | dict | None = None, level: str | None = None, cache: str = "exact",
          stream: Stream | None = None) -> Serving:
    """Serve a request stream (`rate` with `lengths`, a `trace` CSV, or a ready `stream`) of `workload`'s model on
    `hw`; `sets` are `--set` items (hw.*, workload.*, serve.*)."""
    spec, rest = parse_serve_sets(list(sets))
    slos = parse_slo(slo) if not isinstance(slo, dict) else slo
    policy_factory = scheduler(scheduler_name)
    overrides = parse_set(rest)
    wl = load_workload(workload, overrides["workload"])
    max_pos = wl.model.max_position
    if stream is None:
        if trace is not None:
            stream = read_trace(Path(trace), max_pos, rate, arrival, cv, rng=np.random.default_rng(seed),
                                limit=requests)
        elif rate is None:
            raise ConfigError("give --rate R (requests/s) or --trace FILE", file="--rate")
        else:
            stream = synthetic(requests or 1000, rate, lengths, max_pos, arrival, cv, seed)
    longest = int((stream.prompt + stream.output).max())
    mbt = spec.max_batched_tokens or max(2048, max_pos)
    if mbt < longest:
        raise ConfigError(f"max_batched_tokens={mbt} is shorter than the longest request ({longest} tokens); "
                          f"allowed: >= {longest}", file="--set", key="serve.max_batched_tokens")
    dep = deployment(hw, wl, rest, spec, level=level, cache=cache, longest=longest)
    limits = Limits(spec.max_batch, mbt, spec.chunk_size)
    reqs = [Req(i, float(a), int(p), int(o)) for i, (a, p, o) in
            enumerate(zip(stream.arrival_s, stream.prompt, stream.output))]
    rows: list[pd.DataFrame] = []
    transfers: list[tuple] = []
    first = dep.groups[0]
    if not dep.disaggregated:
        for k in range(first.replicas):
            rep = Replica(replace(dep.pools[0]), spec.preemption)
            r, _ = run_replica(first, k, reqs[k::first.replicas], policy_factory(), limits, rep, dep.swap_link)
            rows.append(r)
    else:
        if scheduler_name == "static":
            raise ConfigError("disaggregation needs a continuous-batching scheduler; allowed: vllm, sarathi",
                              file="--scheduler")
        d = spec.disaggregation
        for k in range(first.replicas):
            rep = Replica(replace(dep.pools[0]), spec.preemption)
            r, h = run_replica(first, k, reqs[k::first.replicas], scheduler(d.prefill_scheduler)(), limits, rep,
                               dep.swap_link, prefill_only=True)
            rows.append(r)
            transfers += send_kv(h, k, dep)
        handed = sorted((q for q in reqs if q.finish != q.finish), key=lambda q: (q.ready, q.id))
        dec = dep.groups[1]
        for k in range(dec.replicas):
            rep = Replica(replace(dep.pools[1]), spec.preemption)
            r, _ = run_replica(dec, k, handed[k::dec.replicas], policy_factory(), limits, rep, dep.swap_link)
            rows.append(r)
    req_df = metrics.requests_table(reqs)
    it_df = pd.concat(rows, ignore_index=True)
    tr_df = pd.DataFrame(transfers, columns=list(TRANSFER_COLUMNS))
    if len(tr_df):
        req_df = req_df.merge(tr_df[["request", "start_s", "end_s"]].rename(
            columns={"start_s": "kv_send_s", "end_s": "kv_arrive_s"}), left_on="id", right_on="request",
            how="left").drop(columns="request")
    horizon = float(req_df["finish_s"].max())
    idle = sum(idle_energy(it_df, g, horizon) for g in dep.groups)
    summary = metrics.summarise(req_df, it_df, slos, idle_j=idle, devices=dep.devices,
                                goal=spec.goodput_attainment)
    summary["scheduler"] = scheduler_name
    summary["cache"] = {g.name: {"mode": cache, "hits": g.model.hits, "misses": g.model.misses,
                                 **g.model.interpolation_error()} for g in dep.groups}
    summary["kv_blocks_per_replica"] = {g.name: p.blocks for g, p in zip(dep.groups, dep.pools)}
    summary["config"] = {"hw": {g.name: g.model.system.resolved for g in dep.groups},
                         "workload": wl.resolved, "serve": spec.model_dump(), "slo": slos,
                         "stream": {"rate": rate, "trace": str(trace) if trace else None, "lengths": lengths,
                                    "arrival": arrival, "cv": cv, "seed": seed}}
    return Serving(req_df, it_df, tr_df, summary, dep)


def send_kv(handed: list[Req], prefill_replica: int, dep: Deployment) -> list[tuple]:
    """Send each request's KV cache from its prefill replica over the KV link, one request after another per
    replica (each of the tp devices sends its shard in parallel): bytes / bandwidth + latency."""
    link = dep.kv_link
    per_token = kv_bytes_per_token(dep.workload)
    free_at = 0.0
    out = []
    for req in handed:
        nbytes = req.prompt * per_token
        start = max(req.ready, free_at)
        end = start + nbytes / link.bandwidth + link.latency
        free_at = end
        req.ready = end
        out.append((req.id, prefill_replica, -1, start, end, nbytes * dep.workload.spec.tp))
    return out


def rates(text: str) -> np.ndarray:
    """`a:b:n` -> n rates from a to b."""
    try:
        a, b, n = text.split(":")
        lo, hi, count = float(a), float(b), int(n)
    except ValueError:
        raise ConfigError(f"'{text}' must look like a:b:n (rates in requests/s, n >= 1)", file="--sweep-rate") from None
    if not (lo > 0 and hi >= lo and count >= 1):
        raise ConfigError(f"'{text}': need 0 < a <= b and n >= 1", file="--sweep-rate")
    return np.linspace(lo, hi, count)


def sweep(hw, workload, sets: Sequence[str] = (), *, rate_grid: np.ndarray, slo: str | dict | None = None,
          **kwargs) -> pd.DataFrame:
    """Latency against load: one `serve()` per rate (same seed), with SLO attainment and goodput."""
    rows = []
    for r in rate_grid:
        s = serve(hw, workload, sets, rate=float(r), slo=slo, **kwargs).summary
        rows.append({"rate": float(r), **metrics.flat(s), "met": s["slo"]["met"]})
    return pd.DataFrame(rows)
