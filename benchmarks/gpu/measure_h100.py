"""Measurements on a real NVIDIA GPU for the GPU model's second calibration round (issue 15).

    OUT=/some/folder python benchmarks/gpu/measure_h100.py [--quick]

Writes, under $OUT (default ./gpu_measurements): env.txt (device, driver, clocks), attention_prefill.csv
(causal SDPA prefill), gemm_lowp.csv (bf16 / fp8 / int8 GEMMs), quant_gemv.csv (weight-only int8 / int4
GEMV and small-M GEMM), step_overhead.csv (eager vs CUDA-graph steps of a LLaMA-like layer stack), power.csv
(board power and SM clock sampled during idle, a memory-bound copy and a sustained bf16 GEMM).

Method (tests/data/gpu_h100/README.md): random-normal data; every timed call uses the next of several input
sets whose total exceeds 2x the L2 (weights are not served from L2); a spin kernel before each timed call lets
the host run ahead; CUDA events bracket only the call; medians over repeats after warm-up; `graph_us` is the
time per call when 20 calls replay back to back in one CUDA graph. Every section degrades gracefully: a
missing kernel or API records an `error` row instead of stopping the run.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import subprocess
import sys
import time
import traceback

import torch
import torch.nn.functional as F

DEV = "cuda"
OUT = os.environ.get("OUT", "gpu_measurements")
L2 = 50 * 2**20
ROT_BYTES = 4 * L2          # footprint of the rotating input sets
REPS = 60
QUICK = False


def smi(fields: str = "clocks.sm,clocks.mem,power.draw,temperature.gpu,power.limit") -> str:
    try:
        return subprocess.run(["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception as e:  # noqa: BLE001
        return f"nvidia-smi failed: {e}"


def write(name: str, rows: list[dict]) -> None:
    if not rows:
        return
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with open(os.path.join(OUT, name), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {name}: {len(rows)} rows", flush=True)


def n_sets(set_bytes: float, cap: int = 16) -> int:
    return max(2, min(cap, math.ceil(ROT_BYTES / max(set_bytes, 1))))


def time_calls(calls: list, reps: int = REPS, graph: bool = True) -> dict:
    """Median / p20 / p80 microseconds of single calls (rotating over `calls`), and per-call time in a graph."""
    reps = max(10, reps // (3 if QUICK else 1))
    for c in calls[: min(len(calls), 3)]:
        c()
    torch.cuda.synchronize()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    for i in range(reps):
        torch.cuda._sleep(200_000)              # ~100 us spin: the host runs ahead of the GPU
        starts[i].record()
        calls[i % len(calls)]()
        ends[i].record()
    torch.cuda.synchronize()
    t = sorted(s.elapsed_time(e) * 1e3 for s, e in zip(starts, ends))
    out = {"median_us": t[len(t) // 2], "p20_us": t[len(t) // 5], "p80_us": t[4 * len(t) // 5], "reps": reps}
    if graph:
        try:
            n = 20
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for c in calls[:3]:
                    c()
            torch.cuda.current_stream().wait_stream(s)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                for i in range(n):
                    calls[i % len(calls)]()
            g.replay()
            torch.cuda.synchronize()
            gt = []
            for _ in range(7):
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record()
                g.replay()
                b.record()
                torch.cuda.synchronize()
                gt.append(a.elapsed_time(b) * 1e3 / n)
            out["graph_us"] = sorted(gt)[len(gt) // 2]
            del g
        except Exception as e:  # noqa: BLE001
            out["graph_error"] = str(e).splitlines()[0][:120]
    return out


# ---------------------------------------------------------------------------------------------------------------
def prefill_attention() -> list[dict]:
    cfgs = [(1, 512, 32, 32), (1, 1024, 32, 32), (1, 2048, 32, 32), (1, 4096, 32, 32), (1, 8192, 32, 32),
            (4, 512, 32, 32), (4, 1024, 32, 32), (4, 2048, 32, 32), (8, 2048, 32, 32), (16, 512, 32, 32),
            (2, 2048, 40, 40), (1, 4096, 64, 8), (4, 2048, 64, 8), (8, 1024, 32, 8)]
    if QUICK:
        cfgs = cfgs[:4]
    rows = []
    for B, S, H, KH in cfgs:
        D = 128
        row = {"batch": B, "seq": S, "heads_q": H, "heads_kv": KH, "head_dim": D, "causal": 1, "dtype": "bf16"}
        try:
            set_bytes = (2 * B * H * S * D + 2 * B * KH * S * D) * 2
            sets = [(torch.randn(B, H, S, D, device=DEV, dtype=torch.bfloat16),
                     torch.randn(B, KH, S, D, device=DEV, dtype=torch.bfloat16),
                     torch.randn(B, KH, S, D, device=DEV, dtype=torch.bfloat16)) for _ in range(n_sets(set_bytes, 8))]
            gqa = KH != H
            calls = [lambda q=q, k=k, v=v: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=gqa)
                     for q, k, v in sets]
            row.update(time_calls(calls, graph=False))
            row["flops"] = 4.0 * B * H * D * (S * (S + 1) / 2)
            row["achieved_tflops"] = row["flops"] / row["median_us"] / 1e6
            del sets, calls
        except Exception as e:  # noqa: BLE001
            row["error"] = str(e).splitlines()[0][:160]
        rows.append(row)
        print(row, flush=True)
    torch.cuda.empty_cache()
    return rows


SHAPES = [(12288, 4096), (4096, 4096), (22016, 4096), (4096, 11008)]


def gemm_lowp() -> list[dict]:
    rows = []
    ms = [1, 16, 128, 512, 2048, 8192]
    shapes = SHAPES + [(8192, 8192)]
    if QUICK:
        ms, shapes = [16, 2048], SHAPES[:1]
    for N, K in shapes:
        for M in ms if (N, K) != (8192, 8192) else [8192]:
            for dt in ("bf16", "fp8", "int8"):
                row = {"M": M, "N": N, "K": K, "dtype": dt}
                try:
                    b = 2 if dt == "bf16" else 1
                    set_bytes = (M * K + N * K) * b
                    k = n_sets(set_bytes)
                    if dt == "bf16":
                        sets = [(torch.randn(M, K, device=DEV, dtype=torch.bfloat16),
                                 torch.randn(N, K, device=DEV, dtype=torch.bfloat16)) for _ in range(k)]
                        calls = [lambda x=x, w=w: F.linear(x, w) for x, w in sets]
                        row["kernel"] = "F.linear"
                    elif dt == "fp8":
                        one = torch.tensor(1.0, device=DEV)
                        sets = [(torch.randn(M, K, device=DEV).to(torch.float8_e4m3fn),
                                 torch.randn(N, K, device=DEV).to(torch.float8_e4m3fn)) for _ in range(k)]
                        calls = [lambda x=x, w=w: torch._scaled_mm(x, w.t(), scale_a=one, scale_b=one,
                                                                   out_dtype=torch.bfloat16) for x, w in sets]
                        row["kernel"] = "torch._scaled_mm(e4m3, per-tensor scales)"
                    else:
                        sets = [(torch.randint(-127, 127, (M, K), device=DEV, dtype=torch.int8),
                                 torch.randint(-127, 127, (N, K), device=DEV, dtype=torch.int8)) for _ in range(k)]
                        calls = [lambda x=x, w=w: torch._int_mm(x, w.t()) for x, w in sets]
                        row["kernel"] = "torch._int_mm"
                    row.update(time_calls(calls))
                    row["flops"] = 2.0 * M * N * K
                    row["achieved_tflops"] = row["flops"] / row["median_us"] / 1e6
                    del sets, calls
                except Exception as e:  # noqa: BLE001
                    row["error"] = str(e).splitlines()[0][:160]
                rows.append(row)
                print({k: row[k] for k in row if k in ("M", "N", "K", "dtype", "median_us", "graph_us", "error")},
                      flush=True)
    torch.cuda.empty_cache()
    return rows


def quant_gemv() -> list[dict]:
    rows = []
    ms = [1, 4, 16, 64]
    shapes = SHAPES
    if QUICK:
        ms, shapes = [1], SHAPES[:1]
    compiled = None
    try:
        torch._dynamo.config.cache_size_limit = 64
        compiled = torch.compile(lambda x, w, s: F.linear(x, w.to(x.dtype)) * s, dynamic=False)
    except Exception:  # noqa: BLE001
        pass
    for N, K in shapes:
        for M in ms:
            impls = ["bf16", "int8_eager_dequant", "int8_weight_int8pack_mm", "int8_compiled", "int4_tinygemm_g128"]
            for impl in impls:
                row = {"M": M, "N": N, "K": K, "impl": impl}
                t0 = time.time()
                try:
                    wb = {"bf16": 2.0, "int4_tinygemm_g128": 0.5}.get(impl, 1.0)
                    k = n_sets(N * K * wb)
                    xs = [torch.randn(M, K, device=DEV, dtype=torch.bfloat16) for _ in range(k)]
                    if impl == "bf16":
                        ws = [torch.randn(N, K, device=DEV, dtype=torch.bfloat16) for _ in range(k)]
                        calls = [lambda x=x, w=w: F.linear(x, w) for x, w in zip(xs, ws)]
                    elif impl == "int4_tinygemm_g128":
                        g = 128
                        ws = []
                        for _ in range(k):
                            q = torch.randint(0, 16, (N, K), device=DEV, dtype=torch.int32)
                            packed = (q[:, ::2] << 4 | q[:, 1::2]).to(torch.uint8)
                            wp = torch._convert_weight_to_int4pack(packed, 8)
                            sz = torch.randn(K // g, N, 2, device=DEV, dtype=torch.bfloat16) * 0.01
                            ws.append((wp, sz))
                        calls = [lambda x=x, w=w: torch._weight_int4pack_mm(x, w[0], g, w[1]) for x, w in zip(xs, ws)]
                    else:
                        ws = [(torch.randint(-127, 127, (N, K), device=DEV, dtype=torch.int8),
                               torch.rand(N, device=DEV, dtype=torch.bfloat16)) for _ in range(k)]
                        if impl == "int8_eager_dequant":
                            calls = [lambda x=x, w=w: F.linear(x, w[0].to(x.dtype)) * w[1] for x, w in zip(xs, ws)]
                        elif impl == "int8_weight_int8pack_mm":
                            calls = [lambda x=x, w=w: torch._weight_int8pack_mm(x, w[0], w[1]) for x, w in zip(xs, ws)]
                        else:
                            if compiled is None or M > 1:
                                raise RuntimeError("compiled variant: M = 1 only (compile time), needs torch.compile")
                            calls = [lambda x=x, w=w: compiled(x, w[0], w[1]) for x, w in zip(xs, ws)]
                    row.update(time_calls(calls))
                    row["weight_bytes"] = N * K * wb
                    row["achieved_gbs"] = row["weight_bytes"] / row["median_us"] / 1e3
                    del xs, ws, calls
                except Exception as e:  # noqa: BLE001
                    row["error"] = str(e).splitlines()[0][:160]
                row["setup_s"] = round(time.time() - t0, 1)
                rows.append(row)
                print({k: row[k] for k in row if k in ("M", "N", "K", "impl", "median_us", "graph_us", "error")},
                      flush=True)
    torch.cuda.empty_cache()
    return rows


# ---------------------------------------------------------------------------------------------------------------
class Layer(torch.nn.Module):
    """A LLaMA-style decoder layer written as in ../shared/reference/h100/measured_model.md (plain PyTorch)."""

    def __init__(self, h: int, heads: int, kvh: int, f: int, B: int, L: int):
        super().__init__()
        self.h, self.heads, self.kvh, self.d = h, heads, kvh, h // heads
        mk = lambda n, k: torch.nn.Parameter(torch.randn(n, k, device=DEV, dtype=torch.bfloat16) * 0.02)  # noqa
        self.wqkv, self.wo = mk((heads + 2 * kvh) * self.d, h), mk(h, heads * self.d)
        self.wgu, self.wd = mk(2 * f, h), mk(h, f)
        self.n1 = torch.nn.Parameter(torch.ones(h, device=DEV, dtype=torch.bfloat16))
        self.n2 = torch.nn.Parameter(torch.ones(h, device=DEV, dtype=torch.bfloat16))
        self.kc = torch.zeros(B, kvh, L, self.d, device=DEV, dtype=torch.bfloat16)
        self.vc = torch.zeros(B, kvh, L, self.d, device=DEV, dtype=torch.bfloat16)

    @staticmethod
    def norm(x, w):
        v = x.to(torch.float32)
        v = v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + 1e-6)
        return w * v.to(torch.bfloat16)

    @staticmethod
    def rot(x, cos, sin):
        x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
        return x * cos + torch.cat((-x2, x1), -1) * sin

    def forward(self, x, pos: int, cos, sin):
        B, S, _ = x.shape
        hq, hk, d = self.heads, self.kvh, self.d
        qkv = F.linear(self.norm(x, self.n1), self.wqkv)
        q, k, v = qkv.split([hq * d, hk * d, hk * d], -1)
        q = self.rot(q.view(B, S, hq, d).transpose(1, 2), cos, sin)
        k = self.rot(k.view(B, S, hk, d).transpose(1, 2), cos, sin)
        self.kc[:, :, pos:pos + S] = k
        self.vc[:, :, pos:pos + S] = v.view(B, S, hk, d).transpose(1, 2)
        o = F.scaled_dot_product_attention(q, self.kc[:, :, :pos + S], self.vc[:, :, :pos + S],
                                           is_causal=S > 1, enable_gqa=hk != hq)
        x = x + F.linear(o.transpose(1, 2).reshape(B, S, hq * d), self.wo)
        g, u = F.linear(self.norm(x, self.n2), self.wgu).chunk(2, -1)
        return x + F.linear(F.silu(g) * u, self.wd)


def count_kernels(fn) -> int:
    try:
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CUDA]) as p:
            fn()
            torch.cuda.synchronize()
        return sum(1 for e in p.events() if e.device_type.name == "CUDA" and "Memcpy" not in e.name
                   and "Memset" not in e.name)
    except Exception:  # noqa: BLE001
        return -1


def step_overhead() -> list[dict]:
    cfgs = [("tiny", 256, 4, 4, 688, 8, 1, 128), ("tiny", 256, 4, 4, 688, 32, 1, 128),
            ("llama2-7b-dims", 4096, 32, 32, 11008, 4, 1, 512), ("llama2-7b-dims", 4096, 32, 32, 11008, 4, 16, 512),
            ("llama2-7b-dims", 4096, 32, 32, 11008, 4, 64, 512)]
    if QUICK:
        cfgs = cfgs[:1]
    rows = []
    for name, h, heads, kvh, f, layers, B, ctx in cfgs:
        row = {"config": name, "hidden": h, "heads": heads, "kv_heads": kvh, "ffn": f, "layers": layers,
               "batch": B, "ctx": ctx}
        try:
            with torch.no_grad():
                stack = [Layer(h, heads, kvh, f, B, ctx + 8) for _ in range(layers)]
                d = h // heads
                cos = torch.randn(1, 1, 1, d, device=DEV, dtype=torch.bfloat16)
                sin = torch.randn(1, 1, 1, d, device=DEV, dtype=torch.bfloat16)
                x = torch.randn(B, 1, h, device=DEV, dtype=torch.bfloat16)

                def step():
                    y = x
                    for lay in stack:
                        y = lay(y, ctx, cos, sin)
                    return y

                for _ in range(5):
                    step()
                torch.cuda.synchronize()
                row["kernels"] = count_kernels(step)
                n = 30
                ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(n)]
                walls = []
                for a, b in ev:
                    torch.cuda.synchronize()
                    t0 = time.perf_counter()
                    a.record()
                    step()
                    b.record()
                    torch.cuda.synchronize()
                    walls.append((time.perf_counter() - t0) * 1e6)
                ts = sorted(a.elapsed_time(b) * 1e3 for a, b in ev)
                row["eager_us"] = ts[n // 2]
                row["eager_wall_us"] = sorted(walls)[n // 2]
                # host issue time alone: launches into a busy stream (GPU behind), timed on the host
                torch.cuda._sleep(50_000_000)
                t0 = time.perf_counter()
                step()
                row["host_issue_us"] = (time.perf_counter() - t0) * 1e6
                torch.cuda.synchronize()
                s = torch.cuda.Stream()
                s.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(s):
                    step()
                torch.cuda.current_stream().wait_stream(s)
                g = torch.cuda.CUDAGraph()
                with torch.cuda.graph(g):
                    step()
                g.replay()
                torch.cuda.synchronize()
                gts, gwall = [], []
                for _ in range(n):
                    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    t0 = time.perf_counter()
                    a.record()
                    g.replay()
                    b.record()
                    torch.cuda.synchronize()
                    gwall.append((time.perf_counter() - t0) * 1e6)
                    gts.append(a.elapsed_time(b) * 1e3)
                row["graph_us"] = sorted(gts)[n // 2]
                row["graph_wall_us"] = sorted(gwall)[n // 2]
                if row["kernels"] > 0:
                    row["eager_minus_graph_per_kernel_us"] = (row["eager_us"] - row["graph_us"]) / row["kernels"]
                del g, stack
        except Exception as e:  # noqa: BLE001
            row["error"] = str(e).splitlines()[0][:160]
        rows.append(row)
        print(row, flush=True)
        torch.cuda.empty_cache()
    return rows


# ---------------------------------------------------------------------------------------------------------------
def sample_power(label: str, seconds: float, work=None) -> list[dict]:
    """Board power and clocks sampled every 100 ms by nvidia-smi while `work` runs back to back."""
    p = subprocess.Popen(["nvidia-smi", "--query-gpu=timestamp,power.draw,clocks.sm,clocks.mem,temperature.gpu,"
                          "utilization.gpu", "--format=csv,noheader,nounits", "-lms", "100"],
                         stdout=subprocess.PIPE, text=True)
    t0 = time.time()
    calls = 0
    while time.time() - t0 < seconds:
        if work is None:
            time.sleep(0.1)
        else:
            for _ in range(10):
                work()
            calls += 10
            torch.cuda.synchronize()
    p.terminate()
    out, _ = p.communicate(timeout=10)
    rows = []
    for line in out.strip().splitlines():
        parts = [s.strip() for s in line.split(",")]
        if len(parts) >= 6:
            rows.append({"phase": label, "timestamp": parts[0], "power_w": parts[1], "sm_mhz": parts[2],
                         "mem_mhz": parts[3], "temp_c": parts[4], "util_pct": parts[5],
                         "calls_per_s": calls / seconds})
    return rows


def power() -> list[dict]:
    rows = []
    try:
        rows += sample_power("idle", 2.0)
        a = torch.randn(8192, 8192, device=DEV, dtype=torch.bfloat16)
        b = torch.randn(8192, 8192, device=DEV, dtype=torch.bfloat16)
        rows += sample_power("gemm_bf16_8192", 4.0 if not QUICK else 1.0, lambda: a @ b)
        a8, b8 = a.to(torch.float8_e4m3fn), b.to(torch.float8_e4m3fn)
        one = torch.tensor(1.0, device=DEV)
        rows += sample_power("gemm_fp8_8192", 4.0 if not QUICK else 1.0,
                             lambda: torch._scaled_mm(a8, b8.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16))
        del a, b, a8, b8
        src = torch.randn(2**29 // 2, device=DEV, dtype=torch.bfloat16)    # 512 MiB
        dst = torch.empty_like(src)
        rows += sample_power("copy_512MiB", 3.0 if not QUICK else 1.0, lambda: dst.copy_(src))
        del src, dst
        rows += sample_power("idle_after", 2.0)
    except Exception as e:  # noqa: BLE001
        rows.append({"phase": "error", "error": str(e).splitlines()[0][:160]})
    torch.cuda.empty_cache()
    return rows


def main() -> int:
    global QUICK, OUT, L2, ROT_BYTES
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="gemm,attention,step,power,quant")
    ap.add_argument("--budget", type=float, default=480.0, help="seconds after which sections are skipped")
    args = ap.parse_args()
    QUICK = args.quick
    os.makedirs(OUT, exist_ok=True)
    env = [f"python {sys.version.split()[0]}", f"torch {torch.__version__}", f"cuda {torch.version.cuda}",
           f"cuda available {torch.cuda.is_available()}"]
    if not torch.cuda.is_available():
        open(os.path.join(OUT, "env.txt"), "w").write("\n".join(env) + "\n")
        print("\n".join(env))
        return 1
    prop = torch.cuda.get_device_properties(0)
    L2 = getattr(prop, "L2_cache_size", L2) or L2
    ROT_BYTES = 4 * L2
    env += [f"device {prop.name}", f"sms {prop.multi_processor_count}", f"l2_bytes {L2}",
            f"memory_bytes {prop.total_memory}", "nvidia-smi: " + smi("name,driver_version,clocks.max.sm,"
                                                                      "clocks.max.mem,power.limit,power.max_limit")]
    env.append("clocks/power at start: " + smi())
    sections = {"attention": ("attention_prefill.csv", prefill_attention), "gemm": ("gemm_lowp.csv", gemm_lowp),
                "quant": ("quant_gemv.csv", quant_gemv), "step": ("step_overhead.csv", step_overhead),
                "power": ("power.csv", power)}
    start = time.time()
    for key in args.only.split(","):
        if key not in sections or time.time() - start > args.budget:
            env.append(f"{key}: skipped")
            continue
        name, fn = sections[key]
        t0 = time.time()
        try:
            rows = fn()
        except Exception:  # noqa: BLE001
            traceback.print_exc()
            rows = []
        write(name, rows)
        env.append(f"{key}: {time.time() - t0:.0f} s; clocks/power after: {smi()}")
        with open(os.path.join(OUT, "env.txt"), "w") as f:
            f.write("\n".join(env) + "\n")
    print("\n".join(env))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
