"""Plan search (APEX-style): every way to deploy a model on N devices, served at one rate, ranked by goodput
under the SLO and by energy per output token, with the Pareto set of the two.

A plan is tp x pp devices per replica (tp a divisor of the model's heads, pp of its layers), dp = N / (tp pp)
replicas behind a round-robin router, and for dp >= 2 also every disaggregated split of the replicas into
prefill:decode. Pipeline stages run one after another within an iteration (no micro-batching: the executor does
not overlap micro-batches yet), so pp only ever trades latency for memory here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from simulator.config.loader import parse_set
from simulator.errors import ConfigError, UserError
from simulator.hardware.system import load_system
from simulator.serving import metrics
from simulator.serving.api import serve
from simulator.serving.groups import device_count_key
from simulator.workload.spec import load_workload

MAX_TP = 8


def plans(devices: int, heads: int, kv_heads: int, layers: int) -> list[dict]:
    out = []
    for tp in range(1, min(devices, MAX_TP) + 1):
        if heads % tp or not (kv_heads % tp == 0 or tp % kv_heads == 0):
            continue
        for pp in range(1, devices // tp + 1):
            if devices % (tp * pp) or pp > layers or pp > 4:
                continue
            dp = devices // (tp * pp)
            out.append({"tp": tp, "pp": pp, "dp": dp, "prefill": 0, "decode": 0})
            for p in range(1, dp):
                out.append({"tp": tp, "pp": pp, "dp": dp, "prefill": p, "decode": dp - p})
    return out


def plan(hw: str | Path, workload: str | Path, sets: Sequence[str] = (), *, rate: float, devices: int | None = None,
         **kwargs) -> pd.DataFrame:
    """Serve the same stream under every plan; one row per plan (plans that do not fit are listed with why)."""
    sets = list(sets)
    overrides = parse_set([s for s in sets if not s.startswith("serve.")])
    system = load_system(hw, overrides["hw"])
    wl = load_workload(workload, overrides["workload"])
    n = devices or system.devices
    if n < 1:
        raise ConfigError(f"devices must be >= 1, got {n}", file="--devices")
    if not kwargs.get("slo"):
        raise ConfigError("plan search ranks by goodput under an SLO; allowed: --slo ttft=T,tpot=T", file="--slo")
    kwargs.setdefault("requests", 300)
    count_key = device_count_key(system)
    rows = []
    for p in plans(n, wl.model.heads, wl.model.n_kv_heads, wl.layers):
        extra = [f"workload.tp={p['tp']}", f"workload.pp={p['pp']}", f"{count_key}={p['tp'] * p['pp']}"]
        if p["prefill"]:
            extra += [f"serve.disaggregation.prefill={p['prefill']}", f"serve.disaggregation.decode={p['decode']}"]
        else:
            extra += [f"serve.dp={p['dp']}"]
        label = (f"tp{p['tp']} pp{p['pp']} " + (f"P{p['prefill']}:D{p['decode']}" if p["prefill"] else f"dp{p['dp']}"))
        try:
            s = serve(hw, workload, sets + extra, rate=rate, **kwargs).summary
        except UserError as exc:
            rows.append({"plan": label, **p, "fits": False, "why": exc.detail[:80]})
            continue
        rows.append({"plan": label, **p, "fits": True, "why": "", **metrics.flat(s)})
    table = pd.DataFrame(rows)
    if "goodput_rps" in table:
        table = table.sort_values(["fits", "goodput_rps", "energy_per_token_j"], ascending=[False, False, True])
    return table.reset_index(drop=True)


def pareto(table: pd.DataFrame) -> pd.DataFrame:
    """Plans no other plan beats on both goodput (higher) and energy per token (lower)."""
    ok = table[table["fits"]] if "fits" in table else table
    if ok.empty or "goodput_rps" not in ok:
        return ok
    keep = []
    for i, row in ok.iterrows():
        dominated = ((ok["goodput_rps"] >= row["goodput_rps"]) & (ok["energy_per_token_j"] <= row["energy_per_token_j"])
                     & ((ok["goodput_rps"] > row["goodput_rps"])
                        | (ok["energy_per_token_j"] < row["energy_per_token_j"]))).any()
        if not dominated:
            keep.append(i)
    return ok.loc[keep, ["plan", "goodput_rps", "energy_per_token_j", "attainment", "ttft_p99_s", "tpot_p99_s"]]
