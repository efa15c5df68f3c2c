"""How PIM work and a concurrent stream of normal reads on the same channels slow each other down.

Measured once per PIM unit on the command level (bank_machine.py), where both share the command bus, the banks
(by the `row_buffer` rules), the tFAW windows and the data bus: a representative channel program (Q.K^T then S.V of
one request, `REFERENCE` below) runs with a stream of normal 64 B reads offered at `rate` reads per cycle (address
order of a long contiguous stream: the columns of a row, then the next bank, then the next row). For each rate:

    pim_factor(rate) = PIM span with the reads / PIM span alone                          (>= 1)
    read_share(rate) = time the reads need alone / time they take beside PIM           (<= 1)

Rates run from 0 to the data bus limit 1 / max(tBURST, tCCD_S) on a grid; between grid points the curves are
interpolated linearly. The executor uses them where PIM work overlaps other units' memory traffic (sub-batch
interleaving): a PIM stage takes pim_factor at the read rate the overlapping ops offer, and the overlapped part of
an op that streams at its memory's bandwidth takes 1 / read_share. NeuPIMs HBM2 (dual row buffer), reads at the
full rate: PIM +4 % (Q.K^T) to +10 % (S.V), the reads stretched by 25-31 %.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from simulator.cache import calibration
from simulator.pim import mapping
from simulator.pim.bank_machine import run_channel
from simulator.pim.commands import PimTiming

REFERENCE = {"heads": 8, "head_dim": 128, "kv_len": 1024}   # one NeuPIMs GPT-3 7B TP-4 request, mid-length
POINTS = 6                                                 # grid points from 0 to the data-bus limit


@dataclass(frozen=True)
class Contention:
    """PIM slowdown and normal-read share as functions of the offered read rate (reads per cycle per channel)."""

    rates: np.ndarray
    pim_factor: np.ndarray
    read_share: np.ndarray

    def at(self, rate: float) -> tuple[float, float]:
        """(pim_factor, read_share) at `rate`, clipped to the measured range."""
        r = float(np.clip(rate, 0.0, self.rates[-1]))
        return float(np.interp(r, self.rates, self.pim_factor)), float(np.interp(r, self.rates, self.read_share))


def _stream(n: int, rate: float, t: PimTiming) -> dict[str, np.ndarray]:
    """n reads of a contiguous stream arriving `rate` per cycle: 16 columns of a row, then the next bank."""
    line = np.arange(n, dtype=np.int64)
    per_row = max(1, t.row_elements * 2 // 64)
    return {"arrival": (line / rate).astype(np.int64), "bank": (line // per_row) % t.banks,
            "row": 1 + line // (per_row * t.banks)}


def measure(t: PimTiming) -> Contention:
    """The curves of one PIM timing table, refresh-free (refresh slows both alike); from the disk cache of
    spec-only calibrations when there (simulator/cache.py)."""
    curves = calibration("pim-contention", asdict(t), lambda: _curves(t))
    return Contention(*(np.asarray(curves[k], dtype=float) for k in ("rates", "pim_factor", "read_share")))


def _curves(t: PimTiming) -> dict[str, list[float]]:
    """Measure the curves on the command level: the reference program alone, with reads, and the reads alone."""
    prog = mapping.concat([mapping.qk_program(t, **REFERENCE), mapping.sv_program(t, **REFERENCE)])
    alone = run_channel(prog, t, refresh=False).end
    empty = {k: v[:0] for k, v in prog.items()}
    limit = 1.0 / max(t.burst, t.ccd_s)
    rates = np.linspace(0.0, limit, POINTS)
    pim, share = [1.0], [1.0]
    for rate in rates[1:]:
        reads = _stream(max(1, int(alone * rate)), rate, t)
        with_pim = run_channel(prog, t, refresh=False, reads=reads)
        only = run_channel(empty, t, refresh=False, reads=reads)
        pim.append(with_pim.end / alone)
        share.append(float(only.read_done.max()) / float(with_pim.read_done.max()))
    return {"rates": rates.tolist(), "pim_factor": pim, "read_share": np.minimum(np.array(share), 1.0).tolist()}
