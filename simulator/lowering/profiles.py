"""Implementation profiles: the software stack that decides which kernels a layer lowers to.

Each vector op kind has (kernels, passes): how many kernels one op launches and how many tensor-sized
transfers (reads plus writes, in the activation dtype) it makes in all. `fused` is a serving engine
(vLLM / TensorRT-LLM: one kernel per op, flash attention over the batch); `eager-pytorch` is the plain
PyTorch model of ../shared/reference/h100/measured_model.md (HF-style RMSNorm with an fp32 upcast in about
8 kernels, rotate-half RoPE in 5 kernels per tensor, KV-cache copies, SDPA, a transpose copy); `unfused`
keeps decode attention as per-request Q.K^T, softmax and S.V (GEMVs for PIM and NPU mapping, as NeuPIMs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Profile:
    name: str
    attention: Literal["fused", "per-request"]
    vector: dict[str, tuple[int, float]] = field(default_factory=dict)
    rotary_per_tensor: bool = False      # separate rotary ops for q and k
    kv_copy_kernels: int = 1             # kernels that write new K/V into the cache
    output_copy: bool = False            # transpose/reshape copy of the attention output
    sampling: bool = True                # a sampling op after the LM head (the measured eager step has none)
    strided: dict[str, int] = field(default_factory=dict)   # kernels per op kind on the generic elementwise path
    dequant_weights: tuple[str, ...] = ()   # weight-only formats widened in a separate cast before a GEMM
    legacy_mma: tuple[str, ...] = ()        # compute dtypes whose GEMMs run previous-generation kernels

    def strided_kernels(self, kind: str, rows: int, multi_token: bool) -> int:
        """Kernels of one `kind` op that PyTorch runs on its generic (non-vectorised) elementwise path: operands
        that are strided views, broadcast or cast. A one-row operand is contiguous after broadcasting (the norm's
        weight multiply, the MLP's chunked halves); a prompt's q / k keep the permuted [B, S, H, d] layout, so
        rotary's final add is generic too."""
        n = self.strided.get(kind, 0)
        if rows <= 1 and kind == "silu_mul":
            return 0
        if rows <= 1 and kind == "rmsnorm" and n:
            return n - 1
        if kind == "rotary" and multi_token and n:
            return n + 1
        return n

    def kernels(self, kind: str) -> int:
        return self.vector.get(kind, (1, 2.0))[0]

    def passes(self, kind: str) -> float:
        return self.vector.get(kind, (1, 2.0))[1]


_FUSED = {"rmsnorm": (1, 2.0), "layernorm": (1, 2.0), "rotary": (1, 2.0), "silu_mul": (1, 3.0),
          "gelu": (1, 2.0), "relu": (1, 2.0), "add": (1, 3.0), "softmax": (1, 2.0)}

# eager RMSNorm over bf16 x: to fp32 (2+4 B), pow (4+4), mean (4), +eps/rsqrt (~0), x*r (4+4), to bf16 (4+2),
# *weight (2+2): ~36 B per element = 18 bf16 passes in 8 kernels. Rotary per tensor: neg + cat + 2 mul + add.
_EAGER = {**_FUSED, "rmsnorm": (8, 18.0), "rotary": (5, 11.0), "silu_mul": (2, 5.0)}
# generic-path kernels (tests/data/gpu_h200/trace.csv, PyTorch 2.11): the norm's cast, x * rstd and * weight; the
# rotary's x * cos, neg of a slice, cat, * sin; both cache copies into a strided slice; the transpose copy; silu
# and multiply on the chunked gate / up halves
_EAGER_STRIDED = {"rmsnorm": 3, "rotary": 4, "kv_write": 2, "copy": 1, "silu_mul": 2}

PROFILES: dict[str, Profile] = {
    "fused": Profile("fused", "fused", _FUSED),
    "eager-pytorch": Profile("eager-pytorch", "fused", _EAGER, rotary_per_tensor=True, kv_copy_kernels=2,
                             output_copy=True, sampling=False, strided=_EAGER_STRIDED,
                             # tests/data/gpu_h100/kernel_names.csv: F.linear(x, w.to(bf16)) * s casts the int8
                             # weights on the generic path (122 us for 45 M), then a bf16 GEMM, then the scale;
                             # torch._int_mm runs CUTLASS's sm80 kernel (mma.sync) on Hopper
                             dequant_weights=("int8",), legacy_mma=("int8",)),
    "unfused": Profile("unfused", "per-request", _FUSED),
}
