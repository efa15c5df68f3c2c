"""The systems report: parallel plans, heterogeneous placement and whole-system energy on multi-device systems.
Regenerate with

    python -m simulator.studies.systems_report        # writes reports/systems.md

Every figure is one decode step simulated with `simulate()` (transaction level); energy is the whole system's
(every device, idle ones at static power, and the links) per generated token (docs/parallelism.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from simulator.report.markdown import report_main
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


SECTIONS: list[Callable[[], str]] = [llama_plans, mixtral_ep]


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
