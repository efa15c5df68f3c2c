"""Request traces: a CSV of `seq_len[,ch_idx]` per decoding request (the NeuPIMs trace format)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from simulator.errors import ConfigError


def read_trace(path: Path, limit: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-request KV lengths and (if present) PIM channels of the first `limit` rows (every row is checked)."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise ConfigError("trace file not found", file=str(path)) from None
    except IsADirectoryError:
        raise ConfigError("is a directory; allowed: a CSV file of seq_len[,ch_idx] rows", file=str(path)) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"cannot read the trace ({exc.__class__.__name__}); allowed: a UTF-8 CSV file of "
                          "seq_len[,ch_idx] rows", file=str(path)) from None
    header = [c.strip() for c in rows[0]] if rows else []
    if not header or header[0] != "seq_len" or header[1:] not in ([], ["ch_idx"]):
        raise ConfigError(f"header is {','.join(header)!r}; expected 'seq_len' or 'seq_len,ch_idx'",
                          file=str(path), key="line 1")
    body = [r for r in rows[1:] if r and any(c.strip() for c in r)]
    if limit is not None and limit > len(body):
        raise ConfigError(f"requests={limit} but the trace has only {len(body)} rows", file=str(path))
    if not body:
        raise ConfigError("the trace has no requests (empty batch)", file=str(path))
    values = np.empty((len(body), len(header)), dtype=np.int64)
    for i, row in enumerate(body):
        try:
            if len(row) != len(header):
                raise ValueError
            values[i] = [int(c) for c in row]
        except (ValueError, OverflowError):
            raise ConfigError(f"cannot parse {','.join(row)!r}: expected {len(header)} integer(s) "
                              f"({','.join(header)})", file=str(path), key=f"line {i + 2}") from None
        if values[i, 0] < 1 or (len(header) > 1 and values[i, 1] < 0):
            raise ConfigError(f"seq_len must be >= 1 and ch_idx >= 0, got {','.join(row)!r}",
                              file=str(path), key=f"line {i + 2}")
    values = values[:limit] if limit is not None else values
    return values[:, 0].copy(), (values[:, 1].copy() if len(header) > 1 else None)
