"""Reading DRAM request traces: one request per line, `<inject_cycle> <R|W> 0x<byte address>`.

Blank lines and lines starting with `#` are skipped. A line that does not parse, a negative or decreasing
inject cycle, or an address beyond the memory's capacity is a UserError naming the file and the line number.
Parsing is vectorised (numpy) on the common case and falls back to a line-by-line scan to report an error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simulator.errors import UserError

FORMAT = "expected '<inject_cycle> <R|W> 0x<address>'"
MAX_CYCLE = 2**62          # cycles stay int64 through the kernels' sums


def read_trace(path: Path, capacity: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inject cycles int64, is_write bool, byte addresses int64) of every request in `path`."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError("trace file not found", file=str(path)) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read trace: {exc.__class__.__name__}", file=str(path)) from None
    parsed = _fast(text)
    if parsed is None:
        parsed = _slow(text, path)
    inject, is_write, addr = parsed
    if inject.size == 0:
        raise UserError("trace has no requests", file=str(path))
    bad = np.flatnonzero((inject < 0) | (inject >= MAX_CYCLE))
    if bad.size:
        raise UserError(f"inject cycle {inject[bad[0]]} is outside 0 to {MAX_CYCLE - 1}", file=str(path),
                        key=_line(text, bad[0]))
    bad = np.flatnonzero(np.diff(inject) < 0)
    if bad.size:
        k = bad[0] + 1
        raise UserError(f"inject cycle {inject[k]} is smaller than the previous one ({inject[k - 1]}); "
                        "cycles must not decrease", file=str(path), key=_line(text, k))
    bad = np.flatnonzero((addr < 0) | (addr >= capacity))
    if bad.size:
        raise UserError(f"address {addr[bad[0]]:#x} is beyond the memory's capacity of {int(capacity):#x} bytes",
                        file=str(path), key=_line(text, bad[0]))
    return inject, is_write, addr


def _fast(text: str):
    if "#" in text:
        return None
    parts = text.split()
    if len(parts) % 3:
        return None
    try:
        inject = np.array(parts[0::3]).astype(np.int64)
        ops = np.array(parts[1::3])
        addr = np.array([int(a, 16) for a in parts[2::3]], dtype=np.int64) if parts else np.zeros(0, np.int64)
    except (ValueError, OverflowError):
        return None
    if parts and not all(a[:2] in ("0x", "0X") for a in parts[2::3]):
        return None
    is_write = ops == "W"
    if not np.all(is_write | (ops == "R")):
        return None
    # the line structure must be one request per non-blank line
    if sum(1 for ln in text.splitlines() if ln.strip()) != len(parts) // 3:
        return None
    return inject, is_write, addr


def _slow(text: str, path: Path):
    inject, is_write, addr = [], [], []
    for number, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        fields = s.split()
        where = f"line {number}"
        if len(fields) != 3:
            raise UserError(f"{FORMAT}, got {s[:60]!r}", file=str(path), key=where)
        cyc, op, a = fields
        try:
            c = int(cyc)
        except ValueError:
            raise UserError(f"inject cycle {cyc!r} is not an integer; {FORMAT}", file=str(path), key=where) from None
        if op not in ("R", "W"):
            raise UserError(f"operation {op!r} must be R or W; {FORMAT}", file=str(path), key=where)
        if not a.lower().startswith("0x"):
            raise UserError(f"address {a!r} must be hexadecimal with 0x; {FORMAT}", file=str(path), key=where)
        try:
            x = int(a, 16)
        except ValueError:
            raise UserError(f"address {a!r} is not hexadecimal; {FORMAT}", file=str(path), key=where) from None
        if not 0 <= c < MAX_CYCLE:
            raise UserError(f"inject cycle {c} is outside 0 to {MAX_CYCLE - 1}", file=str(path), key=where)
        if x >= 2 ** 63:
            raise UserError(f"address {a} does not fit in 64 bits", file=str(path), key=where)
        inject.append(c)
        is_write.append(op == "W")
        addr.append(x)
    return (np.array(inject, np.int64), np.array(is_write, bool), np.array(addr, np.int64))


def _line(text: str, index: int) -> str:
    """'line N' of the index-th request (counting only request lines)."""
    k = -1
    for number, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if s and not s.startswith("#"):
            k += 1
            if k == index:
                return f"line {number}"
    return f"request {index + 1}"
