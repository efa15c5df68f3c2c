"""The `simulate` command: run, op, map, memtrace, noc, collective, list, show, sweep, serve, plan, regress (see
README.md).

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
from simulator.resources import data_root

ROOT = data_root()  # the checkout, or the installed package's data: hwconfigs/, workloads/, notebooks/
HW_DIR, WL_DIR = ROOT / "hwconfigs", ROOT / "workloads"


def resolve(ref: str, folder: Path, paths: Sequence[str] = (), kinds: tuple[str, ...] = ()) -> Path:
    """A path as given, or a file named by its stem: user folders (`--path`, XPUSIM_PATH) first, then the shipped
    ones; systems before parts (`h200` -> hwconfigs/h200.yaml). `folder` WL_DIR asks for a workload; `kinds`
    keeps only files of those kinds."""
    from simulator.catalogue import find

    return find(ref, kinds=("workload",) if folder == WL_DIR else kinds, paths=tuple(paths))


def _json(obj: dict) -> str:
    return json.dumps(obj, indent=2, default=float)


def _save_json(args: argparse.Namespace, result: dict) -> None:
    """--out DIR of the one-result subcommands: DIR/summary.json with provenance, written atomically."""
    if not getattr(args, "out", None):
        return
    from simulator.record import provenance
    from simulator.report.atomic import write_atomically

    text = _json({**result, "provenance": provenance()}) + "\n"
    write_atomically(Path(args.out), lambda tmp: (tmp / "summary.json").write_text(text), force=args.force)


def cmd_run(args: argparse.Namespace) -> int:
    from simulator.report.outputs import check_output, write_run
    from simulator.report.text import summary_text
    from simulator.run import simulate

    progress = None
    if sys.stderr.isatty() and not args.json:
        def progress(i: int, n: int) -> None:
            print(f"\r  simulating layer {i}/{n}", end="" if i < n else "\n", file=sys.stderr, flush=True)

    hw, workload = resolve(args.hw, HW_DIR, args.path, ("system",)), resolve(args.workload, WL_DIR, args.path)
    if args.out:
        check_output(Path(args.out), args.force)
    run = simulate(hw, workload, args.set, level=args.level, memoise=False if args.no_memoise else None,
                   progress=progress)
    if args.out:
        write_run(run, Path(args.out), argv=["simulate", *sys.argv[1:]], plot_format=args.plot_format,
                  force=args.force)
    if args.json:
        print(_json(run.summary))
    else:
        print(summary_text(run.summary))
        if args.out:
            print(f"  outputs        {args.out}/ (summary.json, ops.csv, trace.json, hw.yaml, workload.yaml, "
                  f"plots); rerun with `simulate run {args.out}/hw.yaml {args.out}/workload.yaml`")
    return 0


def cmd_op(args: argparse.Namespace) -> int:
    from simulator.single_op import build_op, run_op

    result = run_op(resolve(args.hw, HW_DIR, args.path), build_op(args), unit=args.unit, level=args.level,
                    sets=args.set)
    _save_json(args, result)
    print(_json(result) if args.json else _text_op(result))
    return 0


def _text_op(r: dict) -> str:
    return "\n".join(f"{k:18s} {v}" for k, v in r.items() if not isinstance(v, dict))


def cmd_map(args: argparse.Namespace) -> int:
    from simulator.map_gemm import run_map, text

    r = run_map(resolve(args.hw, HW_DIR, args.path), args.M, args.N, args.K, dtype=args.dtype, unit=args.unit,
                sets=args.set, objective=args.objective, method=args.search, dataflow=args.dataflow)
    print(_json(r) if args.json else text(r))
    return 0


def cmd_collective(args: argparse.Namespace) -> int:
    from simulator.hardware.system import load_system
    from simulator.network.summary import run_collective
    from simulator.quantity import QuantityError, parse

    try:
        nbytes = parse(args.bytes, "size")
    except QuantityError as exc:
        raise UserError(f"{exc}; e.g. 1GiB, 64 MB", key="--bytes") from None
    system = load_system(resolve(args.hw, HW_DIR, args.path, ("system",)), _hw_only(args.set))
    out = run_collective(system, args.op, nbytes, args.group, args.algorithm, args.congestion_aware, args.chunks)
    _save_json(args, out)
    print(_json(out) if args.json else _text_op({k: v for k, v in out.items() if k != "links"}))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from simulator.sweep.cli import cmd_sweep as run_sweep_file

    return run_sweep_file(args)


def cmd_list(args: argparse.Namespace) -> int:
    from simulator.catalogue import catalogue

    sections = catalogue(args.path)
    if args.json:
        print(_json({sec: [{"name": n, "description": d} for n, d in rows] for sec, rows in sections.items()}))
        return 0
    for section, rows in sections.items():
        print(f"{section}:")
        for name, desc in rows:
            print(f"  {name:36s} {desc}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from simulator.catalogue import show

    text = show(args.name, args.set, args.path)
    if args.json:
        import yaml

        text = _json(yaml.safe_load(text))
    print(text)
    return 0


def cmd_regress(args: argparse.Namespace) -> int:
    from simulator.regress import regress

    if args.baseline is None:
        default = ROOT / "reports" / "baseline.csv"
        if not default.is_file():
            raise UserError("no reports/baseline.csv here (an installed package has none); give --baseline FILE",
                            file="--baseline")
        args.baseline = str(default)
    return regress(Path(args.baseline), update=args.update, only=args.only, paths=args.path, junit=args.junit,
                   markdown=args.markdown)


def cmd_memtrace(args: argparse.Namespace) -> int:
    from simulator.config.loader import read_yaml
    from simulator.errors import ConfigError
    from simulator.hardware.system import load_system
    from simulator.memory.loader import load_memory_spec
    from simulator.memory.memtrace import run_memtrace

    hw = resolve(args.hw, HW_DIR, args.path)
    overrides = _hw_only(args.set)
    raw = read_yaml(hw)
    if isinstance(raw, dict) and raw.get("kind") == "system":
        memories = load_system(hw, overrides).memories
        if len(memories) != 1:
            raise ConfigError(f"the system has {len(memories)} memories; give a memory file", file=str(hw))
        spec = next(iter(memories.values()))
    else:
        spec = load_memory_spec(hw, overrides)
    result = run_memtrace(spec, Path(args.trace), level=args.level)
    _save_json(args, result)
    print(_json(result) if args.json else _text_op(result))
    return 0


def cmd_noc(args: argparse.Namespace) -> int:
    from simulator.npu.noc import run_noc
    from simulator.npu.noc_spec import load_noc_spec

    spec = load_noc_spec(resolve(args.hw, HW_DIR, args.path), _hw_only(args.set))
    result = run_noc(spec, args.traffic, args.injection_rate)
    _save_json(args, result)
    print(_json(result) if args.json else _text_op(result))
    return 0


def _hw_only(sets: list[str]) -> dict:
    from simulator.config.loader import parse_set

    overrides = parse_set(sets)
    if overrides["workload"]:
        raise UserError("this command takes only hw.<key> overrides", file="--set")
    return overrides["hw"]


EXAMPLES = {
    "sweep": """examples:
  simulate sweep docs/examples/neupims_sweep.yaml --out runs/dse
  simulate sweep my-sweep.yaml --workers 2 --no-cache
  simulate sweep my-sweep.yaml --scheduler tcp://10.0.0.5:8786            # a Dask cluster""",
    "collective": """examples:
  simulate collective hgx-h100 all-reduce --bytes 1GiB --group 4 --json
  simulate collective h100-2node all-reduce --bytes 64KiB                  # NCCL picks tree
  simulate collective tpuv4-pod64 all-to-all --bytes 16MiB --congestion-aware""",
    "map": """examples:
  simulate map tpuv4-like-hbm gemm 4096 4096 4096 --json
  simulate map npu-only gemm 512 4096 4096 --objective traffic""",
    "run": """examples:
  simulate run h100 llama2-7b
  simulate run neupims gpt3-7b-decode --set workload.requests=16 --set workload.layers=2 --out runs/np --json
  simulate run runs/np/hw.yaml runs/np/workload.yaml          # replay a record
  simulate run mine/my-npu.yaml llama2-7b --level analytical --plot-format svg --out runs/mine""",
    "op": """examples:
  simulate op h100 gemm 16 4096 4096 --dtype bf16 --json
  simulate op h100 attention-decode --batch 8 --heads 32 --kv-heads 8 --head-dim 128 --kv-len 4096
  simulate op neupims gemv 4096 4096 --dtype fp16 --unit pim --out runs/gemv""",
    "memtrace": """examples:
  simulate memtrace dramsim3-hbm2 TRACE --level command --json
  simulate memtrace ddr4-3200 TRACE --set 'hw.data_rate=2400 MT/s' --out runs/trace""",
    "noc": """examples:
  simulate noc booksim-mesh8x8 --traffic uniform --injection-rate 0.1 --json""",
    "list": """examples:
  simulate list
  simulate list --path mine/ --json""",
    "show": """examples:
  simulate show h200                      # the system (not the GPU part gpu/h200.yaml)
  simulate show neupims --set hw.devices=8 --json""",
    "regress": """examples:
  simulate regress                                        # the repository's reports/baseline.csv
  simulate regress --baseline ci/baseline.csv --update    # fill empty values (bootstrap) or rewrite them
  simulate regress --baseline ci/baseline.csv --only my-case --junit out/regress.xml --markdown out/regress.md""",
}


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as one-line UserErrors (exit 2) instead of a usage block."""

    def error(self, message: str):
        raise UserError(f"{message}; see '{self.prog} --help'", file=self.prog)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="simulate", description="Cycle-level simulator for LLM accelerators.",
                                epilog="Names such as h100 or llama2-7b are found in --path folders, XPUSIM_PATH, "
                                       "then the shipped presets (see `simulate list`).")
    from simulator.record import version

    p.add_argument("--version", action="version", version=f"%(prog)s {version()}",
                   help="print the simulator's version and exit")
    sub = p.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".",
                              epilog=EXAMPLES.get(name), formatter_class=argparse.RawDescriptionHelpFormatter)

    r = command("run", "simulate a workload on a hardware system")
    r.add_argument("hw", help="system: a YAML path or a name (h100, neupims, ...; see `simulate list`)")
    r.add_argument("workload", help="workload: a YAML path or a name (llama2-7b, gpt3-7b-decode, ...)")
    _common(r)
    _out(r, "folder for the record: summary.json, ops.csv, trace.json, hw.yaml + workload.yaml (rerunnable), plots")
    r.add_argument("--plot-format", choices=list(plots_formats()), default="png",
                   help="file format of the plots written by --out (default png)")
    r.add_argument("--no-memoise", action="store_true", help="re-simulate every layer (check memoisation)")
    r.set_defaults(func=cmd_run)

    o = command("op", "simulate one operator on one unit")
    o.add_argument("hw", help="system: a YAML path or a name")
    osub = o.add_subparsers(dest="op", required=True)
    g = osub.add_parser("gemm", help="a linear layer y[M,N] = x[M,K] W[N,K]^T")
    for d, what in (("M", "rows of x (tokens)"), ("N", "output features"), ("K", "input features")):
        g.add_argument(d, type=_positive, help=what)
    gv = osub.add_parser("gemv", help="a matrix-vector product y[N] = W[N,K] x[K] (a batch-1 linear layer)")
    for d, what in (("N", "output features"), ("K", "input features")):
        gv.add_argument(d, type=_positive, help=what)
    a = osub.add_parser("attention-decode", help="decode attention, one query token per request")
    a.add_argument("--kv-len", type=_positive, required=True, help="keys and values cached per request")
    ap = osub.add_parser("attention-prefill", help="prefill attention over a prompt")
    ap.add_argument("--seq", type=_positive, required=True, help="prompt tokens per request")
    ap.add_argument("--causal", action="store_true", help="causal mask (half the score matrix)")
    for x in (a, ap):
        x.add_argument("--batch", type=_positive, default=1, help="requests (default 1)")
        x.add_argument("--heads", type=_positive, required=True, help="query heads")
        x.add_argument("--kv-heads", type=_positive, help="key/value heads (default: --heads; fewer for GQA)")
        x.add_argument("--head-dim", type=_positive, required=True, help="dimension of one head")
    n = osub.add_parser("rmsnorm", help="RMSNorm over tokens x hidden")
    n.add_argument("--tokens", type=_positive, required=True, help="rows (tokens)")
    n.add_argument("--hidden", type=_positive, required=True, help="hidden size")
    n.add_argument("--implementation", default="fused", choices=["fused", "eager-pytorch", "unfused"],
                   help="kernels it lowers to (default fused)")
    s = osub.add_parser("softmax", help="softmax over rows x cols")
    s.add_argument("--rows", type=_positive, required=True, help="rows")
    s.add_argument("--cols", type=_positive, required=True, help="columns (the reduced axis)")
    for x in (g, gv, a, ap, n, s):
        x.add_argument("--dtype", default="bf16", help="fp32, bf16, fp16, fp8, int8, int4 (default bf16)")
        x.add_argument("--unit", help="unit name in the system (default: the unit the system maps this op to)")
        _common(x, run_only=False)
        _out(x, "folder for summary.json (the --json object with provenance)")
    o.set_defaults(func=cmd_op)

    mp = command("map", "search the mapping of one GEMM on an NPU (dataflow, partition, tile, loop order)")
    mp.add_argument("hw", help="system: a YAML path or a name, with an NPU unit")
    mp.add_argument("op", choices=["gemm"], help="the operator (gemm: y[M,N] = x[M,K] W[N,K]^T)")
    for d in ("M", "N", "K"):
        mp.add_argument(d, type=_positive, help=f"GEMM dimension {d}")
    mp.add_argument("--dtype", default="fp16", help="operand dtype (default fp16)")
    mp.add_argument("--unit", help="NPU unit name (default: the first NPU)")
    mp.add_argument("--objective", choices=["latency", "traffic", "energy"],
                    help="what the search minimises (default: the unit's mapping.gemm.objective, else latency)")
    mp.add_argument("--search", choices=["auto", "exhaustive", "pruned", "random"],
                    help="how candidates are enumerated (default: the unit's mapping.gemm.search, else auto)")
    mp.add_argument("--dataflow", default="any", choices=["any", "os", "ws", "is"],
                    help="restrict the dataflow (default any: all three)")
    _json_set(mp)
    mp.set_defaults(func=cmd_map)

    mt = command("memtrace", "replay a DRAM trace (<cycle> <R|W> 0x<addr> per line) through a memory")
    mt.add_argument("hw", help="memory: a YAML path or a name (hwconfigs/memory/...), or a system with one memory")
    mt.add_argument("trace", help="trace file, one `<inject_cycle> <R|W> 0x<addr>` per line")
    mt.add_argument("--level", choices=["command", "transaction"], default="command",
                    help="command: every DRAM command through bank state machines (default); transaction: bursts")
    _json_set(mt)
    _out(mt, "folder for summary.json (the --json object with provenance)")
    mt.set_defaults(func=cmd_memtrace)

    nc = command("noc", "simulate synthetic traffic on an NPU network-on-chip")
    nc.add_argument("hw", help="NoC: a YAML path or a name (hwconfigs/noc/...), or a system whose NPU has a noc")
    nc.add_argument("--traffic", default="uniform", help="traffic pattern (default uniform)")
    nc.add_argument("--injection-rate", type=float, default=0.01, help="packets per node per cycle (default 0.01)")
    _json_set(nc)
    _out(nc, "folder for summary.json (the --json object with provenance)")
    nc.set_defaults(func=cmd_noc)

    co = command("collective", "time one collective on a system's network (nccl-tests algbw and busbw)")
    co.add_argument("hw", help="system: a YAML path or a name (hgx-h100, h100-2node, ...)")
    co.add_argument("op", help="all-reduce, all-gather, reduce-scatter, all-to-all, broadcast, send-recv")
    co.add_argument("--bytes", required=True, help="collective size, e.g. 1GiB, 64MB")
    co.add_argument("--group", help="group name, device count N (first group), or NAME:N (default: first group)")
    co.add_argument("--algorithm", help="ring, tree, halving-doubling, direct, hierarchical (default: NCCL's pick)")
    co.add_argument("--congestion-aware", action="store_true", help="share links max-min fairly among flows")
    co.add_argument("--chunks", type=int, help="pipeline chunks (default: size / 512 KiB, at most 64)")
    _json_set(co)
    _out(co, "folder for summary.json (the --json object with provenance)")
    co.set_defaults(func=cmd_collective)

    ls = command("list", "list hardware, workloads and models, each with a one-line description")
    ls.add_argument("--json", action="store_true", help="print the list as one JSON object")
    _path(ls)
    ls.set_defaults(func=cmd_list)
    sh = command("show", "print one hardware, workload or model config, resolved")
    sh.add_argument("name", help="a YAML path or a name (see `simulate list`)")
    _json_set(sh, what="print JSON instead of YAML")
    sh.set_defaults(func=cmd_show)

    from simulator.serving.cli import register as register_serving

    register_serving(sub, resolve, HW_DIR, WL_DIR)

    sw = command("sweep", "simulate every point of a design space (cached on disk; local processes or Dask)")
    sw.add_argument("file", help="sweep YAML (kind: sweep): hw, workload, sets, space, objectives (docs/dse.md)")
    _out(sw, "folder for sweep.parquet (one row per point) and sweep.yaml (the resolved sweep)")
    sw.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786); default: local processes")
    sw.add_argument("--workers", type=int, help="local worker processes (default: all cores)")
    sw.add_argument("--no-cache", action="store_true", help="recompute every point (ignore the result cache)")
    sw.set_defaults(func=cmd_sweep)

    rg = command("regress", "re-run pinned estimates and fail on moves beyond tolerance")
    rg.add_argument("--baseline", metavar="FILE",
                    help="CSV of case,hw,workload,set,metric,value,rel_tol[,abs_tol]; hw and workload are paths "
                         "relative to the CSV's folder or names (default: the repository's reports/baseline.csv)")
    rg.add_argument("--update", action="store_true",
                    help="write today's estimates into the CSV (fills empty values: bootstraps a new baseline)")
    rg.add_argument("--only", action="append", metavar="CASE",
                    help="check only this case (repeatable; a shell pattern such as 'h100-*' matches several)")
    rg.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report (one testcase per metric)")
    rg.add_argument("--markdown", metavar="FILE",
                    help="also write the table as Markdown (e.g. $GITHUB_STEP_SUMMARY); '-' prints it instead")
    _path(rg)
    rg.set_defaults(func=cmd_regress)
    return p


def plots_formats() -> tuple[str, ...]:
    from simulator.report.atomic import PLOT_FORMATS    # light: the parser is built for every command

    return PLOT_FORMATS


def _common(p: argparse.ArgumentParser, run_only: bool = True) -> None:
    p.add_argument("--level", choices=["analytical", "transaction", "command"],
                   help="fidelity level (default: the system's `level`)")
    _json_set(p, set_help="override a config value: hw.<path>=V" + (" or workload.<path>=V" if run_only else ""))


def _json_set(p: argparse.ArgumentParser, what: str = "print one JSON object on stdout",
              set_help: str = "override a config value: hw.<path>=V (repeatable)") -> None:
    p.add_argument("--json", action="store_true", help=what)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=set_help)
    _path(p)


def _out(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--out", metavar="DIR", help=what + "; written atomically, never over files it did not write")
    p.add_argument("--force", action="store_true",
                   help="write into a non-empty --out directory that is not a run record (other files are kept)")


def _path(p: argparse.ArgumentParser) -> None:
    p.add_argument("--path", action="append", default=[], metavar="DIR",
                   help="a folder of your own configs, searched for names before XPUSIM_PATH and the shipped "
                        "ones (repeatable)")


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
    from simulator.report.atomic import interruptible

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
