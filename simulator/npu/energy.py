"""Energy per action for the NPU: MACs by dtype, SRAM bytes by buffer size (CACTI 7), PE registers, NoC.

A unit's `energy:` table in its YAML wins; an action it does not list falls back to the defaults below, and
the estimator that produced each number is recorded (as Accelergy does). Every default cites its source.
"""

from __future__ import annotations

import math
from itertools import pairwise

from simulator.npu import pe

# Horowitz, "Computing's Energy Problem", ISSCC 2014, 45 nm, 0.9 V (../shared/reference/energy/README.md):
# FMA = multiply + add. int8: 0.2 + 0.03; fp16: 1.1 + 0.4; fp32: 3.7 + 0.9; bf16 taken as fp16.
MAC_PJ_45NM: dict[str, float] = {"int8": 0.23, "fp8": 0.23, "fp16": 1.5, "bf16": 1.5, "fp32": 4.6, "tf32": 4.6,
                                 "int4": 0.12}
# Scaling 45 nm -> 7 nm: x0.3-0.5 per op (same README, "Scaling rule of thumb"); we take 0.4.
TECH_SCALE = {45: 1.0, 22: 0.55, 7: 0.4}
# Register file access, 2R/1W 64-bit: 5.5 pJ at 30 nm (DARPA exascale report via Keckler) -> 0.086 pJ/byte;
# a PE-local pipeline register is a fraction of that; README's 7 nm default 0.02-0.05 pJ/bit -> 0.3 pJ/byte.
REG_PJ_PER_BYTE_45NM = 0.3
# Vector lane op: an fp16 add (0.4 pJ) or multiply (1.1 pJ), Horowitz 2014; average of the two.
VECTOR_PJ_PER_OP_45NM = 0.75
# On-chip wire 18-110 fJ/bit/mm (Keckler) and router ~ same again; 1 mm hop: 0.1 pJ/bit/hop (README 7 nm
# practical default 0.02-0.1 pJ/bit/mm plus the buffer write/read at each router).
NOC_PJ_PER_BIT_HOP = 0.1


# (tech_nm, size_KB, access_bytes, read_nJ, write_nJ, leak_mW_per_bank): CACTI 7 (HewlettPackard/cacti@1ffd8df),
# 'ram' scratchpad, 1 bank, 1 RW port, itrs-hp, 350 K; ../shared/reference/energy/cacti_sram_reference.csv
CACTI_SRAM: tuple[tuple[float, ...], ...] = (
    (45, 8, 8, 0.00528833, 0.00650229, 8.75319),
    (45, 8, 64, 0.0234133, 0.0351935, 8.65264),
    (45, 32, 8, 0.0149248, 0.0126898, 32.8606),
    (45, 32, 64, 0.0306904, 0.0797215, 33.1592),
    (45, 256, 8, 0.0406252, 0.0288314, 238.733),
    (45, 256, 64, 0.131177, 0.210857, 238.889),
    (45, 1024, 8, 0.0676875, 0.0558938, 954.932),
    (45, 1024, 64, 0.311132, 0.352773, 906.08),
    (45, 8192, 8, 0.16663, 0.154693, 7630.18),
    (45, 8192, 64, 0.972629, 1.05684, 7223.02),
    (22, 8, 8, 0.00150402, 0.00168587, 1.32939),
    (22, 8, 64, 0.00669901, 0.00992369, 1.28993),
    (22, 32, 8, 0.00349505, 0.00281918, 4.80458),
    (22, 32, 64, 0.0092756, 0.0226293, 4.83957),
    (22, 256, 8, 0.00993381, 0.00754251, 35.1424),
    (22, 256, 64, 0.0406419, 0.0607211, 35.0367),
    (22, 1024, 8, 0.0184356, 0.0159466, 140.191),
    (22, 1024, 64, 0.0964296, 0.102949, 133.697),
    (22, 8192, 8, 0.0504209, 0.0456106, 1115.21),
    (22, 8192, 64, 0.303036, 0.309555, 1069.57),
)


def _cacti() -> list[dict[str, float]]:
    keys = ("tech_nm", "size_KB", "access_bytes", "read_nJ", "write_nJ", "leak_mW_per_bank")
    return [dict(zip(keys, row)) for row in CACTI_SRAM]


def sram_pj_per_byte(size_bytes: float, *, tech_nm: int = 22, access_bytes: int = 64, write: bool = False) -> float:
    """pJ per byte of one SRAM access, log-log interpolated in size over the CACTI 7 runs
    (HewlettPackard/cacti@1ffd8df, ../shared/reference/energy/cacti_sram_reference.csv); extrapolated
    beyond 8 MB by banking (constant per byte)."""
    pts = sorted((r["size_KB"] * 1024, (r["write_nJ"] if write else r["read_nJ"]) * 1e3 / access_bytes)
                 for r in _cacti() if r["tech_nm"] == tech_nm and r["access_bytes"] == access_bytes)
    if not pts:
        raise ValueError(f"no CACTI data for {tech_nm} nm, {access_bytes} B accesses")
    size = min(max(size_bytes, pts[0][0]), pts[-1][0])
    for (s0, e0), (s1, e1) in pairwise(pts):
        if s0 <= size <= s1:
            f = math.log(size / s0) / math.log(s1 / s0)
            return math.exp(math.log(e0) + f * (math.log(e1) - math.log(e0)))
    return pts[-1][1]


def sram_leakage_w(size_bytes: float, *, tech_nm: int = 22) -> float:
    """Leakage power of an SRAM of this size (CACTI 7, 64 B access), linear in size between runs."""
    pts = sorted((r["size_KB"] * 1024, r["leak_mW_per_bank"] * 1e-3) for r in _cacti()
                 if r["tech_nm"] == tech_nm and r["access_bytes"] == 64)
    per_byte = pts[-1][1] / pts[-1][0]
    return size_bytes * per_byte


def default_table(scratchpad_bytes: float, *, tech_nm: int = 22) -> dict[str, tuple[float, str]]:
    """Action -> (joules, source) defaults for an NPU with this scratchpad."""
    scale = TECH_SCALE.get(tech_nm, 0.55)
    pj = 1e-12
    table = {f"mac.{dt}": (e * scale * pj, f"Horowitz ISSCC 2014 FMA (45 nm) x {scale} for {tech_nm} nm")
             for dt, e in MAC_PJ_45NM.items()}
    table["sram.read_byte"] = (sram_pj_per_byte(scratchpad_bytes, tech_nm=tech_nm) * pj,
                               f"CACTI 7 {tech_nm} nm, {scratchpad_bytes / 2**20:g} MiB, 64 B read")
    table["sram.write_byte"] = (sram_pj_per_byte(scratchpad_bytes, tech_nm=tech_nm, write=True) * pj,
                                f"CACTI 7 {tech_nm} nm, {scratchpad_bytes / 2**20:g} MiB, 64 B write")
    table["reg.byte"] = (REG_PJ_PER_BYTE_45NM * scale * pj, "Keckler/DARPA register file, PE-local share")
    table["vector.op"] = (VECTOR_PJ_PER_OP_45NM * scale * pj, "Horowitz ISSCC 2014 fp16 add/mult mean")
    table["noc.bit_hop"] = (NOC_PJ_PER_BIT_HOP * pj, "Keckler on-chip wire 18-110 fJ/bit/mm, 1 mm hop + router")
    for act in ("fp16", "bf16", "fp32", "int8"):
        for kind, action in (("bitserial", "bitserial.step"), ("lut", "lut.lookup")):
            table[f"{action}.{act}"] = (pe.op_energy_j(kind, act, tech_nm=tech_nm),
                                        f"simulator/npu/pe.py {kind} ({act} adder, Horowitz 2014) at {tech_nm} nm")
    for dt in ("int2", "int1", "fp6", "fp4", "mxfp8", "mxfp6", "mxfp4"):
        table[f"mac.{dt}"] = (pe.op_energy_j("mac", dt, tech_nm=tech_nm), f"simulator/npu/pe.py (derived) x {scale}")
    return table


def energy(counts: dict[str, float], table: dict[str, float], defaults: dict[str, tuple[float, str]],
           static_power: float, seconds: float) -> tuple[float, dict[str, float], dict[str, str]]:
    """Total joules, joules per action, and which estimator gave each action's energy."""
    per: dict[str, float] = {}
    used: dict[str, str] = {}
    for action, n in counts.items():
        if action in table:
            e, used[action] = table[action], "config"
        elif action in defaults:
            e, used[action] = defaults[action][0], defaults[action][1]
        else:
            e, used[action] = 0.0, "none"
        per[action] = n * e
    per["static"] = static_power * seconds
    return sum(per.values()), per, used
