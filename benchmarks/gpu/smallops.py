"""The calibration's small ops, timed as its columns were, with their inputs in L2 and rotated out of it (issue 15):
how much of a call's time depends on where its inputs are, kernel by kernel, and which CUTLASS tile
torch._int_mm picks.

    python benchmarks/gpu/smallops.py        # on the device machine; writes $OUT/smallops.csv

Each op runs on one of `sets` input sets in turn; `sets` = 1 repeats the call on the same inputs (they stay in
L2). footprint_MB is the sets' input bytes (outputs come from PyTorch's allocator, which hands each call the block
the previous call freed). Rows:
    env,<device>,<torch>,<driver;max SM clock;power limit;SM clock;power>
    op,<op>,<rows>,<cols>,<sets>,<footprint_MB>,<median_us>,<graph_us>,<kernel_us>
        median_us: CUDA events around one call after a 100 us GPU spin (the host runs ahead), median of 60;
        graph_us: every set once in CUDA graphs of 32 calls (at most 256 kernels: no large-graph gaps) replayed
        back to back, three rounds timed together, per call (median of 5);
        kernel_us: the CUPTI durations of one more round's kernels, summed, per call.
    kern,<op>,<rows>,<cols>,<sets>,<i>,<us>,<name>: the i-th kernel of a call, its CUPTI duration averaged over
        that round's calls
    kernel,int_mm,<M>,<N>,<K>,<kernel name>,<CUPTI us>
Sections: a sweep over rows and footprints (0 = one set, 32 MB, 128 MB), other hidden sizes, single-kernel ops
(silu, exp, mul, copy) that split SiLU x up, and the calibration's 64-row ops over 8-64 input sets.
"""

import os
import subprocess

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

DEV, BF16 = "cuda", torch.bfloat16
MAX_SETS = 256
CHUNK = 32                                      # calls per CUDA graph


def smi(fields: str) -> str:
    out = subprocess.run(["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True, check=False).stdout
    return out.strip().replace(", ", ";")


def _r(m: int, n: int):
    return torch.randn(m, n, device=DEV, dtype=BF16)


def hf_rmsnorm(x, w):
    """HF LlamaRMSNorm with its fp32 upcast: eight kernels."""
    h = x.to(torch.float32)
    var = h.pow(2).mean(-1, keepdim=True)
    h = h * torch.rsqrt(var + 1e-6)
    return w * h.to(BF16)


def op(name: str, n: int):
    """(inputs of one set for `rows`, the call) of op `name` over rows of n columns."""
    w = torch.ones(n, device=DEV, dtype=BF16)
    one = {"rmsnorm_hf": lambda x: hf_rmsnorm(x, w), "rms_norm": lambda x: F.rms_norm(x, (n,), w, 1e-6),
           "softmax": lambda x: torch.softmax(x, -1),
           "softmax_fp32": lambda x: torch.softmax(x, -1, dtype=torch.float32),
           "silu": F.silu, "exp": torch.exp, "copy": torch.clone}
    two = {"silu_mul": lambda g, u: F.silu(g) * u, "add": lambda a, b: a + b, "mul": lambda a, b: a * b}
    if name in one:
        return (lambda m: (_r(m, n),)), one[name]
    return (lambda m: (_r(m, n), _r(m, n))), two[name]


def timed(fn, inputs: list):
    """(median_us, graph_us, kernel_us, [(name, us)] per kernel of a call) of fn over the input sets in turn."""
    for args in inputs[:2]:
        fn(*args)
    torch.cuda.synchronize()
    n = 60
    ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(n)]
    for i, (a, b) in enumerate(ev):
        torch.cuda._sleep(100000)
        a.record()
        fn(*inputs[i % len(inputs)])
        b.record()
    torch.cuda.synchronize()
    median = sorted(a.elapsed_time(b) * 1e3 for a, b in ev)[n // 2]
    calls = max(len(inputs), CHUNK)               # every set once, in graphs of CHUNK calls (no large-graph gaps)
    graphs = []
    for c in range(0, calls, CHUNK):
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            for i in range(c, c + CHUNK):
                fn(*inputs[i % len(inputs)])
        graphs.append(g)
    for _ in range(3):
        for g in graphs:
            g.replay()
    torch.cuda.synchronize()
    per = []
    for _ in range(5):
        a, b = ev[0]
        a.record()
        for _ in range(3):
            for g in graphs:
                g.replay()
        b.record()
        torch.cuda.synchronize()
        per.append(a.elapsed_time(b) * 1e3 / (3 * len(graphs) * CHUNK))
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for g in graphs:
            g.replay()
        torch.cuda.synchronize()
    kev = sorted((e for e in prof.events() if e.device_type.name == "CUDA"), key=lambda e: e.time_range.start)
    rounds = len(graphs) * CHUNK
    k = max(1, len(kev) // rounds)
    kernels = [(kev[i].name.replace(",", ";")[:90],
                sum(kev[j].time_range.end - kev[j].time_range.start for j in range(i, len(kev), k)) / rounds)
               for i in range(k)]
    del graphs
    return median, sorted(per)[2], sum(us for _, us in kernels), kernels


def measure_op(put, name: str, rows: int, cols: int, sets_list) -> None:
    make, fn = op(name, cols)
    one = make(rows)
    nbytes = sum(t.numel() * t.element_size() for t in one)
    done = set()
    for sets in sets_list(nbytes):
        sets = max(1, min(MAX_SETS, sets))
        if sets in done:
            continue
        done.add(sets)
        inputs = [one] + [make(rows) for _ in range(sets - 1)]
        median, graph, kern, kernels = timed(fn, inputs)
        put("op", name, rows, cols, sets, f"{sets * nbytes / 1e6:.2f}", f"{median:.3f}", f"{graph:.3f}",
            f"{kern:.3f}")
        for i, (kname, us) in enumerate(kernels):
            put("kern", name, rows, cols, sets, i, f"{us:.3f}", kname)
        del inputs


def footprints(*mb):
    """Input sets reaching each footprint (MB); 0: one set."""
    return lambda nbytes: [1 if f == 0 else max(2, round(f * 1e6 / nbytes)) for f in mb]


def measure(put) -> None:
    put("env", torch.cuda.get_device_name(), torch.__version__,
        smi("driver_version,clocks.max.sm,power.limit,clocks.sm,power.draw"))
    sweep = footprints(0, 32, 128)
    for name, cols, rows in [("add", 4096, [1, 16, 64, 256, 1024, 4096]),
                             ("rms_norm", 4096, [1, 16, 64, 256, 1024, 4096]),
                             ("rmsnorm_hf", 4096, [1, 16, 64, 256, 1024, 4096]),
                             ("silu_mul", 11008, [1, 16, 64, 256, 1024]),
                             ("softmax", 32000, [1, 16, 64, 256]),
                             ("softmax_fp32", 32000, [1, 64, 256])]:
        for m in rows:
            measure_op(put, name, m, cols, sweep)
    for cols in (5120, 8192):                    # LLaMA-2-13B / 70B hidden sizes
        for name in ("add", "rms_norm", "rmsnorm_hf"):
            for m in (1, 64, 1024):
                measure_op(put, name, m, cols, sweep)
    for name in ("silu", "exp", "mul", "copy"):
        for m in (1, 64, 256, 1024):
            measure_op(put, name, m, 11008, footprints(0, 128))
    for name, cols in (("add", 4096), ("rms_norm", 4096), ("rmsnorm_hf", 4096), ("softmax", 32000)):
        measure_op(put, name, 64, cols, lambda nbytes: [8, 16, 24, 32, 48, 64])
    for n, k in [(12288, 4096), (4096, 4096), (22016, 4096), (4096, 11008), (8192, 8192)]:
        w = torch.randint(-127, 127, (n, k), device=DEV, dtype=torch.int8)
        for m in (128, 512, 2048, 8192):
            x = torch.randint(-127, 127, (m, k), device=DEV, dtype=torch.int8)
            torch._int_mm(x, w.t())
            torch.cuda.synchronize()
            with profile(activities=[ProfilerActivity.CUDA]) as p:
                for _ in range(5):
                    torch._int_mm(x, w.t())
                torch.cuda.synchronize()
            ev = [e for e in p.events() if e.device_type.name == "CUDA"]
            durs = sorted(e.time_range.end - e.time_range.start for e in ev)
            put("kernel", "int_mm", m, n, k, ev[0].name.replace(",", ";")[:120], f"{durs[len(durs) // 2]:.2f}")


def main():
    with open(os.path.join(os.environ.get("OUT", "."), "smallops.csv"), "w") as out:
        def put(*fields):
            line = ",".join(map(str, fields))
            print(line, flush=True)
            out.write(line + "\n")
            out.flush()
        measure(put)


if __name__ == "__main__":
    main()
