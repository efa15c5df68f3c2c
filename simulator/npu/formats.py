"""Number formats of weights, activations and KV: element bits and MX-style block scales.

OCP Microscaling (MX) Formats Specification v1.0 (2023): a block of 32 elements shares one 8-bit power-of-two
scale (E8M0); MXFP8 (E4M3/E5M2), MXFP6 (E2M3/E3M2), MXFP4 (E2M1). Storage bits per element = element bits +
scale bits / block. Plain integer formats carry no block scale here (a per-channel scale is a separate, small
tensor). `simulator.lowering.ops.DTYPE_BYTES` holds the same storage sizes; a test keeps them equal.
"""

from __future__ import annotations

from dataclasses import dataclass

MX_BLOCK = 32           # OCP MX v1.0: elements per shared scale
MX_SCALE_BITS = 8       # OCP MX v1.0: E8M0 scale


@dataclass(frozen=True)
class Format:
    name: str
    bits: int                  # bits of one element
    kind: str                  # "int" | "float"
    block: int = 0             # elements per shared scale (0: none)
    scale_bits: int = 0

    @property
    def storage_bits(self) -> float:
        """Bits stored per element, the block scale included."""
        return self.bits + (self.scale_bits / self.block if self.block else 0.0)

    @property
    def storage_bytes(self) -> float:
        return self.storage_bits / 8


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("fp32", 32, "float"), Format("tf32", 32, "float"), Format("bf16", 16, "float"),
    Format("fp16", 16, "float"), Format("fp8", 8, "float"), Format("fp6", 6, "float"), Format("fp4", 4, "float"),
    Format("int8", 8, "int"), Format("int4", 4, "int"), Format("int2", 2, "int"), Format("int1", 1, "int"),
    Format("mxfp8", 8, "float", MX_BLOCK, MX_SCALE_BITS), Format("mxfp6", 6, "float", MX_BLOCK, MX_SCALE_BITS),
    Format("mxfp4", 4, "float", MX_BLOCK, MX_SCALE_BITS),
)}


def bits(dtype: str) -> int:
    """Element bits of a dtype (the weight bits a bit-serial or LUT PE iterates over)."""
    return FORMATS[dtype].bits
