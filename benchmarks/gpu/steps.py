"""Whole-step measurements on a real GPU (issue 15): eager vs CUDA-graph decode steps of a LLaMA-style layer stack
(the software of step_profile.py: HF RMSNorm with fp32 upcast, fused QKV, rotate-half RoPE, static KV cache copy,
SDPA, transpose, MLP), and board power / SM clock under load.

    python benchmarks/gpu/steps.py          # on the device machine; writes $OUT/s.csv

Rows: `step,hidden,layers,batch,ctx,kernels,eager_us,host_issue_us,graph_us` (eager_us: CUDA events around an eager
step, median of 20; host_issue_us: host time to issue one step while the GPU is busy; graph_us: one replay of the
step captured in a CUDA graph, median of 20), and `pow,phase,calls_per_s,<power W;SM MHz samples every 100 ms>`
(idle, back-to-back 8192^3 bf16 and fp8 GEMMs, a 512 MiB -> 512 MiB copy).
"""

import os
import subprocess
import time

import torch
from step_profile import BF16, DEV, MODELS, Model, timed
from torch.profiler import ProfilerActivity, profile

MODELS.setdefault("tiny-256", (256, 4, 4, 688, 32000))     # a layer stack whose GPU work is negligible
STACKS = [("tiny-256", 8, 1, 128), ("tiny-256", 32, 1, 128), ("llama2-7b", 4, 1, 512), ("llama2-7b", 4, 16, 512),
          ("llama2-7b", 4, 64, 512)]                        # model, layers, batch, context


def power(put, label: str, seconds: float, call=None) -> None:
    """Board power and SM clock every 100 ms while `call` runs back to back (or the GPU idles)."""
    smi = subprocess.Popen(["nvidia-smi", "--query-gpu=power.draw,clocks.sm", "--format=csv,noheader,nounits",
                            "-lms", "100"], stdout=subprocess.PIPE, text=True)
    start, calls = time.time(), 0
    while time.time() - start < seconds:
        if call is None:
            time.sleep(0.1)
            continue
        for _ in range(10):
            call()
        torch.cuda.synchronize()
        calls += 10
    smi.terminate()
    put("pow", label, calls / seconds, smi.communicate()[0].replace("\n", " ").replace(", ", ";"))


def measure(put) -> None:
    with torch.no_grad():
        for model, layers, batch, ctx in STACKS:
            try:
                m = Model(model, layers, batch, 1, ctx, full=False)
                for _ in range(3):
                    m.step()
                with profile(activities=[ProfilerActivity.CUDA]) as p:
                    m.step()
                    torch.cuda.synchronize()
                kernels = sum(1 for e in p.events() if e.device_type.name == "CUDA")
                eager = timed(m.step, 20)
                torch.cuda._sleep(10**8)                      # keep the GPU busy while the host issues a step
                t0 = time.perf_counter()
                m.step()
                host = (time.perf_counter() - t0) * 1e6
                torch.cuda.synchronize()
                g = torch.cuda.CUDAGraph()
                with torch.cuda.graph(g):
                    m.step()
                g.replay()
                graph = timed(g.replay, 20)
                put("step", MODELS[model][0], layers, batch, ctx, kernels, f"{eager:.1f}", f"{host:.1f}", f"{graph:.1f}")
                del m, g
            except Exception as e:  # noqa: BLE001  (one failing stack must not lose the others)
                put("step", MODELS[model][0], layers, batch, "err", str(e)[:90])
    power(put, "idle", 2)
    gemm_power(put)
    copy_power(put)


def gemm_power(put) -> None:
    a = torch.randn(8192, 8192, device=DEV, dtype=BF16)
    z = torch.randn(8192, 8192, device=DEV, dtype=BF16)
    one = torch.tensor(1.0, device=DEV)
    power(put, "bf16", 4, lambda: a @ z)
    a8, z8 = a.to(torch.float8_e4m3fn), z.to(torch.float8_e4m3fn)
    power(put, "fp8", 4, lambda: torch._scaled_mm(a8, z8.t(), scale_a=one, scale_b=one, out_dtype=BF16))


def copy_power(put) -> None:
    x = torch.randn(2**28, device=DEV, dtype=BF16)
    y = torch.empty_like(x)
    power(put, "copy1GiB", 3, lambda: y.copy_(x))


def main():
    with open(os.path.join(os.environ.get("OUT", "."), "s.csv"), "w") as out:
        def put(*fields):
            line = ",".join(map(str, fields))
            print(line)
            out.write(line + "\n")
            out.flush()
        measure(put)


if __name__ == "__main__":
    main()
