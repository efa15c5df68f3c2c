"""The GPU as the kernel models see it: derived rates in SI units, and the streaming and launch terms they share.

    sustained HBM bandwidth  B_hbm = peak_bandwidth x efficiency          (memory preset)
    one CTA's stream rate    b_cta = sm_bytes_in_flight / latency         (Little's law)
    a streaming pass         t = latency + max(DRAM bytes / B_hbm, bytes / min(B_l2, ctas x b_cta))
    a kernel in a graph      t_kernel = launch_overhead + work
    a kernel launched eagerly adds eager_launch_gap; an eagerly timed call adds eager_call_overhead once.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.gpu.spec import GpuSpec
from simulator.memory.spec import MemorySpec

LaunchMode = str  # "graph" (CUDA graph: no host gaps) or "eager" (one host launch per kernel)
LAUNCH_MODES = ("graph", "eager")
STREAM_CTAS_PER_SM = 4   # resident CTAs of a streaming kernel per SM (2048 threads / 512-thread CTAs)


@dataclass(frozen=True)
class Machine:
    """Derived, SI-unit view of a GpuSpec and its memory, computed once per GpuModel."""

    spec: GpuSpec
    hbm_bw: float          # sustained HBM bandwidth, B/s
    hbm_peak: float        # peak HBM bandwidth, B/s
    capacity: float        # HBM bytes
    hbm_j_per_bit: float = 0.0   # memory energy per bit moved (power model)
    rotation: float = 0.0        # bytes of input sets a benchmark cycles its calls through (0: a step, where an
                                 # op's inputs are what the op before it just wrote)

    @classmethod
    def build(cls, spec: GpuSpec, memory: MemorySpec) -> Machine:
        return cls(spec, memory.peak_bandwidth * memory.efficiency, memory.peak_bandwidth, memory.capacity_bytes,
                   memory.energy_per_bit)

    @property
    def sms(self) -> int:
        return self.spec.sms

    @property
    def l2_bw(self) -> float:
        return self.spec.l2_bandwidth

    def latency(self, in_l2: bool) -> float:
        """Latency of a kernel's first loads: an L2 hit (`in_l2`), else DRAM with the memory system idle."""
        s = self.spec
        return s.l2_latency if in_l2 else (s.idle_memory_latency or s.memory_latency)

    def cta_stream_bw(self, in_l2: bool = False) -> float:
        """Bytes/s one CTA streams when it alone keeps `sm_bytes_in_flight` outstanding (DRAM under load)."""
        return self.spec.sm_bytes_in_flight / (self.spec.l2_latency if in_l2 else self.spec.memory_latency)

    def fits_l2(self, nbytes: float) -> bool:
        """Whether a working set stays in L2 between kernels (half the L2: the rest holds other lines)."""
        return nbytes <= 0.5 * self.spec.l2_size

    def stream_time(self, read: float, write: float, ctas: float, in_l2: bool = False) -> float:
        """One streaming pass reading `read` and writing `write` bytes over `ctas` CTAs (all resident at once or
        in waves). Every byte crosses L2; unless the operands are in L2 (`in_l2`: just written and they fit), every
        byte crosses DRAM too (the writes as the write-back of the dirty lines that the stream evicts):

            t = latency + max(DRAM bytes / B_hbm, bytes / min(B_l2, CTAs x b_cta))
        """
        nbytes = read + write
        if nbytes <= 0:
            return 0.0
        dram = 0.0 if in_l2 else nbytes
        parallel = min(max(ctas, 1.0), self.sms * STREAM_CTAS_PER_SM)
        rate = min(self.l2_bw, parallel * self.cta_stream_bw(in_l2))
        return self.latency(in_l2) + max(dram / self.hbm_bw, nbytes / rate)

    def dram_bytes(self, read: float, write: float, in_l2: bool) -> float:
        """Bytes a streaming pass moves across DRAM: its writes (written back sooner or later), and its reads
        unless they are in L2."""
        return (0.0 if in_l2 else read) + write

    def residency(self, footprint: float) -> float:
        """Fraction of a kernel's operands found in L2 when the data cycled through L2 between their last use and
        this one is `footprint` bytes: all up to half the L2, none from the whole L2, linearly between (the rest
        of the L2 holds other lines; measured with rotated input sets: tests/data/gpu_h100/smallops.csv)."""
        half = 0.5 * self.spec.l2_size
        return min(1.0, max(0.0, 2.0 - footprint / half))

    def launch(self, kernels: int, mode: LaunchMode) -> float:
        """Fixed time of `kernels` kernels: start-up and tail each; eager launches add host gaps."""
        s = self.spec
        t = kernels * s.launch_overhead
        if mode == "eager":
            t += kernels * s.eager_launch_gap + s.eager_call_overhead
        return t
