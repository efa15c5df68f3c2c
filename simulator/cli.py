"""The `simulate` command: run, op, memtrace, noc, list, show, regress (see README.md).

User errors (bad files, keys, values) print one line `error: FILE: KEY: what is wrong` and exit with code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from simulator.errors import BUG_REPORT, InternalError, UserError

ROOT = Path(__file__).resolve().parents[1]
HW_DIR, WL_DIR = ROOT / "hwconfigs", ROOT / "workloads"


def resolve(ref: str, folder: Path) -> Path:
    """A path as given, or a shipped file named by its stem (`h100` -> hwconfigs/h100.yaml)."""
    p = Path(ref)
    if p.exists() or p.suffix in (".yaml", ".yml", ".json", ".csv"):
        return p
    for candidate in sorted(folder.rglob(f"{ref}.yaml")):
        return candidate
    return p


def _json(obj: dict) -> str:
    return json.dumps(obj, indent=2, default=float)


def cmd_run(args: argparse.Namespace) -> int:
    from simulator.report.outputs import check_output, write_run
    from simulator.report.text import summary_text
    from simulator.run import simulate

    progress = None
    if sys.stderr.isatty() and not args.json:
        def progress(i: int, n: int) -> None:
            print(f"\r  simulating layer {i}/{n}", end="" if i < n else "\n", file=sys.stderr, flush=True)

    if args.out:
        check_output(Path(args.out), args.force)
    run = simulate(resolve(args.hw, HW_DIR), resolve(args.workload, WL_DIR), args.set, level=args.level,
                   memoise=False if args.no_memoise else None, progress=progress)
    if args.out:
        write_run(run, Path(args.out), force=args.force)
    if args.json:
        print(_json(run.summary))
    else:
        print(summary_text(run.summary))
        if args.out:
            print(f"  outputs        {args.out}/ (summary.json, ops.csv, trace.json, config.yaml, plots)")
    return 0


def cmd_op(args: argparse.Namespace) -> int:
    from simulator.single_op import build_op, run_op

    result = run_op(resolve(args.hw, HW_DIR), build_op(args), unit=args.unit, level=args.level, sets=args.set)
    print(_json(result) if args.json else _text_op(result))
    return 0


def _text_op(r: dict) -> str:
    return "\n".join(f"{k:18s} {v}" for k, v in r.items() if not isinstance(v, dict))


def cmd_list(args: argparse.Namespace) -> int:
    from simulator.catalogue import catalogue

    for section, rows in catalogue(ROOT).items():
        print(f"{section}:")
        for name, desc in rows:
            print(f"  {name:34s} {desc}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from simulator.catalogue import show

    print(show(args.name, ROOT, args.set))
    return 0


def cmd_regress(args: argparse.Namespace) -> int:
    from simulator.regress import regress

    return regress(Path(args.baseline), update=args.update)


def cmd_memtrace(args: argparse.Namespace) -> int:
    from simulator.config.loader import read_yaml
    from simulator.errors import ConfigError
    from simulator.hardware.system import load_system
    from simulator.memory.loader import load_memory_spec
    from simulator.memory.memtrace import run_memtrace

    hw = resolve(args.hw, HW_DIR)
    raw = read_yaml(hw)
    if isinstance(raw, dict) and raw.get("kind") == "system":
        memories = load_system(hw).memories
        if len(memories) != 1:
            raise ConfigError(f"the system has {len(memories)} memories; give a memory file", file=str(hw))
        spec = next(iter(memories.values()))
    else:
        spec = load_memory_spec(hw)
    result = run_memtrace(spec, Path(args.trace), level=args.level)
    print(_json(result) if args.json else _text_op(result))
    return 0


def cmd_noc(args: argparse.Namespace) -> int:
    from simulator.npu.noc import run_noc
    from simulator.npu.noc_spec import load_noc_spec

    result = run_noc(load_noc_spec(resolve(args.hw, HW_DIR)), args.traffic, args.injection_rate)
    print(_json(result) if args.json else _text_op(result))
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as one-line UserErrors (exit 2) instead of a usage block."""

    def error(self, message: str):
        raise UserError(f"{message}; see '{self.prog} --help'", file=self.prog)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="simulate", description="Cycle-level simulator for LLM accelerators.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="simulate a workload on a hardware system")
    r.add_argument("hw", help="system YAML (path, or a name under hwconfigs/)")
    r.add_argument("workload", help="workload YAML (path, or a name under workloads/)")
    _common(r)
    r.add_argument("--out", help="directory for summary.json, ops.csv, trace.json, config.yaml and plots")
    r.add_argument("--force", action="store_true",
                   help="write into a non-empty --out directory that is not a run record (other files are kept)")
    r.add_argument("--no-memoise", action="store_true", help="re-simulate every layer (check memoisation)")
    r.set_defaults(func=cmd_run)

    o = sub.add_parser("op", help="simulate one operator on one unit")
    o.add_argument("hw", help="system YAML")
    osub = o.add_subparsers(dest="op", required=True)
    g = osub.add_parser("gemm", help="a linear layer y[M,N] = x[M,K] W[N,K]^T")
    for d in ("M", "N", "K"):
        g.add_argument(d, type=_positive)
    gv = osub.add_parser("gemv", help="a matrix-vector product y[N] = W[N,K] x[K] (a batch-1 linear layer)")
    for d in ("N", "K"):
        gv.add_argument(d, type=_positive)
    a = osub.add_parser("attention-decode", help="decode attention, one query token per request")
    a.add_argument("--kv-len", type=_positive, required=True)
    ap = osub.add_parser("attention-prefill", help="prefill attention over a prompt")
    ap.add_argument("--seq", type=_positive, required=True)
    ap.add_argument("--causal", action="store_true")
    for x in (a, ap):
        x.add_argument("--batch", type=_positive, default=1)
        x.add_argument("--heads", type=_positive, required=True)
        x.add_argument("--kv-heads", type=_positive)
        x.add_argument("--head-dim", type=_positive, required=True)
    n = osub.add_parser("rmsnorm", help="RMSNorm over tokens x hidden")
    n.add_argument("--tokens", type=_positive, required=True)
    n.add_argument("--hidden", type=_positive, required=True)
    n.add_argument("--implementation", default="fused", choices=["fused", "eager-pytorch", "unfused"])
    s = osub.add_parser("softmax", help="softmax over rows x cols")
    s.add_argument("--rows", type=_positive, required=True)
    s.add_argument("--cols", type=_positive, required=True)
    for x in (g, gv, a, ap, n, s):
        x.add_argument("--dtype", default="bf16", help="fp32, bf16, fp16, fp8, int8, int4 (default bf16)")
        x.add_argument("--unit", help="unit name in the system (default: the unit the system maps this op to)")
        _common(x, run_only=False)
    o.set_defaults(func=cmd_op)

    mt = sub.add_parser("memtrace", help="replay a DRAM trace (<cycle> <R|W> 0x<addr> per line) through a memory")
    mt.add_argument("hw", help="memory YAML (hwconfigs/memory/...) or a system with one memory")
    mt.add_argument("trace")
    mt.add_argument("--level", choices=["command", "transaction"], default="command")
    mt.add_argument("--json", action="store_true")
    mt.set_defaults(func=cmd_memtrace)

    nc = sub.add_parser("noc", help="simulate synthetic traffic on an NPU network-on-chip")
    nc.add_argument("hw", help="NoC YAML (hwconfigs/noc/...) or a system whose NPU has a noc")
    nc.add_argument("--traffic", default="uniform")
    nc.add_argument("--injection-rate", type=float, default=0.01, help="packets per node per cycle")
    nc.add_argument("--json", action="store_true")
    nc.set_defaults(func=cmd_noc)

    ls = sub.add_parser("list", help="list shipped hardware, workloads and models")
    ls.set_defaults(func=cmd_list)
    sh = sub.add_parser("show", help="print one hardware, workload or model config, resolved")
    sh.add_argument("name")
    sh.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    sh.set_defaults(func=cmd_show)

    rg = sub.add_parser("regress", help="re-run the baseline estimates and fail on moves beyond tolerance")
    rg.add_argument("--baseline", default=str(ROOT / "reports" / "baseline.csv"))
    rg.add_argument("--update", action="store_true", help="rewrite the baseline with today's estimates")
    rg.set_defaults(func=cmd_regress)
    return p


def _common(p: argparse.ArgumentParser, run_only: bool = True) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--level", choices=["analytical", "transaction", "command"],
                   help="fidelity level (default: the system's `level`)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value: hw.<path>=V" + (" or workload.<path>=V" if run_only else ""))


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be positive")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 on success, 2 with one line on a user error (or a signal), 3 with one line on a simulator bug."""
    from simulator.report.outputs import interruptible

    try:
        with interruptible():
            args = parser().parse_args(argv)
            return args.func(args)
    except UserError as exc:
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        sys.stdout = open(os.devnull, "w")  # the reader went away (e.g. `| head`): not an error
        return 0
    except MemoryError:
        print("error: the run needs more memory than this machine has; reduce batch, requests, layers or the "
              "op's shape", file=sys.stderr)
        return 2
    except InternalError as exc:
        print(f"error: internal error: {_one_line(str(exc))[:300]}; {BUG_REPORT}", file=sys.stderr)
        return 3
    except Exception as exc:
        if os.environ.get("XPUSIM_DEBUG"):
            raise
        print(f"error: internal error: {exc.__class__.__name__}: {_one_line(str(exc))[:300]}; {BUG_REPORT}",
              file=sys.stderr)
        return 3


def _one_line(text: str) -> str:
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
