"""`simulate serve` and `simulate plan`: their arguments, and the text they print."""

from __future__ import annotations

import argparse
import json

from simulator.errors import ConfigError


def register(sub, resolve, hw_dir, wl_dir) -> None:
    """Add the serve and plan subcommands to the `simulate` parser."""
    s = sub.add_parser("serve", help="serve a stream of requests on a system (continuous batching, paged KV)",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog="""examples:
  simulate serve h100 llama2-7b --rate 5 --requests 500 --slo ttft=200ms,tpot=50ms
  simulate serve h100 llama2-7b --scheduler sarathi --sweep-rate 2:40:8 --slo ttft=200ms,tpot=50ms
  simulate serve hgx-h100 llama2-7b --rate 20 --set serve.disaggregation.prefill=4 --out runs/disagg
  simulate serve h100 llama2-7b --trace my-requests.csv --json""")
    _common(s)
    s.add_argument("--rate", type=float, help="requests/s (Poisson, or gamma with --arrival gamma --cv C)")
    s.add_argument("--trace", help="CSV arrival_s,prompt_len,output_len (arrival_s optional with --rate)")
    s.add_argument("--sweep-rate", metavar="A:B:N", help="serve at N rates from A to B; print latency vs load")
    s.add_argument("--scheduler", default="vllm", help="static, vllm (default) or sarathi")
    s.add_argument("--out", help="directory for requests.csv, iterations.csv, trace.json, summary.json, plots "
                                 "(written atomically, never over files it did not write)")
    s.add_argument("--force", action="store_true",
                   help="write into a non-empty --out directory that is not a run record (other files are kept)")
    s.set_defaults(func=lambda a: cmd_serve(a, resolve(a.hw, hw_dir, a.path, ("system",)),
                                            resolve(a.workload, wl_dir, a.path)))

    p = sub.add_parser("plan", help="search parallel plans (tp, dp, disaggregated splits) for a rate and SLO",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog="""examples:
  simulate plan hgx-h100 llama2-7b --rate 20 --slo ttft=200ms,tpot=50ms
  simulate plan hgx-h100 llama2-7b --rate 20 --devices 4 --json""")
    _common(p)
    p.add_argument("--rate", type=float, required=True, help="requests/s")
    p.add_argument("--devices", type=int, help="devices to deploy (default: the system's devices)")
    p.set_defaults(func=lambda a: cmd_plan(a, resolve(a.hw, hw_dir, a.path, ("system",)),
                                           resolve(a.workload, wl_dir, a.path)))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("hw", help="system YAML (path, or a name under hwconfigs/)")
    p.add_argument("workload", help="workload YAML: model, dtype, tp, pp, implementation")
    p.add_argument("--requests", type=int, help="number of requests (default 1000; a trace: its first N rows)")
    p.add_argument("--lengths", default="sharegpt", help="sharegpt (default), alpaca or fixed:PROMPT:OUTPUT")
    p.add_argument("--arrival", default="poisson", help="poisson (default) or gamma")
    p.add_argument("--cv", type=float, default=1.0, help="gamma arrivals: coefficient of variation of the gaps")
    p.add_argument("--seed", type=int, default=0, help="seed of arrivals and lengths (default 0)")
    p.add_argument("--slo", help="e.g. ttft=200ms,tpot=50ms (also e2e=...)")
    p.add_argument("--cache", default="exact", choices=["exact", "off", "interpolate"],
                   help="iteration cache: exact (default), off (full simulation per iteration), interpolate")
    p.add_argument("--level", choices=["analytical", "transaction", "command"],
                   help="fidelity level of the iteration model (default: the system's `level`)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="hw.<path>=V, workload.<path>=V or serve.<key>=V (max_batch, block_size, preemption, dp, "
                        "disaggregation.prefill, ...)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--path", action="append", default=[], metavar="DIR",
                   help="a folder of your own configs, searched for names first (repeatable)")


def _kwargs(a) -> dict:
    if a.requests is not None and a.requests < 1:
        raise ConfigError(f"requests must be >= 1, got {a.requests}", file="--requests")
    return dict(requests=a.requests, lengths=a.lengths, arrival=a.arrival, cv=a.cv, seed=a.seed, slo=a.slo,
                level=a.level, cache=a.cache)


def cmd_serve(a, hw, workload) -> int:
    from simulator.serving.api import rates, serve, sweep

    kw = _kwargs(a)
    if a.rate is not None and not a.rate > 0:
        raise ConfigError(f"rate must be > 0 requests/s, got {a.rate}", file="--rate")
    if a.sweep_rate:
        grid = rates(a.sweep_rate)
        if a.trace:
            raise ConfigError("--sweep-rate draws its own arrivals; allowed: without --trace", file="--sweep-rate")
        table = sweep(hw, workload, a.set, rate_grid=grid, scheduler_name=a.scheduler, **kw)
        best = best_rate(table)
        if a.out:
            from simulator.serving.outputs import write_sweep

            write_sweep(table, best, a.out, force=a.force)
        if a.json:
            print(json.dumps({"sweep": table.to_dict("records"), "max_rate_meeting_slo": best}, indent=2,
                             default=float))
        else:
            print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
            print(f"highest rate meeting the SLO: {best if best is not None else 'none of the rates'}")
        return 0
    result = serve(hw, workload, a.set, rate=a.rate, trace=a.trace, scheduler_name=a.scheduler, **kw)
    if a.out:
        result.write(a.out, force=a.force)
    if a.json:
        from simulator.serving.outputs import _plain

        print(json.dumps(result.summary, indent=2, default=_plain))
    else:
        print(text(result.summary))
        if a.out:
            print(f"  outputs        {a.out}/ (requests.csv, iterations.csv, transfers.csv, trace.json, summary.json, "
                  "plots)")
    return 0


def best_rate(table) -> float | None:
    """The highest swept rate whose SLO attainment meets the goal (None when none does or no SLO)."""
    ok = table[table["met"] == True]  # noqa: E712 (a pandas mask)
    return float(ok["rate"].max()) if len(ok) else None


def cmd_plan(a, hw, workload) -> int:
    from simulator.serving.plan import plan, pareto

    table = plan(hw, workload, a.set, rate=a.rate, devices=a.devices, **_kwargs(a))
    front = pareto(table)
    if a.json:
        print(json.dumps({"plans": table.to_dict("records"), "pareto": front.to_dict("records")}, indent=2,
                         default=float))
    else:
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        print("\nPareto set (goodput up, energy per token down):")
        print(front.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


def text(s: dict) -> str:
    lat, th, slo, en = s["latency_s"], s["throughput"], s["slo"], s["energy"]

    def ms(d):
        return "  ".join(f"{k} {v * 1e3:.1f}" for k, v in d.items() if v is not None and k != "mean") + " ms"

    lines = [f"{s['requests']} requests, {s['scheduler']} on {s['devices']} device(s), {s['duration_s']:.2f} s",
             f"  throughput     {th['requests_per_s']:.3g} req/s, {th['output_tokens_per_s']:.4g} output tokens/s",
             f"  TTFT           {ms(lat['ttft'])}", f"  TPOT           {ms(lat['tpot'])}",
             f"  end-to-end     {ms(lat['e2e'])}", f"  queueing       {ms(lat['queue'])}"]
    if slo.get("goal") is not None and len(slo) > 4:
        lines.append(f"  SLO            {slo['attainment'] * 100:.1f} % of requests met it, goodput "
                     f"{slo['goodput_requests_per_s']:.3g} req/s")
    lines += [f"  energy         {en['per_output_token_j'] * 1e3:.4g} mJ/output token, {en['average_power_w']:.4g} W "
              "average",
              f"  batch          mean {s['batch']['mean_batch']:.3g}, max {s['batch']['max_batch']}, KV use peak "
              f"{s['batch']['kv_usage_peak'] * 100:.1f} %",
              f"  preemptions    {s['preemptions']} ({s['swaps']} swapped)"]
    return "\n".join(lines)
