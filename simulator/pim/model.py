"""The PIM unit model: decode attention and GEMV as PIM command programs per channel, timed per channel in closed
form (`level="transaction"`, timeline.py) or command by command (`level="command"`, bank_machine.py).

`cost(op)` costs one op alone (one request's Q.K^T or S.V on one channel; a GEMV over all channels).
`stage(ops, channels)` costs a whole multi-head-attention stage of a batch: every request's program runs on the
channel that holds its KV, channels in parallel, Q.K^T of all requests before S.V of all (NeuPIMs runs the
logit/softmax op and the attend op one after the other); its time is the busiest channel's, per phase.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from simulator.engine.capability import Capabilities
from simulator.engine.cost import OpCost
from simulator.errors import ConfigError
from simulator.lowering.ops import Op
from simulator.memory.spec import MemorySpec
from simulator.pim import bank_machine, contention, mapping
from simulator.pim.commands import PimTiming, pim_timing
from simulator.pim.energy import command_energies
from simulator.pim.spec import PimSpec
from simulator.pim.timeline import ChannelTime, channel_time, expected_cycles

PHASE_OF = {"attention_qk": "qk", "attention_sv": "sv"}


class PimModel:
    """A PIM-enabled memory computing in its banks; times in the memory's controller cycles (tCK)."""

    def __init__(self, name: str, spec: PimSpec, memory: MemorySpec, *, refresh: bool = True,
                 level: str = "transaction") -> None:
        if level not in ("transaction", "command"):
            raise ValueError(f"PIM model level must be 'transaction' or 'command', not {level!r}")
        if memory is None:
            raise ConfigError(f"PIM unit '{name}' needs a memory with a timing section", key=f"{name}.memory")
        self.name, self.spec, self.memory = name, spec, memory
        try:
            self.timing: PimTiming = pim_timing(spec, memory)
        except ValueError as exc:
            raise ConfigError(str(exc), key=f"{name}.memory") from None
        self.refresh, self.level = refresh, level
        self.energy_table = command_energies(spec, memory)  # defaults; the unit YAML `energy:` overrides them
        self._programs: dict[tuple, dict] = {}               # stage programs by (requests, ops, channels)

    @property
    def capabilities(self) -> Capabilities:
        """Computes in the banks; a dual row buffer keeps PIM rows open beside the normal ones."""
        return Capabilities(in_memory=True, pim_rows=self.spec.row_buffer == "dual")

    @cached_property
    def contention(self) -> contention.Contention:
        """How this unit's work and normal reads on its channels slow each other (pim/contention.py)."""
        return contention.measure(self.timing)

    @property
    def channels(self) -> int:
        return self.timing.channels

    # --- programs ---
    def program(self, op: Op, kv_len: int | None = None) -> dict[str, np.ndarray]:
        d, t = op.dims, self.timing
        if op.kind == "attention_qk":
            return mapping.qk_program(t, d["heads"], d["head_dim"], kv_len or d["kv_len"])
        if op.kind == "attention_sv":
            return mapping.sv_program(t, d["heads"], d["head_dim"], kv_len or d["kv_len"])
        if op.kind == "gemm":
            return mapping.gemv_program(t, d["M"], d["N"], d["K"])
        raise ConfigError(f"PIM unit '{self.name}' cannot run op kind {op.kind!r}; it runs attention_qk, "
                          f"attention_sv, attention (decode) and gemm (GEMV)", key=self.name)

    def request_programs(self, phase: str, heads: int, head_dim: int, kv_len: int,
                         channel: int) -> dict[int, dict[str, np.ndarray]]:
        """One request's Q.K^T (`qk`) or S.V (`sv`) as programs by channel: all on its KV `channel` (kv_layout
        `channel`, NeuPIMs) or over every channel (`spread`, PIM-GPT batch 1)."""
        t = self.timing
        if self.spec.kv_layout == "spread":
            return (mapping.spread_qk if phase == "qk" else mapping.spread_sv)(t, heads, head_dim, kv_len)
        return {channel: (mapping.qk_program if phase == "qk" else mapping.sv_program)(t, heads, head_dim, kv_len)}

    # --- costs ---
    def cost(self, op: Op) -> OpCost:
        if op.kind == "attention":
            return self._fused(op)
        if op.kind == "gemm":
            prog = self.program(op)
            return self._finish([op], {"gemv": [prog] * self.channels}, 0.0)
        return self.stage([op])

    def stage(self, ops: list[Op], channels: np.ndarray | None = None, start_cycle: float = 0.0) -> OpCost:
        """One MHA stage: `ops` are per-request attention_qk / attention_sv ops (softmax excluded; it runs on the
        host between the two phases), `channels[i]` the channel of ops' request i (by `op.request`; default:
        the unit's `kv_placement`). `start_cycle` is the absolute memory cycle the stage starts at (refresh
        phase). GEMV ops in the list run after, on all channels. The channel programs do not depend on
        `start_cycle`, so they are built once per stage (the executor's contention passes reuse them)."""
        key = (tuple((op.request, op.key()) for op in ops),
               None if channels is None else np.asarray(channels, dtype=np.int64).tobytes())
        phases = self._programs.get(key)
        if phases is None:
            if len(self._programs) > 64:
                self._programs.clear()
            phases = self._programs[key] = self._stage_programs(ops, channels)
        return self._finish(ops, phases, start_cycle)

    def _stage_programs(self, ops: list[Op], channels: np.ndarray | None) -> dict[str, object]:
        """The programs of a stage by phase and channel (each channel's requests concatenated)."""
        attn = [op for op in ops if op.kind in PHASE_OF]
        requests = sorted({op.request if op.request is not None else i for i, op in enumerate(attn)})
        lens = {}
        for i, op in enumerate(attn):
            lens[op.request if op.request is not None else i] = op.dims["kv_len"]
        if self.spec.kv_placement == "trace" and channels is not None and len(channels):
            channels = np.asarray(channels, dtype=np.int64)
            if channels.max() >= self.channels:
                raise ConfigError(f"ch_idx {int(channels.max())} but the PIM memory has {self.channels} channels; "
                                  f"allowed: 0 to {self.channels - 1} (or kv_placement other than trace)",
                                  key="trace")
            where = {r: int(channels[r]) if r < len(channels) else r % self.channels
                     for r in requests}
        else:
            method = "round-robin" if self.spec.kv_placement == "trace" else self.spec.kv_placement
            kv = np.array([lens[r] for r in requests])
            load = None
            if method == "min-load" and attn:
                load = self.request_cycles(kv, attn[0].dims["heads"], attn[0].dims["head_dim"])
            where = dict(zip(requests, mapping.place_kv(kv, self.channels, method, load=load).tolist()))
        phases: dict[str, object] = {"qk": {}, "sv": {}}
        for i, op in enumerate(attn):
            r, d, ph = op.request if op.request is not None else i, op.dims, PHASE_OF[op.kind]
            for c, prog in self.request_programs(ph, d["heads"], d["head_dim"], d["kv_len"], where[r]).items():
                phases[ph].setdefault(c, []).append(prog)
        gemv = [op for op in ops if op.kind == "gemm"]
        if gemv:
            one = mapping.concat([self.program(op) for op in gemv])
            phases["gemv"] = [one] * self.channels
        for op in ops:
            if op.kind == "attention":
                fused = self._fused_programs(op)
                for ph in ("qk", "sv"):
                    for c, progs in fused[ph].items():
                        phases[ph].setdefault(c, []).extend(progs)
        for ph in ("qk", "sv"):
            phases[ph] = {c: mapping.concat(progs) for c, progs in phases[ph].items()}
        return phases

    def _fused_programs(self, op: Op) -> dict[str, dict[int, list]]:
        """A fused decode `attention` op: `batch` requests of mean length kv_sum / batch, round robin (or each
        spread over every channel, kv_layout `spread`)."""
        d = op.dims
        if d.get("q_len", 1) != 1:
            raise ConfigError(f"PIM unit '{self.name}' runs decode attention only (q_len 1), got q_len "
                              f"{d.get('q_len')}", key=self.name)
        b = max(1, d["batch"])
        mean = max(1, round(d["kv_sum"] / b))
        out: dict[str, dict[int, list]] = {"qk": {}, "sv": {}}
        for ph in out:
            for i in range(b):
                for c, prog in self.request_programs(ph, d["heads"], d["head_dim"], mean, i % self.channels).items():
                    out[ph].setdefault(c, []).append(prog)
        return out

    def _fused(self, op: Op) -> OpCost:
        return self._finish([op], self._fused_programs(op), 0.0)

    def _channel(self, prog: dict[str, np.ndarray], start: float) -> tuple[ChannelTime, dict[str, float]]:
        """Span and command counts of one channel's program at the model's level (counts from the state machine
        at command level; they equal mapping.counts)."""
        if self.level == "command":
            ct = bank_machine.run_channel(prog, self.timing, start, refresh=self.refresh)
            return ct, ct.pim_counts
        return channel_time(prog, self.timing, start, refresh=self.refresh), mapping.counts(prog, self.timing)

    def _finish(self, ops: list[Op], phases: dict, start: float) -> OpCost:
        t = self.timing
        now = float(start)
        counts: dict[str, float] = {}
        occupancy = np.zeros(t.channels)
        phase_cycles: dict[str, float] = {}
        busiest = np.zeros(t.channels)
        refreshes = 0
        for name in ("qk", "sv", "gemv"):
            ph = phases.get(name)
            if not ph:
                continue
            items = ph.items() if isinstance(ph, dict) else enumerate(ph)
            ends = [now]
            for c, progs in items:
                prog = mapping.concat(progs) if isinstance(progs, list) else progs
                ct, prog_counts = self._channel(prog, now)
                ends.append(ct.end)
                occupancy[c] += ct.busy
                busiest[c] += ct.busy
                refreshes = max(refreshes, ct.refreshes)
                for k, v in prog_counts.items():
                    counts[k] = counts.get(k, 0.0) + v
            end = max(ends)
            phase_cycles[name] = end - now
            now = end
        cycles = now - start   # refresh commands are the memory's (simulator.memory.traffic), over the whole run
        time_s = cycles * t.tck
        from simulator.lowering.ops import DTYPE_BYTES

        bus = (counts.get("cmd.GWRITE", 0.0) * t.row_elements * DTYPE_BYTES[self.spec.dtype]
               + counts.get("cmd.READRES", 0.0) * t.banks * 2)
        energy = sum(self.energy_table.get(k, 0.0) * v for k, v in counts.items())
        detail = {
            "level": self.level, "pim_cycles": cycles, "pim_cycles_avg": float(occupancy.mean()),
            "phase_cycles": phase_cycles, "channel_occupancy": occupancy.tolist(),
            "channel_utilisation": (occupancy / cycles).tolist() if cycles else [0.0] * t.channels,
            "busiest_channel": int(np.argmax(busiest)), "refreshes": refreshes, "energy_j": energy,
            "energy_method": self.spec.energy_method, "row_buffer": self.spec.row_buffer,
        }
        flops = float(sum(op.flops for op in ops))
        return OpCost(time_s=time_s, cycles=time_s * self.spec.clock, bound="memory", flops=flops, counts=counts,
                      bytes={self.spec.memory: bus}, detail=detail)

    def request_cycles(self, kv_lens: np.ndarray, heads: int, head_dim: int) -> np.ndarray:
        """Estimated PIM cycles of each request's Q.K^T + S.V (summed over the channels it uses): the load the
        min-load KV placement balances."""
        return np.array([self.estimate([length], [0], heads, head_dim).sum() for length in np.asarray(kv_lens)])

    def estimate(self, kv_lens: np.ndarray, channels: np.ndarray, heads: int, head_dim: int) -> np.ndarray:
        """MHA latency estimator for schedulers: per-channel cycles of a batch's Q.K^T + S.V (laid out by
        kv_layout), closed form with the expected refresh cost (no refresh stepping)."""
        t = self.timing
        out = np.zeros(t.channels)
        for length, c in zip(np.asarray(kv_lens).tolist(), np.asarray(channels).tolist()):
            qk, sv = (self.request_programs(ph, heads, head_dim, length, int(c) % t.channels) for ph in ("qk", "sv"))
            for ch in qk.keys() | sv.keys():
                out[ch] += expected_cycles(mapping.concat([p[ch] for p in (qk, sv) if ch in p]), t)
        return out


def make_model(name: str, spec: PimSpec, memory: MemorySpec) -> PimModel:
    return PimModel(name, spec, memory)


def make_command_model(name: str, spec: PimSpec, memory: MemorySpec) -> PimModel:
    """The command level: every PIM command through the per-bank state machine (bank_machine.py)."""
    return PimModel(name, spec, memory, level="command")
