"""Benchmark of the serving simulator: N ShareGPT requests on LLaMA-2-7B / H100 with vLLM-style continuous
batching (targets from the serving issue: 10 000 requests in under 60 s on 2 cores, 100 000 in under 10 minutes,
memory under 1 GB).

Run: python benchmarks/bench_serving.py [--requests 10000] [--rate 20] [--scheduler vllm]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.serving.api import serve  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=20.0, help="requests/s (default 20, about 2/3 of capacity)")
    ap.add_argument("--scheduler", default="vllm")
    ap.add_argument("--cache", default="exact")
    a = ap.parse_args()
    t0 = time.perf_counter()
    res = serve(ROOT / "hwconfigs/h100.yaml", ROOT / "workloads/llama2-7b.yaml", rate=a.rate, requests=a.requests,
                scheduler_name=a.scheduler, cache=a.cache, seed=0)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    s = res.summary
    cache = s["cache"]["serve"]
    print(f"{a.requests} ShareGPT requests at {a.rate:g} req/s, {a.scheduler} on LLaMA-2-7B / H100 ({a.cache} cache): "
          f"wall {wall:.1f} s, peak RSS {rss:.0f} MiB, {len(res.iterations)} iterations "
          f"({len(res.iterations) / wall:.0f}/s; cache {cache['hits']} hits, {cache['misses']} misses); "
          f"simulated {s['duration_s']:.0f} s, {s['throughput']['output_tokens_per_s']:.0f} output tokens/s, "
          f"mean batch {s['batch']['mean_batch']:.1f}")


if __name__ == "__main__":
    main()
