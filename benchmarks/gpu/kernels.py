"""Kernel measurements on a real GPU (issue 15): causal prefill attention, bf16 / fp8 / int8 GEMMs and weight-only
int8 / int4 GEMV and small-M GEMMs. Prints and writes $OUT/m.csv; method in tests/data/gpu_h100/README.md.

    python benchmarks/gpu/kernels.py        # on the device machine

Rows: `env,<device>,<torch>,<driver;max SM clock;power limit;SM clock;power>`, `attn,B,L,Hq,Hkv,median_us,`,
`gemm,M,N,K,kind,median_us,graph_us` (kind: bf16 F.linear, fp8 torch._scaled_mm with per-tensor scales, int8
torch._int_mm, w8 eager dequant + F.linear, w8p torch._weight_int8pack_mm, w4 tinygemm int4 g128), or `...,err,msg`.
"""

import os
import subprocess
from functools import partial

import torch
import torch.nn.functional as F

DEV, BF16, FP8 = "cuda", torch.bfloat16, torch.float8_e4m3fn
L2_BYTES = 50e6
ATTN = [(1, 512, 32, 32), (1, 1024, 32, 32), (1, 2048, 32, 32), (1, 4096, 32, 32), (1, 8192, 32, 32),
        (4, 1024, 32, 32), (4, 2048, 32, 32), (8, 2048, 32, 32), (16, 512, 32, 32), (2, 2048, 40, 40),
        (1, 4096, 64, 8), (4, 2048, 64, 8), (8, 1024, 32, 8)]          # batch, length, query heads, KV heads
WEIGHTS = [(12288, 4096), (4096, 4096), (22016, 4096), (4096, 11008), (8192, 8192)]
ROWS = [1, 16, 128, 512, 2048, 8192]
KINDS = ["bf16", "fp8", "int8", "w8", "w8p", "w4"]


def smi(fields: str) -> str:
    out = subprocess.run(["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True, check=False).stdout
    return out.strip().replace(", ", ";")


def sets(nbytes: float) -> int:
    """Input sets to rotate through so that they cover more than 4x the L2 (2 to 12)."""
    return max(2, min(12, int(4 * L2_BYTES / nbytes) + 1))


def timed(calls: list, n: int = 40, graph: bool = True) -> str:
    """`median_us,graph_us`: CUDA events around each call after a 100 us GPU spin (the host runs ahead), median
    of n; then 10 calls captured in one CUDA graph, two replays timed together, per call."""
    for call in calls[:2]:
        call()
    torch.cuda.synchronize()
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(n)]
    for i, (a, b) in enumerate(events):
        torch.cuda._sleep(100000)
        a.record()
        calls[i % len(calls)]()
        b.record()
    torch.cuda.synchronize()
    median = sorted(a.elapsed_time(b) * 1e3 for a, b in events)[n // 2]
    per_call = ""
    if graph:
        try:
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                for i in range(10):
                    calls[i % len(calls)]()
            g.replay()
            torch.cuda.synchronize()
            a, b = events[0]
            a.record()
            g.replay()
            g.replay()
            b.record()
            torch.cuda.synchronize()
            per_call = a.elapsed_time(b) * 1e3 / 20
        except Exception:  # noqa: BLE001  (some kernels cannot be captured)
            per_call = "x"
    return f"{median:.2f},{per_call}"


def _r(*shape, dtype=BF16):
    return torch.randn(*shape, device=DEV, dtype=dtype)


def _i8(*shape):
    return torch.randint(-99, 99, shape, device=DEV, dtype=torch.int8)


def _scaled_mm(x, w, one):
    return torch._scaled_mm(x, w.t(), scale_a=one, scale_b=one, out_dtype=BF16)


def _int_mm(x, w):
    return torch._int_mm(x, w.t())


def _w8_eager(x, w, s):
    return F.linear(x, w.to(BF16)) * s


def gemm_calls(kind: str, M: int, N: int, K: int) -> list | None:
    """One call per input set for a GEMM of this kind, or None where the kind does not apply."""
    n = sets(N * K)
    if kind == "bf16":
        return [partial(F.linear, _r(M, K), _r(N, K)) for _ in range(n)]
    if kind == "fp8":
        one = torch.tensor(1.0, device=DEV)
        return [partial(_scaled_mm, _r(M, K).to(FP8), _r(N, K).to(FP8), one) for _ in range(n)]
    if kind == "int8":
        return [partial(_int_mm, _i8(M, K), _i8(N, K)) for _ in range(n)]
    if M > 64:                                       # the weight-only kernels are GEMV-class
        return None
    if kind == "w4":
        def packed():
            return torch._convert_weight_to_int4pack(torch.randint(0, 255, (N, K // 2), device=DEV,
                                                                   dtype=torch.uint8), 8)
        return [partial(torch._weight_int4pack_mm, _r(M, K), packed(), 128, _r(K // 128, N, 2)) for _ in range(n)]
    if kind == "w8":
        return [partial(_w8_eager, _r(M, K), _i8(N, K), _r(N)) for _ in range(n)]
    return [partial(torch._weight_int8pack_mm, _r(M, K), _i8(N, K), _r(N)) for _ in range(n)]


def main():
    with open(os.path.join(os.environ.get("OUT", "."), "m.csv"), "w") as out:
        measure(out)


def measure(out):
    def put(*fields):
        line = ",".join(map(str, fields))
        print(line)
        out.write(line + "\n")
        out.flush()

    put("env", torch.cuda.get_device_name(), torch.__version__,
        smi("driver_version,clocks.max.sm,power.limit,clocks.sm,power.draw"))
    for B, L, H, Hkv in ATTN:
        try:
            calls = [partial(F.scaled_dot_product_attention, _r(B, H, L, 128), _r(B, Hkv, L, 128), _r(B, Hkv, L, 128),
                             is_causal=True, enable_gqa=H != Hkv) for _ in range(sets(B * L * (H + 2 * Hkv) * 256))]
            put("attn", B, L, H, Hkv, timed(calls, graph=False))
        except Exception as e:  # noqa: BLE001  (one failing shape must not lose the others)
            put("attn", B, L, H, Hkv, "err", str(e)[:80])
    for N, K in WEIGHTS:
        for M in ROWS:
            for kind in KINDS:
                try:
                    calls = gemm_calls(kind, M, N, K)
                    if calls is not None:
                        put("gemm", M, N, K, kind, timed(calls))
                    del calls
                except Exception as e:  # noqa: BLE001
                    put("gemm", M, N, K, kind, "err", str(e)[:80])
        if N == 8192:
            break


if __name__ == "__main__":
    main()
