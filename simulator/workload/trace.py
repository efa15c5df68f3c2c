"""Request traces: a CSV of `seq_len[,ch_idx]` per decoding request (the NeuPIMs trace format)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from simulator.errors import ConfigError


def read_trace(path: Path, limit: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-request KV lengths and (if present) PIM channels of the first `limit` rows."""
    try:
        handle = path.open(newline="")
    except (FileNotFoundError, IsADirectoryError):
        raise ConfigError("trace file not found", file=str(path)) from None
    with handle:
        rows = list(csv.reader(handle))
    header = [c.strip() for c in rows[0]] if rows else []
    if not header or header[0] != "seq_len" or header[1:] not in ([], ["ch_idx"]):
        raise ConfigError(f"header is {','.join(header)!r}; expected 'seq_len' or 'seq_len,ch_idx'",
                          file=str(path), key="line 1")
    body = [r for r in rows[1:] if r and any(c.strip() for c in r)]
    if limit is not None:
        if limit > len(body):
            raise ConfigError(f"requests={limit} but the trace has only {len(body)} rows", file=str(path))
        body = body[:limit]
    if not body:
        raise ConfigError("the trace has no requests (empty batch)", file=str(path))
    values = np.empty((len(body), len(header)), dtype=np.int64)
    for i, row in enumerate(body):
        try:
            if len(row) != len(header):
                raise ValueError
            values[i] = [int(c) for c in row]
        except ValueError:
            raise ConfigError(f"cannot parse {','.join(row)!r}: expected {len(header)} integer(s) "
                              f"({','.join(header)})", file=str(path), key=f"line {i + 2}") from None
        if values[i, 0] < 1 or (len(header) > 1 and values[i, 1] < 0):
            raise ConfigError(f"seq_len must be >= 1 and ch_idx >= 0, got {','.join(row)!r}",
                              file=str(path), key=f"line {i + 2}")
    return values[:, 0].copy(), (values[:, 1].copy() if len(header) > 1 else None)
