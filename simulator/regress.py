"""Regression of estimates: a CSV pins metrics of hardware x workload pairs with tolerances, for this repository
(`reports/baseline.csv`) or any design repository that gates its own configs in CI.

Columns: case,hw,workload,set,metric,value,rel_tol[,abs_tol]. `hw` and `workload` are paths relative to the CSV's
folder, or names (resolved as `simulate run` does); `set` is `;`-separated `--set` items. A metric passes when
|now - value| <= max(rel_tol x |value|, abs_tol). `simulate regress` exits 1 when any metric moved beyond its
tolerance; `--update` writes today's values (an empty value is a row to bootstrap); `--only CASE` narrows.
"""

from __future__ import annotations

import csv
import fnmatch
import math
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

from simulator.errors import ConfigError

COLUMNS = ["case", "hw", "workload", "set", "metric", "value", "rel_tol"]
OPTIONAL = ["abs_tol"]


def metric(summary: dict, path: str) -> float:
    """A number in the summary addressed by a dotted path (`energy_j.total`, `bandwidth.hbm.gbps`)."""
    node = summary
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(f"the summary has no '{path}'", key=path)
        node = node[part]
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        raise ConfigError(f"'{path}' is not a number in the summary", key=path)
    return float(node)


def read_baseline(path: Path) -> list[dict]:
    """Rows of the CSV, checked: the columns, numbers where numbers go (an empty value is allowed: to bootstrap)."""
    try:
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            rows = list(reader)
    except FileNotFoundError:
        raise ConfigError("baseline not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"cannot read the CSV: {exc}", file=str(path)) from None
    if set(COLUMNS) - set(header) or set(header) - set(COLUMNS + OPTIONAL):
        raise ConfigError(f"columns must be {','.join(COLUMNS)}[,{','.join(OPTIONAL)}]; got {','.join(header)}",
                          file=str(path), key="line 1")
    for i, row in enumerate(rows, start=2):
        if None in row or any(v is None for v in row.values()):
            raise ConfigError(f"expected {len(header)} fields", file=str(path), key=f"line {i}")
        for col in ("case", "hw", "workload", "metric"):
            if not row[col].strip():
                raise ConfigError(f"'{col}' is empty", file=str(path), key=f"line {i}")
        for col, empty_ok in (("value", True), ("rel_tol", False), ("abs_tol", True)):
            text = (row.get(col) or "").strip()
            if not text and empty_ok:
                continue
            try:
                number = float(text)
            except ValueError:
                raise ConfigError(f"{col} must be a number (got {text!r})", file=str(path), key=f"line {i}") from None
            if col != "value" and (number < 0 or not math.isfinite(number)):
                raise ConfigError(f"{col} must be a finite number >= 0 (got {text!r})", file=str(path),
                                  key=f"line {i}")
    return rows


def select(rows: list[dict], only: list[str] | None, path: Path) -> list[dict]:
    """Rows of the cases named by `only` (shell patterns); an unknown name is an error listing the cases."""
    if not only:
        return rows
    cases = list(dict.fromkeys(r["case"] for r in rows))
    for pattern in only:
        if not fnmatch.filter(cases, pattern):
            raise ConfigError(f"no case matches '{pattern}'; cases: {', '.join(cases)}", file=str(path),
                              key="--only")
    return [r for r in rows if any(fnmatch.fnmatchcase(r["case"], p) for p in only)]


def _input(ref: str, folder: Path, kind: str, paths: list[str]) -> Path:
    """A CSV's hw/workload entry: a path relative to the CSV's folder (or absolute), else a name."""
    from simulator.catalogue import find

    given = Path(ref)
    local = given if given.is_absolute() else folder / given
    if local.exists():
        return local
    return find(ref, kinds=(kind,), paths=tuple(paths))


def evaluate(rows: list[dict], folder: Path, paths: list[str] = ()) -> list[dict]:
    """Run each distinct (hw, workload, set) once and read its metrics; returns rows with `now`, `change`, `ok`."""
    from simulator.run import simulate

    cache: dict[tuple, dict] = {}
    out = []
    for row in rows:
        key = (row["hw"], row["workload"], row["set"])
        if key not in cache:
            sets = [s for s in row["set"].split(";") if s]
            cache[key] = simulate(_input(row["hw"], folder, "system", list(paths)),
                                  _input(row["workload"], folder, "workload", list(paths)), sets).summary
        now = metric(cache[key], row["metric"])
        text = row["value"].strip()
        if not text:
            out.append({**row, "now": now, "change": None, "ok": None})
            continue
        base = float(text)
        tol = max(float(row["rel_tol"]) * abs(base), float((row.get("abs_tol") or "0").strip() or 0))
        change = (now - base) / base if base else (0.0 if now == 0 else math.inf)
        out.append({**row, "now": now, "change": change, "ok": abs(now - base) <= tol})
    return out


def regress(path: Path, *, update: bool = False, only: list[str] | None = None, paths: list[str] = (),
            junit: str | None = None, markdown: str | None = None) -> int:
    rows = read_baseline(path)
    chosen = select(rows, only, path)
    results = evaluate(chosen, path.resolve().parent, list(paths))
    if update:
        return _update(path, rows, chosen, results)
    if junit:
        write_junit(results, Path(junit), path)
    if markdown == "-":
        print(markdown_table(results))
    elif markdown:
        Path(markdown).write_text(markdown_table(results) + "\n")
    print(table(results))
    failed = [r for r in results if r["ok"] is False]
    empty = [r for r in results if r["ok"] is None]
    line = f"{len(results) - len(failed) - len(empty)} passed, {len(failed)} failed"
    if empty:
        line += f", {len(empty)} without a value (run with --update to fill them)"
    print(line, file=sys.stderr if failed or empty else sys.stdout)
    return 1 if failed or empty else 0


def _update(path: Path, rows: list[dict], chosen: list[dict], results: list[dict]) -> int:
    """Rewrite the CSV with today's values of the chosen rows (all others as they were)."""
    now = {id(row): r["now"] for row, r in zip(chosen, results)}
    header = COLUMNS + [c for c in OPTIONAL if any(c in r for r in rows)]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, header, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "value": f"{now[id(row)]:.10g}"} if id(row) in now else row)
    filled = sum(1 for r in results if r["ok"] is None)
    print(f"updated {len(results)} estimates in {path}" + (f" ({filled} were empty)" if filled else ""))
    return 0


def _cells(r: dict) -> list[str]:
    base = r["value"].strip()
    tol = f"{float(r['rel_tol']):.2%}" + (f" / {float(r['abs_tol']):.3g}" if (r.get("abs_tol") or "").strip() else "")
    status = "EMPTY" if r["ok"] is None else ("ok" if r["ok"] else "MOVED")
    change = "" if r["change"] is None else f"{r['change']:+.2%}"
    return [r["case"], r["metric"], f"{float(base):.6g}" if base else "", f"{r['now']:.6g}", change, tol, status]


HEAD = ["case", "metric", "baseline", "now", "change", "tolerance", "status"]


def table(results: list[dict]) -> str:
    """Aligned text: columns as wide as their widest cell, numbers right-aligned."""
    cells = [HEAD] + [_cells(r) for r in results]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEAD))]
    right = {2, 3, 4, 5}

    def line(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    return "\n".join([line(HEAD), "  ".join("-" * w for w in widths)] + [line(r) for r in cells[1:]])


def markdown_table(results: list[dict]) -> str:
    """The same table in Markdown, failures first, for CI job summaries and pull-request comments."""
    ordered = sorted(results, key=lambda r: {False: 0, None: 1, True: 2}[r["ok"]])
    lines = ["| " + " | ".join(HEAD) + " |", "|" + "---|" * 2 + "---:|" * 4 + "---|"]
    for r in ordered:
        cells = _cells(r)
        cells[-1] = {"MOVED": "**MOVED**", "EMPTY": "*empty*"}.get(cells[-1], cells[-1])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_junit(results: list[dict], out: Path, baseline: Path) -> None:
    """JUnit XML: one testsuite for the CSV, one testcase per (case, metric), a <failure> for each moved metric."""
    failures = sum(1 for r in results if r["ok"] is False)
    errors = sum(1 for r in results if r["ok"] is None)
    suite = ET.Element("testsuite", name=f"regress {baseline.name}", tests=str(len(results)),
                       failures=str(failures), errors=str(errors), skipped="0")
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=r["case"], name=r["metric"])
        cells = dict(zip(HEAD, _cells(r)))
        if r["ok"] is False:
            ET.SubElement(case, "failure", message=f"{r['metric']} moved {cells['change']} (tolerance "
                          f"{cells['tolerance']})", type="MOVED").text = (
                f"baseline {cells['baseline']}, now {cells['now']}")
        elif r["ok"] is None:
            ET.SubElement(case, "error", message="no baseline value; run simulate regress --update", type="EMPTY")
    root = ET.Element("testsuites", tests=str(len(results)), failures=str(failures), errors=str(errors))
    root.append(suite)
    ET.indent(root)
    out.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)
