"""Serving metrics from the per-request and per-iteration tables.

    TTFT = first token - arrival          TPOT = (finish - first token) / (output - 1)   (output > 1)
    e2e  = finish - arrival               queueing = first scheduled - arrival
    throughput = finished requests (output tokens) / (last finish - first arrival)
    goodput = requests meeting every SLO / (last finish - first arrival); attainment = their share
    energy = iterations' energy + static energy of idle devices; energy per output token = energy / tokens
    Little's law: time-average of the requests in the system (queued, running or swapped, counted by the
    scheduler at each iteration's start) = arrival rate x mean e2e.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.serving.state import Req

PERCENTILES = (50, 90, 99)


def requests_table(reqs: list[Req]) -> pd.DataFrame:
    cols = {
        "id": [r.id for r in reqs], "arrival_s": [r.arrival for r in reqs], "prompt_len": [r.prompt for r in reqs],
        "output_len": [r.output for r in reqs], "replica": [r.replica for r in reqs],
        "first_scheduled_s": [r.first_scheduled for r in reqs], "first_token_s": [r.first_token for r in reqs],
        "finish_s": [r.finish for r in reqs], "preemptions": [r.preemptions for r in reqs],
        "swaps": [r.swaps for r in reqs],
    }
    df = pd.DataFrame(cols)
    df["ttft_s"] = df["first_token_s"] - df["arrival_s"]
    df["tpot_s"] = np.where(df["output_len"] > 1, (df["finish_s"] - df["first_token_s"])
                            / np.maximum(df["output_len"] - 1, 1), np.nan)
    df["e2e_s"] = df["finish_s"] - df["arrival_s"]
    df["queue_s"] = df["first_scheduled_s"] - df["arrival_s"]
    return df


def stats(values: pd.Series) -> dict:
    v = values.dropna().to_numpy()
    if not len(v):
        return {"mean": None, **{f"p{p}": None for p in PERCENTILES}}
    return {"mean": float(v.mean()), **{f"p{p}": float(np.percentile(v, p)) for p in PERCENTILES}}


def meets(df: pd.DataFrame, slos: dict[str, float]) -> np.ndarray:
    ok = np.ones(len(df), dtype=bool)
    for key, limit in slos.items():
        col = df[f"{key}_s"].to_numpy()
        ok &= np.where(np.isnan(col), True, col <= limit)
    return ok


def summarise(req: pd.DataFrame, it: pd.DataFrame, slos: dict[str, float], *, idle_j: float, devices: int,
              goal: float) -> dict:
    span = float(req["finish_s"].max() - req["arrival_s"].min())
    tokens = int(req["output_len"].sum())
    energy = float(it["energy_j"].sum()) + idle_j
    ok = meets(req, slos)
    arrival_span = float(req["arrival_s"].max() - req["arrival_s"].min())
    out = {
        "requests": len(req), "devices": devices, "duration_s": span,
        "throughput": {"requests_per_s": len(req) / span, "output_tokens_per_s": tokens / span,
                       "input_tokens_per_s": int(req["prompt_len"].sum()) / span,
                       "arrival_rate": (len(req) - 1) / arrival_span if arrival_span > 0 else None},
        "latency_s": {k: stats(req[f"{k}_s"]) for k in ("ttft", "tpot", "e2e", "queue")},
        "slo": {**slos, "attainment": float(ok.mean()), "goodput_requests_per_s": float(ok.sum()) / span,
                "met": bool(ok.mean() >= goal) if slos else None, "goal": goal},
        "energy": {"total_j": energy, "idle_j": idle_j, "per_output_token_j": energy / tokens,
                   "average_power_w": energy / span},
        "batch": batch_stats(it),
        "preemptions": int(req["preemptions"].sum()), "swaps": int(req["swaps"].sum()),
        "littles_law": littles_law(req, it),
    }
    return out


def batch_stats(it: pd.DataFrame) -> dict:
    w = it["latency_s"].to_numpy()
    size = (it["decode"] + it["prefill"]).to_numpy()
    used = (it["kv_blocks_used"] / it["kv_blocks"]).to_numpy()
    return {"iterations": len(it), "mean_batch": float(np.average(size, weights=w)) if w.sum() else 0.0,
            "max_batch": int(size.max()) if len(size) else 0,
            "kv_usage_mean": float(np.average(used, weights=w)) if w.sum() else 0.0,
            "kv_usage_peak": float(used.max()) if len(used) else 0.0,
            "by_kind": it.groupby("kind")["latency_s"].agg(["count", "sum"]).to_dict("index")}


def littles_law(req: pd.DataFrame, it: pd.DataFrame) -> dict:
    """L (time-average of the requests in the system, from the scheduler's queues at each iteration's start plus
    the arrivals during it; idle gaps count 0) against lambda W (arrival rate x mean e2e). Co-located serving
    only (one group)."""
    if it["group"].nunique() != 1:
        return {}
    span = float(req["finish_s"].max() - req["arrival_s"].min())
    in_sys = float(it["in_system_area"].sum()) / span
    lam = len(req) / span
    w = float(req["e2e_s"].mean())
    return {"L": in_sys, "lambda_W": lam * w, "ratio": in_sys / (lam * w)}


def flat(summary: dict) -> dict:
    """The headline numbers of a summary as one flat row (for sweeps and plan tables)."""
    lat = summary["latency_s"]
    return {"throughput_rps": summary["throughput"]["requests_per_s"],
            "tokens_per_s": summary["throughput"]["output_tokens_per_s"],
            "ttft_p50_s": lat["ttft"]["p50"], "ttft_p99_s": lat["ttft"]["p99"],
            "tpot_p50_s": lat["tpot"]["p50"], "tpot_p99_s": lat["tpot"]["p99"],
            "e2e_p50_s": lat["e2e"]["p50"], "e2e_p99_s": lat["e2e"]["p99"],
            "attainment": summary["slo"]["attainment"], "goodput_rps": summary["slo"]["goodput_requests_per_s"],
            "energy_per_token_j": summary["energy"]["per_output_token_j"], "mean_batch": summary["batch"]["mean_batch"],
            "preemptions": summary["preemptions"]}
