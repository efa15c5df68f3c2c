"""Whole decode and prefill steps of LLaMA-style models on a real GPU, with every kernel's time inside the step
(issue 15: why a CUDA-graph step differs from the sum of its kernels timed alone).

    python benchmarks/gpu/step_profile.py     # on the device machine: $OUT/step_profile.csv, $OUT/trace.csv

The software is ../shared/reference/h100/measured_model.md's plain-PyTorch model (HF RMSNorm with fp32 upcast,
fused QKV, rotate-half RoPE, static KV cache copy, SDPA, transpose copy, gated MLP), written out below; random
bf16 weights (never zeros), each layer its own weights, so nothing is served from L2 across layers.

Rows of `step_profile.csv`: `step,<name>,<model>,<layers>,<phase>,<batch>,<new tokens>,<ctx>,<kernels>,<graph_us>,
<eager_us>` (graph_us: median of 20 replays of the step captured in one CUDA graph, CUDA events around each
replay; eager_us: median of 10 eager steps) and one `env` row (device, torch, driver, clocks, power limit).
Rows of `trace.csv`: `<name>,<mode>,<i>,<kernel>,<start_us>,<dur_us>`: the PyTorch profiler's (CUPTI) record of
one graph replay (mode `graph`) and one eager step (mode `eager`), start relative to the first kernel.
"""

import os
import subprocess

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

DEV, BF16 = "cuda", torch.bfloat16
OUT = os.environ.get("OUT", ".")
MODELS = {  # hidden, heads, kv heads, ffn, vocab (Touvron et al. 2023, Table 1 / config.json)
    "llama2-7b": (4096, 32, 32, 11008, 32000),
    "llama2-13b": (5120, 40, 40, 13824, 32000),
}


def rmsnorm(x, w):
    v = x.float()
    v = v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + 1e-6)
    return w * v.to(BF16)


def rotary(x, cos, sin):
    h = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., h:], x[..., :h]), -1) * sin


class Layer:
    def __init__(self, h, H, Hkv, f, batch, max_len):
        d = h // H
        r = lambda *s: torch.randn(*s, device=DEV, dtype=BF16) * 0.02
        self.wqkv, self.wo, self.wgu, self.wd = r((H + 2 * Hkv) * d, h), r(h, h), r(2 * f, h), r(h, f)
        self.norm1 = torch.ones(h, device=DEV, dtype=BF16)
        self.norm2 = torch.ones(h, device=DEV, dtype=BF16)
        self.k = torch.zeros(batch, Hkv, max_len, d, device=DEV, dtype=BF16)
        self.v = torch.zeros(batch, Hkv, max_len, d, device=DEV, dtype=BF16)
        self.H, self.Hkv, self.d = H, Hkv, d

    def __call__(self, x, pos, cos, sin):
        B, S, _ = x.shape
        H, Hkv, d = self.H, self.Hkv, self.d
        q, k, v = F.linear(rmsnorm(x, self.norm1), self.wqkv).split([H * d, Hkv * d, Hkv * d], -1)
        q = rotary(q.view(B, S, H, d).transpose(1, 2), cos, sin)
        k = rotary(k.view(B, S, Hkv, d).transpose(1, 2), cos, sin)
        self.k[:, :, pos:pos + S] = k
        self.v[:, :, pos:pos + S] = v.view(B, S, Hkv, d).transpose(1, 2)
        o = F.scaled_dot_product_attention(q, self.k[:, :, :pos + S], self.v[:, :, :pos + S], is_causal=S > 1)
        x = x + F.linear(o.transpose(1, 2).reshape(B, S, H * d), self.wo)
        g, u = F.linear(rmsnorm(x, self.norm2), self.wgu).chunk(2, -1)
        return x + F.linear(F.silu(g) * u, self.wd)


class Model:
    """`layers` decoder layers; `full` adds the embedding lookup, the final norm of the last token and the LM head."""

    def __init__(self, name, layers, batch, new, ctx, full):
        h, H, Hkv, f, vocab = MODELS[name]
        self.layers = [Layer(h, H, Hkv, f, batch, ctx + new + 8) for _ in range(layers)]
        self.full, self.pos = full, ctx
        self.emb = torch.randn(vocab, h, device=DEV, dtype=BF16) * 0.02 if full else None
        self.head = torch.randn(vocab, h, device=DEV, dtype=BF16) * 0.02 if full else None
        self.norm = torch.ones(h, device=DEV, dtype=BF16)
        self.tokens = torch.randint(0, vocab, (batch, new), device=DEV)
        self.x = torch.randn(batch, new, h, device=DEV, dtype=BF16)
        self.cos = torch.randn(1, 1, new, h // H, device=DEV, dtype=BF16)
        self.sin = torch.randn(1, 1, new, h // H, device=DEV, dtype=BF16)

    def step(self):
        x = self.emb[self.tokens] if self.full else self.x
        for layer in self.layers:
            x = layer(x, self.pos, self.cos, self.sin)
        if self.full:
            return F.linear(rmsnorm(x[:, -1:], self.norm), self.head)
        return x


def smi(fields):
    out = subprocess.run(["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True, check=False).stdout
    return out.strip().replace(", ", ";")


def kernels_of(prof):
    ev = sorted((e for e in prof.events() if e.device_type.name == "CUDA"), key=lambda e: e.time_range.start)
    t0 = ev[0].time_range.start if ev else 0
    return [(e.name.replace(",", ";")[:90], e.time_range.start - t0, e.time_range.end - e.time_range.start)
            for e in ev]


def median(xs):
    return sorted(xs)[len(xs) // 2]


def timed(fn, n):
    ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(n)]
    for a, b in ev:
        torch.cuda.synchronize()
        a.record()
        fn()
        b.record()
    torch.cuda.synchronize()
    return median([a.elapsed_time(b) * 1e3 for a, b in ev])


CASES = [  # name, model, layers, full, phase, batch, new tokens, ctx
    ("7b-4l-b1", "llama2-7b", 4, False, "decode", 1, 1, 512),
    ("7b-4l-b16", "llama2-7b", 4, False, "decode", 16, 1, 512),
    ("7b-4l-b64", "llama2-7b", 4, False, "decode", 64, 1, 512),
    ("7b-b1-c512", "llama2-7b", 32, True, "decode", 1, 1, 512),
    ("7b-b1-c2048", "llama2-7b", 32, True, "decode", 1, 1, 2048),
    ("7b-b8-c1024", "llama2-7b", 32, True, "decode", 8, 1, 1024),
    ("7b-b32-c512", "llama2-7b", 32, True, "decode", 32, 1, 512),
    ("7b-p1-s128", "llama2-7b", 32, True, "prefill", 1, 128, 0),
    ("7b-p1-s512", "llama2-7b", 32, True, "prefill", 1, 512, 0),
    ("7b-p4-s512", "llama2-7b", 32, True, "prefill", 4, 512, 0),
    ("7b-p1-s2048", "llama2-7b", 32, True, "prefill", 1, 2048, 0),
    ("13b-b1-c512", "llama2-13b", 40, True, "decode", 1, 1, 512),
    ("13b-b16-c1024", "llama2-13b", 40, True, "decode", 16, 1, 1024),
    ("13b-p1-s512", "llama2-13b", 40, True, "prefill", 1, 512, 0),
]


def main():
    with open(os.path.join(OUT, "step_profile.csv"), "w") as steps, open(os.path.join(OUT, "trace.csv"), "w") as trace:
        profile_steps(steps, trace)


def profile_steps(steps, trace):
    def put(f, *a):
        s = ",".join(map(str, a))
        if f is steps:
            print(s)
        f.write(s + "\n")
        f.flush()

    put(steps, "env", torch.cuda.get_device_name(), torch.__version__,
        smi("driver_version,clocks.max.sm,power.limit,clocks.sm,power.draw"))
    with torch.no_grad():
        for name, model, layers, full, phase, batch, new, ctx in CASES:
            try:
                m = Model(model, layers, batch, new, ctx, full)
                for _ in range(3):
                    m.step()
                eager = timed(m.step, 10)
                with profile(activities=[ProfilerActivity.CUDA]) as p:
                    m.step()
                    torch.cuda.synchronize()
                ek = kernels_of(p)
                g = torch.cuda.CUDAGraph()
                with torch.cuda.graph(g):
                    m.step()
                g.replay()
                graph = timed(g.replay, 20)
                with profile(activities=[ProfilerActivity.CUDA]) as p:
                    g.replay()
                    torch.cuda.synchronize()
                gk = kernels_of(p)
                put(steps, "step", name, model, layers, phase, batch, new, ctx, len(ek), f"{graph:.1f}", f"{eager:.1f}")
                for mode, ks in (("eager", ek), ("graph", gk)):
                    for i, (kn, t, dur) in enumerate(ks):
                        put(trace, name, mode, i, kn, f"{t:.2f}", f"{dur:.2f}")
                del m, g
                torch.cuda.empty_cache()
            except Exception as e:  # noqa: BLE001  (one failing case must not lose the others)
                put(steps, "step", name, "err", str(e).replace(",", ";")[:120])
    put(steps, "env_end", smi("clocks.sm,power.draw,temperature.gpu"))


if __name__ == "__main__":
    main()
