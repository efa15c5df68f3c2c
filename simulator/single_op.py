"""`simulate op`: one operator on one unit of a system, reported in the same terms as a whole run."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from simulator.config.loader import parse_set
from simulator.errors import ConfigError, allowed
from simulator.hardware.registry import lookup
from simulator.hardware.system import load_system, unit_level
from simulator.hardware.unit import energy_table
from simulator.lowering import builders as mk
from simulator.lowering.ops import DTYPE_BYTES, Op
from simulator.lowering.profiles import PROFILES


def build_op(args: argparse.Namespace) -> Op:
    """The Op that the `simulate op` arguments describe."""
    dt = args.dtype
    if dt not in DTYPE_BYTES:
        raise ConfigError(f"unknown dtype '{dt}'; {allowed(DTYPE_BYTES)}", file="--dtype")
    if args.op == "gemm":
        return mk.gemm("gemm", args.M, args.N, args.K, weights=dt, act=dt)
    if args.op == "gemv":
        return mk.gemm("gemv", 1, args.N, args.K, weights=dt, act=dt)
    if args.op in ("attention-decode", "attention-prefill"):
        kv_heads = args.kv_heads or args.heads
        if args.heads % kv_heads:
            raise ConfigError(f"--heads {args.heads} must be a multiple of --kv-heads {kv_heads}", file="--kv-heads")
        decode = args.op == "attention-decode"
        length = args.kv_len if decode else args.seq
        return mk.attention(args.op, np.full(args.batch, length), 1 if decode else args.seq,
                            False if decode else args.causal, heads=args.heads, kv_heads=kv_heads,
                            head_dim=args.head_dim, act=dt, kv=dt)
    if args.op == "rmsnorm":
        return mk.norm("rmsnorm", "rmsnorm", args.tokens, args.hidden, act=dt, weights=dt,
                       profile=PROFILES[args.implementation])
    if args.op == "softmax":
        return mk.softmax("softmax", args.rows, args.cols, act=dt)
    raise ConfigError(f"unknown operator '{args.op}'")


def run_op(hw: Path, op: Op, *, unit: str | None = None, level: str | None = None, sets=()) -> dict:
    """Cost `op` on `unit` (default: the unit the system maps its class to)."""
    overrides = parse_set(list(sets))
    if overrides["workload"]:
        raise ConfigError("simulate op takes only hw.<key> overrides", file="--set")
    system = load_system(hw, overrides["hw"])
    name = unit or system.mapping.get(op.op_class)
    if name is None:
        raise ConfigError(f"no unit of {system.name} runs {op.op_class} ops", file=str(hw), key="mapping")
    if name not in system.units:
        raise ConfigError(f"unknown unit '{name}'{' (the link runs only collectives)' if name == 'link' else ''}; "
                          f"{allowed(system.units)}", file="--unit")
    serves = lookup(system.units[name].type, file=str(hw), key=name).serves
    if op.op_class not in serves:
        raise ConfigError(f"unit '{name}' ({system.units[name].type}) cannot run {op.op_class} ops; it runs "
                          f"{', '.join(serves)}", file="--unit")
    memory = system.memories.get(system.units[name].memory or "")
    if memory is not None and op.bytes > memory.capacity_bytes:
        raise ConfigError(f"the op moves {op.bytes:.4g} bytes of operands, more than the "
                          f"{memory.capacity_bytes:.4g} bytes of memory '{memory.name}'; allowed: a smaller shape",
                          file="simulate op")
    level = level or system.level
    model = system.model(name, level)
    isolated = getattr(model, "cost_isolated", None)  # a model may price a lone call differently (GPU eager launch)
    try:
        cost = isolated(op) if isolated is not None else model.cost(op)
    except ConfigError as exc:      # the unit lacks what the op needs (e.g. its dtype): blame the option
        if exc.file is None:
            exc.file = "--dtype" if "dtype" in str(exc) or op.dtype in str(exc) else "simulate op"
            exc.args = (exc.format(),)
        raise
    spec = system.units[name]
    table = energy_table(model, spec)
    energy = sum(n * table.get(a, 0.0) for a, n in cost.counts.items())
    roof = system.model(name, "analytical")
    peak = roof.rate(op) if op.flops else 0.0      # the peak of this op's class and dtype
    achieved = op.flops / cost.time_s if cost.time_s else 0.0
    out = {
        "system": system.name, "unit": name, "unit_type": spec.type, "level": unit_level(system, name, level),
        "op": op.kind, "shape": dict(op.shape), "dtype": op.dtype,
        "latency_s": cost.time_s, "cycles": cost.cycles, "bound": cost.bound,
        "flops": op.flops, "bytes": op.bytes, "achieved_tflops": achieved / 1e12,
        "utilisation": achieved / peak if peak else 0.0,
        "energy_j": energy, "counts": cost.counts, "bytes_by_memory": cost.bytes,
    }
    out.update({k: v for k, v in cost.detail.items() if k not in out})
    return out
