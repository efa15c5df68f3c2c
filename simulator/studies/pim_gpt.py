"""The PIM-GPT report: batch-1 generation of GPT-2 small to XL and GPT-3 XL (1.3B) on the PIM-GPT system vs
GPUs, per token: latency and its breakdown, the weight-streaming lower bound, energy, speedup and energy
efficiency. Regenerate with

    python -m simulator.studies.pim_gpt            # writes reports/pim_gpt.md

Assumptions (stated in the report): one decode step at a 512-token context stands for the average token of a
1024-token generation; the GPU runs the same model in eager PyTorch (bf16, CUDA-graph timing) on our
calibrated H100 and A100 models; PIM-GPT runs every GEMV and the attention in AiM-style GDDR6 PIM (each
request's KV cache spread over every channel) and non-linear ops on its ASIC.
"""

from __future__ import annotations

from pathlib import Path

from simulator.lowering.ops import DTYPE_BYTES
from simulator.studies.markdown import report_main
from simulator.run import Run, simulate

ROOT = Path(__file__).resolve().parents[2]
MODELS = ("gpt2-small", "gpt2-medium", "gpt2-large", "gpt2-xl", "gpt3-1.3b")
GPUS = ("a100", "h100")
CONTEXT = 512
T4_BANDWIDTH = 320e9   # NVIDIA T4: 16 GB GDDR6, 256 bit x 10 Gb/s, 70 W (sysrqmts.com/en/gpus/nvidia/tesla/t4)
PARTS = {"gemm": "gemv", "attention": "attention", "vector": "asic", "memory": "movement"}


def in_bank_bandwidth(run: Run) -> float:
    """Bytes/s every PIM bank reads at once: channels x banks x elements per COMP x element bytes per tCK."""
    pim = run.result.models["pim"]
    t = pim.timing
    return t.channels * t.banks * t.coverage * DTYPE_BYTES[pim.spec.dtype] / t.tck


def gemv_weight_bytes(run: Run) -> float:
    """Weight bytes one token streams through the PIM banks: N x K of every GEMV it runs."""
    size = DTYPE_BYTES[run.result.models["pim"].spec.dtype]
    return float(sum(ev.op.dims["N"] * ev.op.dims["K"] * size for _, ev in run.result.timeline()
                     if ev.unit == "pim" and ev.op.kind == "gemm"))


def breakdown(run: Run) -> dict[str, float]:
    """Seconds per token by part (GEMV, attention, ASIC non-linear ops, data movement); batch 1 runs them serially."""
    out = dict.fromkeys(PARTS.values(), 0.0)
    for _, ev in run.result.timeline():
        out[PARTS[ev.op.op_class]] += (ev.end_ps - ev.start_ps) * 1e-12
    return out


def rows() -> list[dict]:
    """One row per model: PIM-GPT's token time, its parts and bound, and both GPUs' time, bound and ratios."""
    out = []
    for model in MODELS:
        sets = [f"workload.model={model}", f"workload.context_len={CONTEXT}"]
        run = simulate("pim-gpt", "gpt2-decode", sets)
        pim = run.summary
        weights, pim_bw = gemv_weight_bytes(run), in_bank_bandwidth(run)
        bound = weights / pim_bw
        t = run.result.models["pim"].timing
        row = {"model": model, "params_b": pim["params"] / 1e9, "pim_us": pim["latency_s"] * 1e6,
               "pim_mj": pim["energy_per_token_j"] * 1e3, "bound_us": bound * 1e6, "pim_x": pim["latency_s"] / bound,
               "pim_bw": pim_bw, "row_switch": t.rtp + t.open_row(), "gwrite": t.gwrite,
               "row_elements": t.row_elements, **{f"{k}_us": v * 1e6 for k, v in breakdown(run).items()}}
        for gpu in GPUS:
            g = simulate(gpu, "gpt2-decode", sets + ["workload.implementation=eager-pytorch"])
            s = g.summary
            row[f"{gpu}_us"] = s["latency_s"] * 1e6
            row[f"{gpu}_mj"] = s["energy_per_token_j"] * 1e3
            row[f"{gpu}_bw"] = g.system.memories[g.system.units["gpu"].memory].peak_bandwidth
            row[f"{gpu}_xbound"] = s["latency_s"] * row[f"{gpu}_bw"] / weights
            row[f"{gpu}_speedup"] = s["latency_s"] / pim["latency_s"]
            row[f"{gpu}_energy_eff"] = s["energy_per_token_j"] / pim["energy_per_token_j"]
        out.append(row)
    return out


def markdown(table: list[dict]) -> str:
    """The report: PIM-GPT's per-token breakdown, the GPU comparison and the comparison with the paper."""
    parts = ("| model | params | us/token | GEMV | attention | ASIC | data movement | weights / in-bank BW | "
             "x bound | mJ/token |\n|---|---|---|---|---|---|---|---|---|---|\n") + "".join(
        f"| {r['model']} | {r['params_b']:.2f} B | {r['pim_us']:.0f} | {r['gemv_us']:.0f} | {r['attention_us']:.1f} | "
        f"{r['asic_us']:.1f} | {r['movement_us']:.2f} | {r['bound_us']:.0f} | {r['pim_x']:.1f} | "
        f"{r['pim_mj']:.2f} |\n" for r in table)
    gpus = ("| model | PIM-GPT us/token | A100 us/token (x bound) | H100 us/token (x bound) | speedup vs A100 | "
            "vs H100 | energy efficiency vs A100 | vs H100 |\n|---|---|---|---|---|---|---|---|\n") + "".join(
        f"| {r['model']} | {r['pim_us']:.0f} | {r['a100_us']:.0f} ({r['a100_xbound']:.1f}) | {r['h100_us']:.0f} "
        f"({r['h100_xbound']:.1f}) | {r['a100_speedup']:.2f}x | {r['h100_speedup']:.2f}x | "
        f"{r['a100_energy_eff']:.1f}x | {r['h100_energy_eff']:.1f}x |\n" for r in table)
    first = table[0]
    pim_bw = first["pim_bw"]
    t4, a100, h100 = pim_bw / T4_BANDWIDTH, pim_bw / first["a100_bw"], pim_bw / first["h100_bw"]

    def span(key: str) -> str:
        """Smallest-largest value of a column over the models."""
        return f"{min(r[key] for r in table):.1f}-{max(r[key] for r in table):.1f}"

    speedups = f"{min(r['h100_speedup'] for r in table):.1f}-{max(r['a100_speedup'] for r in table):.1f}"
    return f"""# PIM-GPT: batch-1 generation on GDDR6 PIM vs GPUs

Regenerated by `python -m simulator.studies.pim_gpt`. One decode step per model at a {CONTEXT}-token context
(the average token of a 1024-token generation), batch 1, on `hwconfigs/pim-gpt.yaml` (transaction-level PIM
command timing, docs/pim.md) and on the calibrated A100 / H100 models (`hwconfigs/a100.yaml`, `h100.yaml`;
eager PyTorch kernels, bf16, CUDA-graph launch; GPU energy includes static power).

## PIM-GPT per token (us)
GEMV: every weight matrix in the PIM banks (docs/pim.md, Mapping); attention: Q.K^T and S.V in the banks with
each request's KV cache spread over all channels (`kv_layout: spread`); ASIC: LayerNorm, softmax, GELU,
residual adds and sampling; data movement: embedding lookup and KV writes. Batch 1 runs them one after another,
so they add up to the token time. The bound is the GEMV weight bytes over the in-bank bandwidth
({pim_bw / 1e12:.1f} TB/s: 16 channels x 16 banks x 16 BF16 per 1 ns cycle); the rest of the GEMV time is row
switches (all banks precharged and reactivated: {first['row_switch']} cycles per DRAM row, against 48-64 COMP
cycles of work in it) and global-buffer writes ({first['gwrite']} cycles per {first['row_elements']}-element chunk
of the input vector).

{parts}
Before the spread KV layout (the request's whole KV cache on one channel, as NeuPIMs places it for big batches)
and the packed K tail of the GEMVs, the five models took 304, 747, 1735, 2928 and 1654 us/token; gpt2-small's 304
were 87 GEMV, 208 attention on one of the 16 channels and 9 ASIC. Under NeuPIMs' row rules instead of AiM's own
(16 single-bank precharges and a tFAW chain of G_ACTs, 114 cycles per row with the MACs hidden under it, a
192-cycle GWRITE; docs/pim.md, PIM-GPT) they took 121, 295, 665, 1356 and 876 us/token.

## Against the GPUs
x bound: GPU time / (the same weight bytes at the GPU's peak HBM bandwidth).

{gpus}
## Against the paper
PIM-GPT (Wu, Wang, Lu; arXiv 2310.09385, npj Unconventional Computing 2024) reports 41-137x speedup and
123-383x energy efficiency over a GPU (631-1074x and 320-602x over a CPU) on 8 GPT models up to 1.4 B
parameters (abstract). The GPU is an NVIDIA T4 (as tabulated by the CIM survey of Wolters et al., arXiv
2406.08413, Table III); the paper's own text is not in our reference store, so its GPU software is not
confirmed here [recall: PyTorch at batch 1]. Our system follows its shape (16 GDDR6-AiM channels [recall], an
ASIC for the rest) with our own command timing; the GPUs are our calibrated A100 and H100 models.

A speedup over a GPU factors as the bandwidth ratio times how far each side runs from its own weight-streaming
bound: speedup = (PIM in-bank bandwidth / GPU bandwidth) x (GPU x bound) / (PIM x bound). PIM-GPT's
{pim_bw / 1e12:.1f} TB/s in-bank bandwidth is {t4:.0f}x a T4's 320 GB/s of GDDR6 (70 W), but only {a100:.1f}x an
A100's {first['a100_bw'] / 1e12:.2f} TB/s and {h100:.1f}x an H100's {first['h100_bw'] / 1e12:.2f} TB/s. Our A100
and H100 run batch-1 decode at {span('a100_xbound')}x and {span('h100_xbound')}x their bound (kernel launches, small
GEMVs), our PIM-GPT at {span('pim_x')}x (row switches, global-buffer writes), hence the {speedups}x above. The paper's
41-137x against a {t4:.0f}x bandwidth ratio means its T4 ran at least {41 / t4:.1f}-{137 / t4:.1f}x above its own
bound (more if PIM-GPT was above its own), as batch-1 eager PyTorch on a small GPU does. So the gap between the
paper's range and ours is the baseline GPU (a {t4:.0f}x bandwidth ratio against {h100:.1f}-{a100:.1f}x) far more
than the PIM side; the energy ratios follow the same pattern, widened by the GPU's static power over its longer
token time. What carries over is the mechanism: PIM latency follows weight bytes over in-bank bandwidth plus a
fixed cost per DRAM row, so the speedup falls as the GPU's launch overhead is amortised over bigger models.
"""


def main(argv: list[str] | None = None) -> None:
    report_main(argv, __doc__, ROOT / "reports" / "pim_gpt.md", lambda: markdown(rows()))


if __name__ == "__main__":
    main()
