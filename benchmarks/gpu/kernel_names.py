"""Which kernels PyTorch runs for the calibration's small ops, int8 and weight-only GEMMs, and how long each takes
alone (CUPTI), so the model can follow their structure (issue 15).

    python benchmarks/gpu/kernel_names.py        # on the device machine; writes $OUT/kernel_names.csv

Rows: `op,shape,i,kernel,dur_us` for one call after two warm-ups (median over 5 profiled calls per kernel).
"""

import os

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

D, B = "cuda", torch.bfloat16


def silu_mul(g, u):
    return F.silu(g) * u


def ops():
    for m in (1, 64, 1024):
        x = torch.randn(m, 4096, device=D, dtype=B)
        w = torch.ones(4096, device=D, dtype=B)
        yield "F.rms_norm", m, lambda x=x, w=w: F.rms_norm(x, (4096,), w, 1e-6)
        a, b = torch.randn(m, 11008, device=D, dtype=B), torch.randn(m, 11008, device=D, dtype=B)
        yield "silu_mul_separate", m, lambda a=a, b=b: F.silu(a) * b
        gu = torch.randn(m, 22016, device=D, dtype=B)
        yield "silu_mul_chunk", m, lambda gu=gu: silu_mul(*gu.chunk(2, -1))
        yield "add", m, lambda x=x: x + x
        yield "softmax", m, lambda x=x: torch.softmax(x, -1)
    for m in (1, 16, 128):
        x = torch.randn(m, 4096, device=D, dtype=B)
        w8 = torch.randint(-127, 127, (11008, 4096), device=D, dtype=torch.int8)
        s = torch.rand(11008, device=D, dtype=B)
        yield "w8_eager", m, lambda x=x, w8=w8, s=s: F.linear(x, w8.to(B)) * s
        if m > 16:
            xi = torch.randint(-127, 127, (m, 4096), device=D, dtype=torch.int8)
            yield "int_mm", m, lambda xi=xi, w8=w8: torch._int_mm(xi, w8.t())
    a = torch.randint(-127, 127, (8192, 8192), device=D, dtype=torch.int8)
    yield "int_mm", 8192, lambda a=a: torch._int_mm(a, a.t())


def main():
    with open(os.path.join(os.environ.get("OUT", "."), "kernel_names.csv"), "w") as out:
        record(out)


def record(out):
    for name, m, fn in ops():
        try:
            fn()
            fn()
            torch.cuda.synchronize()
            with profile(activities=[ProfilerActivity.CUDA]) as p:
                for _ in range(5):
                    fn()
                torch.cuda.synchronize()
            ev = sorted((e for e in p.events() if e.device_type.name == "CUDA"), key=lambda e: e.time_range.start)
            per = len(ev) // 5
            for i in range(per):
                durs = sorted(ev[j * per + i].time_range.end - ev[j * per + i].time_range.start for j in range(5))
                row = f"{name},{m},{i},{ev[i].name.replace(',', ';')[:110]},{durs[2]:.2f}"
                print(row)
                out.write(row + "\n")
        except Exception as e:  # noqa: BLE001  (one failing op must not lose the others)
            out.write(f"{name},{m},err,{str(e).replace(',', ';')[:100]},\n")


if __name__ == "__main__":
    main()
