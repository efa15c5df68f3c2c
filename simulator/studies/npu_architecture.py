"""NPU architecture study: attention mappings (FuseMax-style, FLAT-style, unfused), LUT mpGEMM against
dequantise-then-GEMM and bit-serial PEs for low-bit weights, mapper-found against default GEMM mappings, on-chip
reuse across a layer's operators, and the NPUs' areas. Regenerate with

    python -m simulator.studies.npu_architecture        # writes reports/npu_architecture.md

Attention and the PE comparisons run on the NeuPIMs NPU (hwconfigs/npu-only.yaml: 8 x 128x128 arrays, 8 x 128
vector lanes, 8 MiB scratchpad, HBM2); the mapping study on the 4-core TPUv4-like NPU (hwconfigs/npu/tpuv4-like-hbm.yaml).
"""

from __future__ import annotations

from pathlib import Path
from statistics import mean

import numpy as np

from simulator.hardware.system import load_system
from simulator.lowering import builders as mk
from simulator.lowering.transformer import lower
from simulator.npu import mapper
from simulator.npu.area import area_mm2, iso_area_pes
from simulator.npu.fusion import allocate
from simulator.npu.model import NpuModel
from simulator.npu.spec import GemmMapping
from simulator.run import simulate
from simulator.studies.markdown import report_main
from simulator.workload.spec import load_workload

ROOT = Path(__file__).resolve().parents[2]
CHUNK = 4096          # LLaMA-2-7B's positions: the layer's other ops are costed per chunk of this many tokens
LENGTHS = (1024, 2048, 4096, 8192, 16384, 32768, 65536)
# FuseMax (Nayak et al., MICRO 2024, arXiv 2406.10491), abstract: iso-area against FLAT, averages
PAPER_FUSEMAX = {"attention_speedup": 6.7, "attention_energy": 0.79, "e2e_speedup": 5.3, "e2e_energy": 0.83}


def _npu(path: str, **update) -> NpuModel:
    system = load_system(ROOT / path)
    spec = system.units["npu"]
    if update:
        spec = spec.model_copy(update=update)
    return NpuModel(spec, system.memories[spec.memory])


def _joules(model: NpuModel, cost) -> float:
    """The NPU's energy plus its DRAM traffic at the memory's streaming energy per bit."""
    return cost.detail["energy_j"] + cost.detail["bytes"]["dram"] * 8 * model.memory.energy_per_bit


def _with_cascade(model: NpuModel, kind: str) -> NpuModel:
    s = model.spec
    att = s.mapping.attention.model_copy(update={"cascade": kind})
    return NpuModel(s.model_copy(update={"mapping": s.mapping.model_copy(update={"attention": att})}), model.memory)


def _layer(model: str, phase: str, batch: int, seq: int):
    length = {"context_len": seq} if phase == "decode" else {"prompt_len": seq}   # the key the phase reads
    w = load_workload(ROOT / "workloads/llama2-7b.yaml",
                      {"model": model, "phase": phase, "batch": batch, **length, "dtype": "fp16"})
    return lower(w).layer


def attention_rows(lengths=LENGTHS) -> list[dict]:
    """LLaMA-2-7B prefill attention (32 heads of 128, causal, one prompt) and its whole layer per mapping."""
    base = _npu("hwconfigs/npu-only.yaml")
    models = {k: _with_cascade(base, k) for k in ("unfused", "flat", "fusemax")}
    rows = []
    for L in lengths:
        op = mk.attention("attn", np.array([L]), L, True, heads=32, kv_heads=32, head_dim=128, act="fp16", kv="fp16")
        chunk = min(L, CHUNK)
        layer = [d["op"] for _, d in _layer("llama2-7b", "prefill", 1, chunk).nodes(data=True)]
        row = {"L": L}
        for k, m in models.items():
            c = m.cost(op)
            rest = [m.cost(o) for o in layer if o.kind not in ("attention", "kv_write")]
            n = L // chunk
            row[k] = {"s": c.time_s, "j": _joules(m, c), "util": c.detail["tiling"]["stage_utilisation"],
                      "dram": c.detail["bytes"]["dram"], "layer_s": c.time_s + n * sum(r.time_s for r in rest),
                      "layer_j": _joules(m, c) + n * sum(_joules(m, r) for r in rest)}
        rows.append(row)
    return rows


LLAMA_GEMMS = {"qkv": (4096, 12288), "o": (4096, 4096), "gate_up": (4096, 22016), "down": (11008, 4096)}


def lut_rows(phases=(("decode", 1), ("decode", 16), ("prefill", 2048)), weights=("int1", "int2", "int4", "int8")):
    """LLaMA-2-7B linear layers (K x N) with low-bit weights and fp16 activations on three PE kinds, the LUT and
    bit-serial arrays at the area of the MAC arrays (more arrays per core)."""
    base = _npu("hwconfigs/npu-only.yaml")
    arrays = base.spec.systolic.arrays
    kinds = {"mac": base}
    for kind in ("lut", "bitserial"):
        n = max(1, int(arrays * iso_area_pes(base.spec, kind) / base.spec.systolic.pes))
        sysl = base.spec.systolic.model_copy(update={"arrays": n})
        kinds[kind] = NpuModel(base.spec.model_copy(update={"pe": kind, "systolic": sysl}), base.memory)
    rows = []
    for phase, M in phases:
        fp16 = sum(base.cost(mk.gemm("g", M, n, k, weights="fp16", act="fp16")).time_s for k, n in LLAMA_GEMMS.values())
        for w in weights:
            row = {"phase": phase, "M": M, "weights": w, "fp16_s": fp16}
            for kind, m in kinds.items():
                costs = [m.cost(mk.gemm("g", M, n, k, weights=w, act="fp16")) for k, n in LLAMA_GEMMS.values()]
                row[kind] = {"s": sum(c.time_s for c in costs), "j": sum(_joules(m, c) for c in costs),
                             "wbytes": sum(c.detail["tiling"]["bytes_weights"] for c in costs),
                             "arrays": m.spec.systolic.arrays}
            rows.append(row)
    return rows


def mapping_rows(cases=(("llama2-7b", "prefill", 1, 2048), ("llama2-7b", "decode", 64, 512),
                        ("gpt3-7b", "prefill", 1, 2048), ("gpt3-175b", "prefill", 1, 2048))) -> list[dict]:
    """Mapper-found (dataflow, partition, tile, order searched) against the default mapping of each distinct GEMM
    of a layer, latency objective, on the 4-core NPU."""
    model = _npu("hwconfigs/npu/tpuv4-like-hbm.yaml")
    rows = []
    for name, phase, batch, seq in cases:
        seen = set()
        for _, d in _layer(name, phase, batch, seq).nodes(data=True):
            op = d["op"]
            if op.kind != "gemm" or op.shape in seen:
                continue
            seen.add(op.shape)
            M, N, K = op.dims["M"], op.dims["N"], op.dims["K"]
            r = mapper.search(M, N, K, model.spec, model.memory, "fp16", model=model, gemm=GemmMapping(dataflow="any"))
            rows.append({"model": name, "phase": phase, "op": op.name, "M": M, "N": N, "K": K, "result": r})
    return rows


def fusion_rows(cases=(("decode", 64, 512), ("decode", 256, 512), ("prefill", 1, 256), ("prefill", 1, 2048))):
    rows = []
    for phase, batch, seq in cases:
        g = _layer("llama2-7b", phase, batch, seq)
        ff, se = allocate(g, 8 * 2**20, policy="first-fit"), allocate(g, 8 * 2**20, policy="search")
        rows.append({"phase": phase, "batch": batch, "seq": seq, "first-fit": ff, "search": se})
    return rows


def fusion_run_rows(cases=(("decode", 64, 512), ("prefill", 1, 512)), policies=("off", "first-fit", "search"),
                    layers: int | None = None) -> list[dict]:
    """LLaMA-2-7B (fp16) on the NPU-only system with the NPU's `fusion` policy off and on: whole runs
    (`simulate`), latency, DRAM bytes and energy of one device, and the DRAM bytes the kept tensors saved."""
    rows = []
    for phase, batch, seq in cases:
        for policy in policies:
            length = "workload.context_len" if phase == "decode" else "workload.prompt_len"
            sets = {"workload.phase": phase, "workload.batch": batch, length: seq, "workload.dtype": "fp16",
                    "hw.device.units.npu.fusion.policy": policy}
            if layers:
                sets["workload.layers"] = layers
            s = simulate(ROOT / "hwconfigs/npu-only.yaml", ROOT / "workloads/llama2-7b.yaml", overrides=sets).summary
            f = s.get("fusion", {}).get("npu", {})
            rows.append({"phase": phase, "batch": batch, "seq": seq, "policy": policy, "latency_s": s["latency_s"],
                         "dram_bytes": s["bandwidth"]["hbm"]["bytes"], "energy_j": s["energy_j"]["total"],
                         "saved_bytes": f.get("dram_saved_bytes", 0.0), "kept": len(f.get("kept", []))})
    return rows


def _fmt_util(u: dict) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in u.items() if k not in ("pe_macs",))


def markdown(att, lut, maps, fus, fus_runs=()) -> str:
    out = ["# NPU architecture study", "",
           "Generated by `python -m simulator.studies.npu_architecture`. Models: docs/npu.md (mapper, attention "
           "mappings, mpGEMM PE kinds, fusion, area). Energy = the NPU's (MACs, SRAM, registers, vector, static) "
           "plus DRAM traffic at the memory's streaming pJ/bit. All attention mappings run on the same NPU, so the "
           "comparison is at iso-area by construction; LUT and bit-serial arrays get the MAC arrays' area "
           "(simulator/npu/area.py).", "",
           "## Attention: FuseMax-style cascade vs FLAT-style vs unfused", "",
           "LLaMA-2-7B prefill attention (32 heads x 128, causal, one prompt of L tokens) on the NeuPIMs NPU "
           "(npu-only.yaml). Layer = the decoder layer with that attention; its other ops (GEMMs, norms, rotary) are "
           f"costed per chunk of {CHUNK} tokens beyond {CHUNK} (the model's positions limit the lowering).", "",
           "| L | unfused ms | FLAT ms | FuseMax ms | FuseMax vs FLAT | energy FuseMax/FLAT | layer speed-up | "
           "layer energy | FuseMax array util | FLAT array util | FuseMax stages |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in att:
        u, f, x = r["unfused"], r["flat"], r["fusemax"]
        out.append(f"| {r['L']} | {u['s'] * 1e3:.2f} | {f['s'] * 1e3:.2f} | {x['s'] * 1e3:.2f} | "
                   f"{f['s'] / x['s']:.2f}x | {x['j'] / f['j']:.2f} | {f['layer_s'] / x['layer_s']:.2f}x | "
                   f"{x['layer_j'] / f['layer_j']:.2f} | {x['util']['array']:.3f} | {f['util']['array']:.3f} | "
                   f"{_fmt_util(x['util'])} |")
    sp = mean(r["flat"]["s"] / r["fusemax"]["s"] for r in att)
    en = mean(r["fusemax"]["j"] / r["flat"]["j"] for r in att)
    e2e = mean(r["flat"]["layer_s"] / r["fusemax"]["layer_s"] for r in att)
    e2e_j = mean(r["fusemax"]["layer_j"] / r["flat"]["layer_j"] for r in att)
    p = PAPER_FUSEMAX
    out += ["", f"Average over the lengths: FuseMax {sp:.1f}x faster than FLAT on attention at {en:.0%} of its "
            f"energy; {e2e:.1f}x on the layer at {e2e_j:.0%} (paper, iso-area, its own workloads and arrays: "
            f"{p['attention_speedup']}x at {p['attention_energy']:.0%} on attention, {p['e2e_speedup']}x at "
            f"{p['e2e_energy']:.0%} end to end; Nayak et al., MICRO 2024). Our FLAT keeps Br full score rows on "
            "chip, so its K/V re-reads grow with L (memory-bound at 64k); FuseMax's buffers do not depend on L. "
            "Our layer gain is smaller than the paper's end-to-end figure where the GEMMs dominate (short L).", "",
            "## Low-bit weights: LUT mpGEMM vs dequantise-then-GEMM vs bit-serial", "",
            "LLaMA-2-7B linear layers (qkv, o, gate/up, down; one layer) with fp16 activations. `mac` dequantises "
            "the weights on the vector units and multiplies in fp16; `lut` and `bitserial` get as many arrays as "
            "fit the MAC arrays' area. fp16 column: fp16 weights on the MAC arrays.", "",
            "| phase | M | weights | fp16 ms | dequant+MAC ms | LUT ms | bit-serial ms | LUT vs dequant | "
            "energy LUT/dequant | weight MiB (LUT) | arrays mac/lut/bit-serial |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in lut:
        out.append(f"| {r['phase']} | {r['M']} | {r['weights']} | {r['fp16_s'] * 1e3:.3f} | {r['mac']['s'] * 1e3:.3f} | "
                   f"{r['lut']['s'] * 1e3:.3f} | {r['bitserial']['s'] * 1e3:.3f} | {r['mac']['s'] / r['lut']['s']:.2f}x | "
                   f"{r['lut']['j'] / r['mac']['j']:.2f} | {r['lut']['wbytes'] / 2**20:.1f} | "
                   f"{r['mac']['arrays']}/{r['lut']['arrays']}/{r['bitserial']['arrays']} |")
    out += ["", "LUT Tensor Core (Mo et al., ISCA 2025, arXiv 2408.06003) reports 1.44x compute density and energy "
            "efficiency over the previous LUT accelerators and several-fold PPA gains over MAC-based tensor cores; "
            "our per-op energies and areas are derived from Horowitz's 45 nm tables (simulator/npu/pe.py), not "
            "taken from that paper.", "",
            "## Mapper-found vs default GEMM mappings", "",
            "Each distinct GEMM of a layer on the 4-core TPUv4-like NPU with HBM2E; the search covers dataflow "
            "(os/ws/is), 1-D/2-D/2.5-D core partitions, tiles and loop orders (latency objective). Default: the "
            "array's ws dataflow, 1-D split, traffic-minimising tile.", "",
            "| model | phase | op | M x N x K | searched | default cycles | searched cycles | gain | DRAM MiB default/searched | "
            "mapping (dataflow, [pm,pn,pk], tile, order) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in maps:
        res = r["result"]
        b, d = res.best_metrics, res.default_metrics
        out.append(f"| {r['model']} | {r['phase']} | {r['op']} | {r['M']}x{r['N']}x{r['K']} | {res.evaluated} "
                   f"({res.method}) | {d['cycles']:.0f} | {b['cycles']:.0f} | {d['cycles'] / b['cycles']:.2f}x | "
                   f"{d['dram_bytes'] / 2**20:.0f}/{b['dram_bytes'] / 2**20:.0f} | {res.best.dataflow}, "
                   f"{list(res.best.partition)}, {list(res.best.tile)}, {res.best.order} |")
    out += ["", "## On-chip reuse across operators (LLaMA-2-7B layer, 8 MiB scratchpad, 25 % reserved for tiles)", "",
            "| phase | batch | seq | intermediate MiB unfused | saved first-fit | saved search | fused chains (search) |",
            "|---|---|---|---|---|---|---|"]
    for r in fus:
        ff, se = r["first-fit"], r["search"]
        chains = "; ".join(" -> ".join(c) for c in se["fused_chains"])
        out.append(f"| {r['phase']} | {r['batch']} | {r['seq']} | {ff['intermediate_bytes_unfused'] / 2**20:.1f} | "
                   f"{ff['saved_bytes'] / 2**20:.1f} | {se['saved_bytes'] / 2**20:.1f} | {chains} |")
    if fus_runs:
        out += ["", "Applied in runs (`fusion: {policy: ...}` on the NPU unit; hwconfigs/npu-only.yaml, LLaMA-2-7B fp16, "
                "all layers; DRAM bytes of one device, energy of the whole system): kept intermediates are neither stored nor loaded, so the "
                "ops' DRAM bytes and DMA time drop (docs/npu.md).", "",
                "| phase | batch | seq | policy | latency ms | vs off | DRAM GiB | vs off | system energy J | kept tensors | "
                "saved MiB |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        base = {}
        for r in fus_runs:
            b = base.setdefault((r["phase"], r["batch"], r["seq"]), r)
            out.append(f"| {r['phase']} | {r['batch']} | {r['seq']} | {r['policy']} | {r['latency_s'] * 1e3:.3f} | "
                       f"{r['latency_s'] / b['latency_s'] - 1:+.1%} | {r['dram_bytes'] / 2**30:.2f} | "
                       f"{r['dram_bytes'] / b['dram_bytes'] - 1:+.1%} | {r['energy_j']:.3f} | {r['kept']} | "
                       f"{r['saved_bytes'] / 2**20:.0f} |")
    out += ["", "## Area (22 nm; simulator/npu/area.py)", "", "| NPU | PE arrays mm2 | vector mm2 | scratchpad mm2 | total mm2 |",
            "|---|---|---|---|---|"]
    for path in ("hwconfigs/npu-only.yaml", "hwconfigs/npu/tpuv4-like-hbm.yaml"):
        a = area_mm2(load_system(ROOT / path).units["npu"])
        out.append(f"| {path} | {a['pe_array']:.1f} | {a['vector']:.2f} | {a['scratchpad']:.1f} | {a['total']:.1f} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    report_main(argv, __doc__, ROOT / "reports" / "npu_architecture.md",
                lambda: markdown(attention_rows(), lut_rows(), mapping_rows(), fusion_rows(), fusion_run_rows()))


if __name__ == "__main__":
    main()
