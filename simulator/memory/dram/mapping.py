"""Address mapping: a byte address to (channel, pseudo-channel, rank, bank group, bank, row, column).

An order is a string of two-letter fields, most significant first, over the bits above the transaction offset:
`ro` row, `ra` rank (or HBM3 stack id), `bg` bank group, `ba` bank, `pc` pseudo-channel, `ch` channel,
`co` column (in transactions). Examples: `rorabgbachco` (DRAMsim3: row, rank, group, bank, channel, column),
`chrobabgpcco`. Fields of width 0 may be left out. Two named schemes of Ramulator 2 are built in:

- `RoBaRaCoCh`: channel bits just above the offset (cache-line interleave), then MSB to LSB row, bank,
  bank group, rank, pseudo-channel, column.
- `MOP4CLXOR`: channel bits lowest (cache-line interleave, chosen before the per-channel mapping), then 2 low
  column bits, pseudo-channel, rank, bank group, bank, the high column bits, row; each field from the
  pseudo-channel up to the row is XORed with successive bits of the column (Ramulator 2.1's mapper).

Decoding is vectorised numpy over whole address arrays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from simulator.errors import ConfigError
from simulator.memory.spec import MemorySpec

FIELDS = ("ch", "pc", "ra", "bg", "ba", "ro", "co")
NAMED = ("RoBaRaCoCh", "MOP4CLXOR")


@dataclass(frozen=True)
class Decoded:
    """Per-address fields; `unit` = channel x pseudo-channel index of the controller that serves it."""

    channel: np.ndarray
    pc: np.ndarray
    rank: np.ndarray
    bankgroup: np.ndarray
    bank: np.ndarray
    row: np.ndarray
    column: np.ndarray


def widths(spec: MemorySpec) -> dict[str, int]:
    org = spec.organisation
    return {"ch": _log2(org.channels), "pc": _log2(org.pseudo_channels), "ra": _log2(org.ranks),
            "bg": _log2(org.bank_groups), "ba": _log2(org.banks_per_group), "ro": _log2(org.rows),
            "co": _log2(org.row_bytes // org.tx_bytes)}


def _log2(n: int) -> int:
    if n <= 0 or n & (n - 1):
        raise ConfigError(f"{n} is not a power of two; the DRAM and PIM models index channels, pseudo-channels, "
                          "ranks and banks by address bits", key="organisation")
    return n.bit_length() - 1


def parse_order(order: str) -> list[str]:
    """Split a field-order string into fields; raise ValueError naming what is wrong."""
    if order in NAMED:
        return [order]
    if len(order) % 2 or not re.fullmatch(r"[a-z]+", order):
        raise ValueError(f"address mapping '{order}' must be two-letter fields ({', '.join(FIELDS)}) or one of "
                         f"{', '.join(NAMED)}")
    fields = [order[i:i + 2] for i in range(0, len(order), 2)]
    bad = [f for f in fields if f not in FIELDS]
    if bad:
        raise ValueError(f"unknown field '{bad[0]}' in address mapping '{order}'; allowed: {', '.join(FIELDS)}")
    if len(set(fields)) != len(fields):
        raise ValueError(f"a field appears twice in address mapping '{order}'")
    return fields


def check(spec: MemorySpec) -> None:
    """Raise ValueError if the mapping leaves out a field whose width is not zero."""
    order = spec.controller.address_mapping
    fields = parse_order(order)
    if fields[0] in NAMED:
        return
    missing = [f for f, w in widths(spec).items() if w and f not in fields]
    if missing:
        raise ValueError(f"address mapping '{order}' lacks field '{missing[0]}' (it has "
                         f"{widths(spec)[missing[0]]} bits in this organisation)")


def decode(spec: MemorySpec, addr: np.ndarray) -> Decoded:
    """Decode byte addresses (uint64/int64 array) into their fields."""
    org = spec.organisation
    w = widths(spec)
    x = np.asarray(addr, dtype=np.uint64) >> np.uint64(_log2(org.tx_bytes))
    order = spec.controller.address_mapping
    fields = parse_order(order)
    out: dict[str, np.ndarray] = {}

    def take(name: str, bits: int) -> None:
        nonlocal x
        out[name] = (x & np.uint64((1 << bits) - 1)).astype(np.int64) if bits else np.zeros(x.shape, np.int64)
        x = x >> np.uint64(bits)

    if fields[0] == "RoBaRaCoCh":
        for name in ("ch", "co", "pc", "ra", "bg", "ba", "ro"):
            take(name, w[name])
    elif fields[0] == "MOP4CLXOR":
        low = min(2, w["co"])
        take("ch", w["ch"])
        take("co_lo", low)
        for name in ("pc", "ra", "bg", "ba"):
            take(name, w[name])
        take("co_hi", w["co"] - low)
        take("ro", w["ro"])
        out["co"] = out.pop("co_hi") << low | out.pop("co_lo")
        shift = 0
        for name in ("pc", "ra", "bg", "ba", "ro"):
            if w[name]:
                out[name] = out[name] ^ ((out["co"] >> shift) & ((1 << w[name]) - 1))
                shift += w[name]
    else:
        for name in reversed(fields):
            take(name, w[name])
        for name in FIELDS:
            out.setdefault(name, np.zeros(x.shape, np.int64))
    return Decoded(channel=out["ch"], pc=out["pc"], rank=out["ra"], bankgroup=out["bg"], bank=out["ba"],
                   row=out["ro"], column=out["co"])
