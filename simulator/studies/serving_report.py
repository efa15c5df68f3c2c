"""The serving report: LLaMA-2-7B and 70B on H100s serving ShareGPT at rising rates under static, vLLM-style
and Sarathi-Serve batching; disaggregated prefill/decode against co-located serving at equal GPU count, compared
in direction and magnitude with DistServe and Splitwise. Regenerate with

    python -m simulator.studies.serving_report        # writes reports/serving.md

Only the public serving API is used (`simulator.serving.serve`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from simulator.studies.markdown import report_main
from simulator.serving import serve
from simulator.serving.metrics import flat

ROOT = Path(__file__).resolve().parents[2]
H100 = ROOT / "hwconfigs/h100.yaml"
LLAMA7 = ROOT / "workloads/llama2-7b.yaml"
SLO = "ttft=200ms,tpot=50ms"
SCHEDULERS = ("static", "vllm", "sarathi")
SEED = 0
RATES_7B, RATES_70B, RATES_DISAGG = [8, 16, 32, 48], [1, 2, 4, 8], [20, 40, 60, 80]


def run(workload, sets, rate, requests, scheduler="vllm", slo=SLO, lengths="sharegpt") -> dict:
    res = serve(H100, workload, sets, rate=rate, requests=requests, scheduler_name=scheduler, slo=slo, seed=SEED,
                lengths=lengths)
    s, it = res.summary, res.iterations
    busy = it.groupby("group")["latency_s"].sum() / s["duration_s"]
    replicas = it.groupby("group")["replica"].nunique()
    return {"rate": rate, "scheduler": scheduler, **flat(s), "met": s["slo"]["met"],
            "prefill_busy": float(busy.get("prefill", float("nan")) / replicas.get("prefill", 1))}


def schedulers_table(workload, sets, rates, requests) -> pd.DataFrame:
    return pd.DataFrame([run(workload, sets, r, requests, sch) for sch in SCHEDULERS for r in rates])


def disagg_table(rates, requests, devices, slo, lengths) -> pd.DataFrame:
    rows = []
    configs = [("co-located vLLM", [f"serve.dp={devices}"], "vllm"),
               ("co-located Sarathi", [f"serve.dp={devices}"], "sarathi")]
    for p in range(1, devices):
        configs.append((f"disaggregated P{p}:D{devices - p}", [f"serve.disaggregation.prefill={p}",
                                                            f"serve.disaggregation.decode={devices - p}"], "vllm"))
    for label, sets, sch in configs:
        for r in rates:
            rows.append({"deployment": label, **run(LLAMA7, sets, r, requests, sch, slo=slo, lengths=lengths)})
    return pd.DataFrame(rows)


DISAGG_SLO = "ttft=100ms,tpot=15ms"
LONG, LONG_SLO, RATES_LONG = "fixed:1500:150", "ttft=300ms,tpot=20ms", [12, 20, 28, 36]


def fmt(df: pd.DataFrame, cols: list[str]) -> str:
    head = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n"
    lines = []
    for _, row in df.iterrows():
        cells = []
        for c in cols:
            v = row[c]
            if isinstance(v, float) and v != v:
                cells.append("-")
            elif isinstance(v, float):
                latency = c.endswith("_s") and not c.endswith("per_s")
                cells.append(f"{v * 1e3:.1f}" if latency else f"{v:.0f}" if abs(v) >= 1000 else f"{v:.3g}")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def best(df: pd.DataFrame, key: str) -> pd.Series:
    """Highest rate per `key` whose SLO attainment reaches 90 %."""
    return df[df["met"] == True].groupby(key)["rate"].max()  # noqa: E712


DCOLS = ["deployment", "rate", "tokens_per_s", "ttft_p99_s", "tpot_p99_s", "attainment", "energy_per_token_j",
         "prefill_busy"]


def highest(b: pd.Series, rates) -> str:
    return (f"\nHighest rate meeting the SLO (of {', '.join(map(str, rates))} req/s): "
            + (", ".join(f"{k} {v:g} req/s" for k, v in b.items()) or "none") + ".\n")


def gain(df: pd.DataFrame) -> float:
    """Output tokens/s of the disaggregated deployment over co-located vLLM at the highest rate."""
    top = df[df["rate"] == df["rate"].max()].set_index("deployment")["tokens_per_s"]
    dis = [k for k in top.index if k.startswith("disaggregated")][0]
    return float(top[dis] / top["co-located vLLM"])


def verdict(short: float, long: float) -> str:
    said = {True: "wins over", False: "does not beat"}
    return (f"With these short prompts disaggregation {said[short > 1.0]} co-location at equal GPU count "
            f"({short:.2g}x), {'the papers' if short > 1.0 else 'against the papers'}' direction; with long prompts, "
            f"where prefill is a large share of the work, it {said[long > 1.0]} co-location ({long:.2g}x). ")


def compare(df: pd.DataFrame, b: pd.Series, name: str) -> str:
    """Disaggregated against co-located vLLM: the ratio of the highest rates meeting the SLO and of the output
    tokens/s at the highest rate."""
    top = df[df["rate"] == df["rate"].max()].set_index("deployment")["tokens_per_s"]
    dis = [k for k in top.index if k.startswith("disaggregated")][0]
    co = b.get("co-located vLLM")
    rate_ratio = (f"{b.get(dis, 0) / co:.2g}x the highest rate meeting the SLO" if co else
                  "no co-located rate meeting the SLO")
    return (f"- {name}: {dis} gives {rate_ratio} and {top[dis] / top['co-located vLLM']:.2g}x the output "
            f"tokens/s of co-located vLLM at {df['rate'].max():g} req/s.\n")


COLS = ["rate", "scheduler", "tokens_per_s", "ttft_p50_s", "ttft_p99_s", "tpot_p50_s", "tpot_p99_s", "attainment",
        "energy_per_token_j", "preemptions"]


def render() -> str:
    r7 = schedulers_table(LLAMA7, [], RATES_7B, 500)
    r70 = schedulers_table(LLAMA7, ["workload.model=llama2-70b", "workload.tp=4", "hw.devices=4"], RATES_70B, 300)
    dis = disagg_table(RATES_DISAGG, 800, 2, DISAGG_SLO, "sharegpt")
    long = disagg_table(RATES_LONG, 400, 2, LONG_SLO, LONG)
    b7, b70, bd, bl = (best(r7, "scheduler"), best(r70, "scheduler"), best(dis, "deployment"),
                       best(long, "deployment"))
    out = ["# Serving on simulated H100s\n\n", __doc__.split("Regenerate")[0].replace("\n", " ").strip() + "\n\n",
           "Regenerate with `python -m simulator.studies.serving_report`. Every iteration's time and energy come "
           "from the H100 model (transaction level, fused kernels, CUDA graphs; docs/gpu.md) through the exact "
           "iteration model of docs/serving.md. Request lengths: ShareGPT (NeuPIMs artifact's table), Poisson "
           f"arrivals, seed {SEED}. SLO {SLO}; a rate *meets* it when 90 % of requests do (DistServe's goal). "
           "Latencies in ms; energy in J per output token (devices' energy including idle static power).\n",
           "\n## LLaMA-2-7B on one H100\n\n", fmt(r7, COLS),
           f"\nHighest rate meeting the SLO (of {', '.join(map(str, RATES_7B))} req/s): "
           + ", ".join(f"{k} {v:g} req/s" for k, v in b7.items()) + (" (none for the others)" if len(b7) < 3 else "")
           + ".\n",
           "\n## LLaMA-2-70B on four H100s (tensor parallel 4)\n\n", fmt(r70, COLS),
           f"\nHighest rate meeting the SLO (of {', '.join(map(str, RATES_70B))} req/s): "
           + (", ".join(f"{k} {v:g} req/s" for k, v in b70.items()) or "none") + ".\n",
           "\nStatic batching pads every prompt to the batch's longest and holds every slot until the longest output "
           "ends, so its TTFT grows with the queue behind a batch; iteration-level batching (vLLM) admits requests "
           "every iteration; Sarathi's chunked prefill keeps decodes running beside prefills, which shortens the "
           "TPOT tail at the cost of slightly longer TTFT under load.\n",
           "\n## Disaggregated prefill and decode at equal GPU count (LLaMA-2-7B, 2 H100s)\n",
           "KV caches go over NVLink 4 (450 GB/s, docs/serving.md). `prefill_busy`: share of time the prefill "
           "replica runs.\n\n",
           f"ShareGPT lengths, SLO {DISAGG_SLO} (tight TPOT, where prefill-decode interference shows):\n\n",
           fmt(dis, DCOLS), highest(bd, RATES_DISAGG),
           f"\nLong prompts ({LONG}, a summarisation-like load as DistServe's LongBench case), SLO {LONG_SLO}:\n\n",
           fmt(long, DCOLS), highest(bl, RATES_LONG),
           "\n### Against DistServe and Splitwise\n",
           compare(dis, bd, "ShareGPT") + compare(long, bl, "long-prompt"),
           "\nDistServe (OSDI 2024) reports up to 7.4x more requests within SLO than co-located vLLM and Splitwise "
           "(ISCA 2024) 1.4x throughput at 20 % lower cost. Set-up differences: DistServe served OPT-13B to 175B on "
           "A100s, searched each phase's parallel plan and placement, and its gains are largest with long prompts "
           "and tight TTFT; Splitwise served BLOOM-176B and LLaMA-70B on DGX A100/H100 machines over InfiniBand, "
           "priced the machines and mixed generations (prefill on H100, decode on A100). Here a 7B model on two "
           "H100s; the ShareGPT table of the NeuPIMs artifact has short prompts (mean 73, median 17 tokens; "
           "outputs mean 295), so a dedicated prefill GPU idles most of the time (`prefill_busy`) while one decode "
           "GPU carries the whole decode load. " + verdict(gain(dis), gain(long))
           + "Splits other than 1:1, and other plans per phase, need more GPUs (`simulate plan` enumerates them).\n",
           "\n## GPU-only vs NPU-only vs NPU+PIM vs NeuPIMs serving\n",
           "Not produced: on the NPU and NPU+PIM systems every iteration runs the executor's discrete-event "
           "simulation (NPU vector units beside the systolic arrays, PIM stages: not serial blocks, docs/serving.md), "
           "0.2-0.5 s of CPU per GPT-3 7B iteration at batch 64-200, beyond this report's budget for streams of "
           "hundreds of requests. Serving on them works (`simulate serve hwconfigs/neupims.yaml "
           "workloads/gpt3-7b-decode.yaml --rate R`, prefill attention on the NPU); the one-iteration comparison of "
           "the four systems (NeuPIMs reports 3x / 2.4x / 1.6x throughput) is in reports/neupims.md.\n"]
    return "".join(out)


def main(argv: list[str] | None = None) -> None:
    report_main(argv, __doc__, ROOT / "reports" / "serving.md", render)


if __name__ == "__main__":
    main()
