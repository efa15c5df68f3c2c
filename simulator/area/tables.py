"""Cited per-component area figures (mm^2); docs/dse.md gives each source and how the models combine them.

Logic areas are at 45 nm, the node of the shipped per-action energies (Horowitz 2014, CACTI 7 at 45 nm), so a
unit's area and its energy table describe the same silicon. [recall] marks a widely reproduced figure that was
not re-checked against the original here; [derived] one computed from cited figures.
"""

from __future__ import annotations

import numpy as np

UM2 = 1e-6   # mm^2 per um^2

# Horowitz, "Computing's Energy Problem", ISSCC 2014, area of arithmetic units at 45 nm (um^2) [recall]:
# 8-b add 36, 16-b add 67, 32-b add 137, 8-b mult 282, 32-b mult 3495, 16-b FP add 1360, 16-b FP mult 1640,
# 32-b FP add 4184, 32-b FP mult 7700. A MAC is one multiplier and one adder of the accumulation width.
MAC_MM2: dict[str, float] = {
    "fp16": (1640 + 1360) * UM2,      # FP16 mult + FP16 add
    "bf16": (1640 + 1360) * UM2,      # [assumption] as FP16: a 8-b mantissa multiplier is smaller, the adder alike
    "fp32": (7700 + 4184) * UM2,      # FP32 mult + FP32 add
    "tf32": (7700 + 4184) * UM2,      # [assumption] an FP32 datapath
    "int8": (282 + 137) * UM2,        # 8-b mult + 32-b accumulate
    "fp8": (282 + 1360) * UM2,        # [assumption] an 8-b multiplier + FP16 accumulation adder
}

# CACTI 7 (HewlettPackard/cacti @1ffd8df), 45 nm scratchpad, 1 bank, 1 RW port, 64 B wide:
# h x w of ../shared/reference/energy/cacti_sram_reference.csv (rows `45,<KB>,64`).
SRAM_KB = np.array([8.0, 32.0, 256.0, 1024.0, 8192.0])
SRAM_MM2 = np.array([0.187352 * 0.262317, 0.44 * 0.262404, 1.55637 * 0.690174, 3.11706 * 1.26775,
                     6.18199 * 4.32125])

# Published die areas of GPUs (vendor whitepapers) [recall]: GH100 814 mm^2 (TSMC 4N; H100 SXM enables 132 of
# 144 SMs; H200 is the same die), GA100 826 mm^2 (TSMC N7; A100 enables 108 of 128 SMs). Keyed by the dense FP16
# tensor FLOP per clock per SM that identifies the generation in a GPU spec (Hopper 4096, Ampere 2048).
GPU_DIES: dict[float, tuple[str, float, int]] = {
    4096.0: ("GH100", 814.0, 132),
    2048.0: ("GA100", 826.0, 108),
}

# PIM logic per MAC lane in a DRAM die [derived, recall]: Samsung HBM-PIM (Aquabolt-XL / FIMDRAM, Kwon et al.
# ISSCC 2021; Lee et al. ISCA 2021) puts 32 PCUs of 16 FP16 lanes on a PIM die that holds 4 Gb instead of the
# 8 Gb of a standard HBM2 die of the same size: the 512 lanes (with their register files and buses) take the place
# of half the cell arrays. With an 8 Gb 20 nm HBM2 die of about 92 mm^2 and cell arrays about half of it [recall],
# that is 0.5 x 0.5 x 92 / 512 = 0.045 mm^2 per lane, 15x a 45 nm logic FP16 MAC: DRAM processes have few metal
# layers and slow transistors. SK hynix AiM (ISSCC 2022) and NeuPIMs (ASPLOS 2024, 16 FP16 multipliers per bank)
# use the same kind of per-bank unit; their lanes are costed alike.
PIM_LANE_MM2 = 0.5 * 0.5 * 92.0 / 512
# Vector lanes: one FP16 fused multiply-add datapath (the FP16 MAC above).
VECTOR_LANE_MM2 = MAC_MM2["fp16"]


def sram_mm2(size_bytes: float, banks: int = 1) -> float:
    """Area of `banks` equal SRAM banks holding `size_bytes` in all: CACTI points interpolated log-log per bank,
    linear in size below 8 KB and above 8 MB."""
    if size_bytes <= 0:
        return 0.0
    kb = size_bytes / 1024 / banks
    if kb <= SRAM_KB[0]:
        per = SRAM_MM2[0] * kb / SRAM_KB[0]
    elif kb >= SRAM_KB[-1]:
        per = SRAM_MM2[-1] * kb / SRAM_KB[-1]
    else:
        per = float(np.exp(np.interp(np.log(kb), np.log(SRAM_KB), np.log(SRAM_MM2))))
    return banks * per
