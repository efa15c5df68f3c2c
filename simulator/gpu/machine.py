"""The GPU as the kernel models see it: derived rates in SI units, and the streaming and launch terms they share.

    sustained HBM bandwidth  B_hbm = peak_bandwidth x efficiency          (memory preset)
    one CTA's stream rate    b_cta = sm_bytes_in_flight / latency         (Little's law)
    a streaming pass         t = latency + bytes / min(B, ctas x b_cta)
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
        """Load-to-use latency of a load that hits in L2 (`in_l2`) or goes to DRAM."""
        return self.spec.l2_latency if in_l2 else self.spec.memory_latency

    def cta_stream_bw(self, in_l2: bool = False) -> float:
        """Bytes/s one CTA streams when it alone keeps `sm_bytes_in_flight` outstanding."""
        return self.spec.sm_bytes_in_flight / self.latency(in_l2)

    def bandwidth(self, in_l2: bool) -> float:
        return self.l2_bw if in_l2 else self.hbm_bw

    def fits_l2(self, nbytes: float) -> bool:
        """Whether a working set stays in L2 between kernels (half the L2: the rest holds other lines)."""
        return nbytes <= 0.5 * self.spec.l2_size

    def stream_time(self, nbytes: float, ctas: float, in_l2: bool = False, warm: bool = False) -> float:
        """One streaming pass over `nbytes` spread over `ctas` CTAs (all resident at once or in waves); `warm`:
        the first loads hit in L2 (input just written), the stream still runs at the HBM rate."""
        if nbytes <= 0:
            return 0.0
        lat = self.latency(in_l2 or warm)
        parallel = min(max(ctas, 1.0), self.sms * STREAM_CTAS_PER_SM)
        rate = min(self.bandwidth(in_l2), parallel * self.cta_stream_bw(in_l2))
        return lat + nbytes / rate

    def launch(self, kernels: int, mode: LaunchMode) -> float:
        """Fixed time of `kernels` kernels: start-up and tail each; eager launches add host gaps."""
        s = self.spec
        t = kernels * s.launch_overhead
        if mode == "eager":
            t += kernels * s.eager_launch_gap + s.eager_call_overhead
        return t
