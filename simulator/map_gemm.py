"""`simulate map`: search the mapping of one GEMM on an NPU of a system and show the search (simulator.npu.mapper)."""

from __future__ import annotations

from pathlib import Path

from simulator.config.loader import parse_set
from simulator.errors import ConfigError, allowed
from simulator.hardware.system import load_system
from simulator.lowering.ops import DTYPE_BYTES
from simulator.npu import mapper


def run_map(hw: Path, M: int, N: int, K: int, *, dtype: str = "fp16", unit: str | None = None, sets=(),
            objective: str | None = None, method: str | None = None, dataflow: str | None = "any",
            top: int = 10) -> dict:
    """The search's result: best and default mappings with their cycles, DRAM and NoC bytes and energy, and the
    top candidates. `dataflow` any searches os, ws and is (the array is taken as able to run all three)."""
    if dtype not in DTYPE_BYTES:
        raise ConfigError(f"unknown dtype '{dtype}'; {allowed(DTYPE_BYTES)}", file="--dtype")
    overrides = parse_set(list(sets))
    if overrides["workload"]:
        raise ConfigError("simulate map takes only hw.<key> overrides", file="--set")
    system = load_system(hw, overrides["hw"])
    npus = [n for n, s in system.units.items() if s.type == "npu"]
    if not npus:
        raise ConfigError("the system has no NPU unit (type: npu) to map onto", file=str(hw))
    name = unit or npus[0]
    if name not in npus:
        raise ConfigError(f"unknown NPU unit '{name}'; {allowed(npus)}", file="--unit")
    model = system.model(name, "transaction")
    spec = model.spec
    gemm = spec.mapping.gemm
    if dataflow is not None and gemm.dataflow is None:
        gemm = gemm.model_copy(update={"dataflow": dataflow})
    result = mapper.search(M, N, K, spec, model.memory, dtype, model=model, name=name, gemm=gemm, method=method,
                           objective=objective, top=top)
    return {"system": system.name, "unit": name, "gemm": {"M": M, "N": N, "K": K, "dtype": dtype},
            **result.as_dict()}


def text(r: dict) -> str:
    """A few lines: the best and default mappings and the gain."""
    lines = [f"gemm {r['gemm']['M']}x{r['gemm']['N']}x{r['gemm']['K']} on {r['system']}/{r['unit']}: "
             f"{r['method']} search, {r['evaluated']} of {r['space']} mappings, objective {r['objective']}"]
    for label in ("best", "default"):
        m = r[label]
        lines.append(f"  {label:8s} {m['dataflow']} partition {m['partition']} tile {m['tile']} {m['order']}: "
                     f"{m['cycles']:.0f} cycles, {m['dram_bytes'] / 2**20:.1f} MiB DRAM, {m['energy_j'] * 1e3:.3f} mJ")
    g = r["gain"]
    lines.append(f"  gain     {g['cycles']:.3f}x cycles, {g['dram_bytes']:.3f}x DRAM bytes, {g['energy_j']:.3f}x energy")
    return "\n".join(lines)
