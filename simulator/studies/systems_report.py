"""The systems report: parallel plans, heterogeneous placement and whole-system energy on multi-device systems.
Regenerate with

    python -m simulator.studies.systems_report        # writes reports/systems.md

Every figure is one decode step simulated with `simulate()` (transaction level); energy is the whole system's
(every device, idle ones at static power, and the links) per generated token (docs/parallelism.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from simulator.studies.markdown import report_main
from simulator.run import simulate

ROOT = Path(__file__).resolve().parents[2]


class Missing(Exception):
    """A section that cannot be produced with the shipped files (it says which)."""


def _hw(name: str) -> Path:
    path = ROOT / "hwconfigs" / f"{name}.yaml"
    if not path.exists():
        raise Missing(f"hwconfigs/{name}.yaml is not shipped")
    return path


def _row(label: str, s: dict) -> str:
    p = s["parallel"]
    plan = " x ".join(f"{k} {v}" for k, v in p.items() if v > 1) or "1 device"
    comm = s["stages"]["busy_by_op_class_s"].get("collective", 0.0)
    return (f"| {label} | {plan} | {s['devices_used']} | {s['latency_s'] * 1e3:.2f} | "
            f"{s['throughput_tokens_per_s']:.0f} | {s['pipeline']['steady_throughput_tokens_per_s']:.0f} | "
            f"{s['energy_per_token_j'] * 1e3:.1f} | {s['macs'] / 1e12:.3f} | {comm * 1e3:.2f} |")


HEADER = ("| case | plan | devices | step latency (ms) | tokens/s (one step) | tokens/s (pipeline full) | "
          "mJ/token | TMAC | busy in collectives (ms) |\n|---|---|---|---|---|---|---|---|---|\n")


def llama_plans() -> str:
    """LLaMA-2-70B decode (batch 64, 2k context, bf16) on 8 H100s under different plans."""
    hw = _hw("hgx-h100")
    plans = {"TP 8": "{tp: 8}", "TP 4 x PP 2": "{tp: 4, pp: 2}", "TP 2 x PP 4": "{tp: 2, pp: 4}",
             "TP 4 x PP 2, 4 micro-batches": "{tp: 4, pp: 2, microbatches: 4}", "TP 4 x DP 2": "{tp: 4, dp: 2}",
             "TP 2 x DP 4": "{tp: 2, dp: 4}"}
    rows = [_row(k, simulate(hw, ROOT / "workloads/llama2-70b-tp8.yaml", [f"workload.parallel={v}"]).summary)
            for k, v in plans.items()]
    return ("## LLaMA-2-70B plans on HGX H100\n\nOne decode step of 64 requests at 2,048 tokens of context "
            "(`workloads/llama2-70b-tp8.yaml`) on `hwconfigs/hgx-h100.yaml`. *Tokens/s (pipeline full)* is the "
            "steady state of a serving loop that keeps pp batches in flight (batch / busiest stage).\n\n"
            + HEADER + "\n".join(rows) + "\n")


def mixtral_ep() -> str:
    """Mixtral-8x7B decode (batch 64) on 8 H100s: tensor parallel against expert parallel, uniform and skewed."""
    hw = _hw("hgx-h100")
    plans = {"TP 8": "{tp: 8}", "DP 8 x EP 8": "{dp: 8, ep: 8}", "TP 2 x DP 4 x EP 4": "{tp: 2, dp: 4, ep: 4}",
             "DP 8 x EP 8, skew 1": "{dp: 8, ep: 8, expert_skew: 1.0}",
             "DP 8 x EP 8, skew 2": "{dp: 8, ep: 8, expert_skew: 2.0}"}
    rows = [_row(k, simulate(hw, ROOT / "workloads/mixtral-8x7b.yaml",
                             ["workload.batch=64", f"workload.parallel={v}"]).summary) for k, v in plans.items()]
    return ("## Mixtral-8x7B with expert parallelism\n\nOne decode step of 64 requests at 1,024 tokens "
            "(`workloads/mixtral-8x7b.yaml`, fp8 weights) on `hwconfigs/hgx-h100.yaml`. Expert parallel plans "
            "dispatch and combine the routed tokens with two all-to-alls per layer; *skew s* routes expert i a share "
            "~ (i + 1)^-s, and the simulated device holds the hottest expert.\n\n" + HEADER + "\n".join(rows) + "\n")


def collectives() -> str:
    """Collective curves: all-reduce time and bus bandwidth against size per algorithm, 2 to 64 devices."""
    from simulator.hardware.system import load_system
    from simulator.network.curves import collective_curves

    systems = {name: load_system(_hw(name)).topology for name in ("hgx-h100", "h100-2node", "tpuv4-pod64")}
    curves = {name: collective_curves(topo) for name, topo in systems.items()}
    _plot_curves(curves, ROOT / "reports" / "systems_collectives.png")
    out = ["## Collective curves\n\nAll-reduce over the first n devices of each system, congestion-unaware "
           "(alpha-beta per algorithm, `simulator/network/curves.py`, docs/network.md); bus bandwidth as nccl-tests "
           "defines it. Plot: busbw against size per algorithm at the largest device count of each system, "
           "the default algorithm (what NCCL would pick) marked.\n\n![collective curves](systems_collectives.png)\n"]
    for name, df in curves.items():
        for n in sorted(df["devices"].unique()):
            sub = df[(df["devices"] == n) & df["bytes"].isin([2.0 ** 20, 2.0 ** 26, 2.0 ** 30])]
            if n not in (2, 8, 16, 64):
                continue
            algs = sorted(sub["algorithm"].unique())
            out.append(f"\n**{name}, {n} devices**: time (us) / busbw (GB/s)\n\n| size | " + " | ".join(algs)
                       + " |\n|---|" + "---|" * len(algs))
            for size, rows in sub.groupby("bytes"):
                cells = []
                for alg in algs:
                    r = rows[rows["algorithm"] == alg]
                    cells.append("-" if r.empty else f"{r['time_s'].iloc[0] * 1e6:.1f} / "
                                 f"{r['busbw_gbps'].iloc[0]:.0f}" + (" *" if r["default"].iloc[0] else ""))
                out.append(f"| {size / 2 ** 20:g} MiB | " + " | ".join(cells) + " |")
    out.append("\n\\* the default algorithm; - no schedule for that device set.")
    return "\n".join(out) + "\n"


def _plot_curves(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simulator.network.algorithms import ALGORITHMS

    color = {alg: f"C{i}" for i, alg in enumerate(ALGORITHMS)}
    fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 3.6), sharey=True)
    for ax, (name, df) in zip(axes, curves.items()):
        n = df["devices"].max()
        for alg, rows in df[df["devices"] == n].groupby("algorithm"):
            ax.plot(rows["bytes"], rows["busbw_gbps"], marker=".", label=alg, color=color[alg])
            d = rows[rows["default"]]
            ax.scatter(d["bytes"], d["busbw_gbps"], s=40, facecolors="none", edgecolors="k")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("bytes")
        ax.set_title(f"{name}, {n} devices", fontsize=9)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("all-reduce busbw (GB/s)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


ATTACC_BATCHES = (1, 8, 16, 32, 64)


def attacc_runs(batches: tuple[int, ...] = ATTACC_BATCHES) -> list[tuple[int, dict | None, dict]]:
    """(batch, HGX H100 summary or None where the KV cache does not fit, AttAcc summary) of GPT-3 175B decode."""
    att, hgx = _hw("attacc"), _hw("hgx-h100")
    wl = ROOT / "workloads/gpt3-175b-decode.yaml"
    runs = []
    for batch in batches:
        a = simulate(att, wl, [f"workload.batch={batch}",
                               "workload.placement.ops={decode.attention: attacc.pim}"]).summary
        try:
            h = simulate(hgx, wl, [f"workload.batch={batch}"]).summary
        except Exception:          # the KV cache does not fit the GPUs' memory
            h = None
        runs.append((batch, h, a))
    return runs


def attacc_best(runs: list[tuple[int, dict | None, dict]] | None = None) -> tuple[float, float]:
    """AttAcc over HGX H100 at the largest batch each fits: (throughput ratio, energy-efficiency ratio)."""
    best = {"hgx": (0.0, 0.0), "attacc": (0.0, 0.0)}
    for _, h, a in attacc_runs() if runs is None else runs:
        for key, s in (("hgx", h), ("attacc", a)):
            if s is not None and s["throughput_tokens_per_s"] > best[key][0]:
                best[key] = (s["throughput_tokens_per_s"], s["energy_per_token_j"])
    (ht, he), (at, ae) = best["hgx"], best["attacc"]
    return at / ht, he / ae


def attacc() -> str:
    """AttAcc against HGX H100 on GPT-3 175B decode across batch."""
    runs = attacc_runs()
    rows = []
    for batch, h, a in runs:
        hgx_cells = (f"{h['throughput_tokens_per_s']:.0f} | {h['energy_per_token_j'] * 1e3:.0f} | "
                     f"{a['throughput_tokens_per_s'] / h['throughput_tokens_per_s']:.2f}x | "
                     f"{h['energy_per_token_j'] / a['energy_per_token_j']:.2f}x") if h else "does not fit | - | - | -"
        rows.append(f"| {batch} | {hgx_cells.split(' | ')[0]} | {hgx_cells.split(' | ')[1]} | "
                    f"{a['throughput_tokens_per_s']:.0f} | {a['energy_per_token_j'] * 1e3:.0f} | "
                    f"{' | '.join(hgx_cells.split(' | ')[2:])} |")
    ht = max(h["throughput_tokens_per_s"] for _, h, _ in runs if h is not None)
    at = max(a["throughput_tokens_per_s"] for _, _, a in runs)
    speedup, efficiency = attacc_best(runs)
    return ("## AttAcc vs HGX H100: GPT-3 175B decode\n\nOne decode step at 2,048 keys per request, TP 8 "
            "(`workloads/gpt3-175b-decode.yaml`): `hwconfigs/hgx-h100.yaml` against `hwconfigs/attacc.yaml` with "
            "`placement.ops: {decode.attention: attacc.pim}` (GPU i sends its queries and new keys and values to "
            "AttAcc device i over NVLink 4 and gets the attention output back; the KV cache lives in the AttAcc "
            "devices). Energy is each system's whole per token: the AttAcc rows include its eight PIM devices, the HGX "
            "rows have none.\n\n"
            "| batch | HGX tokens/s | HGX mJ/token | AttAcc tokens/s | AttAcc mJ/token | throughput | energy "
            "efficiency |\n|---|---|---|---|---|---|---|\n" + "\n".join(rows) +
            f"\n\nAt the largest batch each fits: AttAcc {at:.0f} tokens/s against HGX {ht:.0f} "
            f"(**{speedup:.2f}x**; paper: up to 2.81x), {efficiency:.2f}x the energy efficiency (paper: up to "
            "2.67x). Park et al., 'AttAcc!', ASPLOS 2024, abstract (GPT-3 175B and others against a DGX "
            "H100 baseline).\n")


def pathways() -> str:
    """A Pathways-style two-island pipeline: LLaMA-2-70B over two HGX H100 nodes."""
    hw = _hw("h100-2node")
    plans = {"TP 8 x PP 2 (a stage per island)": "{tp: 8, pp: 2}",
             "TP 8 x PP 2, 4 micro-batches": "{tp: 8, pp: 2, microbatches: 4}",
             "TP 16 (all-reduces across islands)": "{tp: 16}", "TP 8 x DP 2 (a replica per island)": "{tp: 8, dp: 2}",
             "TP 16, congestion-aware": "{tp: 16}"}
    rows = []
    for label, plan in plans.items():
        sets = ["workload.batch=64", f"workload.parallel={plan}"]
        if "congestion" in label:
            sets.append("workload.schedule.congestion_aware=true")
        rows.append(_row(label, simulate(hw, ROOT / "workloads/llama2-70b-tp8.yaml", sets).summary))
    return ("## Two islands: LLaMA-2-70B over two HGX H100 nodes\n\nOne decode step of 64 requests at 2,048 "
            "tokens on `hwconfigs/h100-2node.yaml` (NVLink 4 inside a node, one InfiniBand NDR 400 port per GPU "
            "between nodes), as Pathways places a pipeline stage per island: the stage handoff crosses "
            "InfiniBand once per step (per micro-batch), while TP 16 all-reduces cross it twice per layer. TP 16 "
            "exceeds LLaMA-2-70B's 8 KV heads, so pairs of ranks compute the same K and V projections: its MACs "
            "exceed the model's by that replication. *Congestion-aware* shares each link max-min fairly among the "
            "flows of the collective (and of concurrent groups); this fabric gives every GPU its own InfiniBand "
            "port, so few flows meet.\n\n" + HEADER + "\n".join(rows) + "\n")


def kv_homes() -> str:
    """KV cache in a CXL expander against HBM."""
    hw = _hw("h100-cxl")
    wl = ROOT / "workloads/llama2-7b.yaml"
    rows = []
    for batch in (8, 32, 96):
        for home in ("hbm", "cxl0"):
            sets = [f"workload.batch={batch}", "workload.context_len=2048"]
            if home == "cxl0":
                sets.append("workload.placement.homes={kv_cache: cxl0}")
            try:
                s = simulate(hw, wl, sets).summary
            except Exception:      # the KV cache does not fit HBM beside the weights
                rows.append(f"| {batch} | {home} | does not fit | - | - |")
                continue
            rows.append(f"| {batch} | {home} | {s['latency_s'] * 1e3:.2f} | {s['throughput_tokens_per_s']:.0f} | "
                        f"{s['energy_per_token_j'] * 1e3:.0f} |")
    return ("## KV cache in CXL memory against HBM\n\nLLaMA-2-7B decode at 2,048 tokens on `hwconfigs/h100-cxl.yaml`"
            " (the expander's 128 GiB of DDR5 behind the host: PCIe 5 then CXL, 63 GB/s at best); "
            "`placement.homes: {kv_cache: cxl0}` reads every layer's KV over that path (docs/parallelism.md).\n\n"
            "| batch | KV in | step latency (ms) | tokens/s | mJ/token |\n|---|---|---|---|---|\n" + "\n".join(rows)
            + "\n")


SECTIONS: list[Callable[[], str]] = [collectives, attacc, llama_plans, mixtral_ep, pathways, kv_homes]


def markdown() -> str:
    parts, missing = [], []
    for section in SECTIONS:
        try:
            parts.append(section())
        except Missing as exc:
            missing.append(f"- {section.__doc__.splitlines()[0]} Not produced: {exc}.")
    head = "# Systems report\n\n" + __doc__.split("\n\n", 1)[1].split("Regenerate")[0].strip() + "\n"
    head += "\nRegenerate with `python -m simulator.studies.systems_report`.\n\n"
    tail = ("\n## Missing sections\n\n" + "\n".join(missing) + "\n") if missing else ""
    return head + "\n".join(parts) + tail


def main(argv: list[str] | None = None) -> None:
    report_main(argv, __doc__, ROOT / "reports" / "systems.md", markdown)


if __name__ == "__main__":
    main()
