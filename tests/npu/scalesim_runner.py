"""Run SCALE-Sim v3 (PyPI `scalesim`, a test-only dependency) on one GEMM and return its compute report.

SCALE-Sim 3.0.0 writes reports into a run directory; we give it a temporary one. Its write buffer returns
a 1-element array where a scalar is expected, which NumPy 2 rejects in `int(...)`; we flatten that return
value (a shim around its method, its logic untouched).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

CONFIG = """[general]
run_name = run
[architecture_presets]
ArrayHeight : {rows}
ArrayWidth : {cols}
IfmapSramSzkB : {ifmap_kb}
FilterSramSzkB : {filter_kb}
OfmapSramSzkB : {ofmap_kb}
IfmapOffset : 0
FilterOffset : 10000000
OfmapOffset : 20000000
Dataflow : {dataflow}
Bandwidth : 10
ReadRequestBuffer : 32
WriteRequestBuffer : 32
[layout]
IfmapCustomLayout : False
IfmapSRAMBankBandwidth : 10
IfmapSRAMBankNum : 10
IfmapSRAMBankPort : 2
FilterCustomLayout : False
FilterSRAMBankBandwidth : 10
FilterSRAMBankNum : 10
FilterSRAMBankPort : 2
[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40
[run_presets]
InterfaceBandwidth : CALC
UseRamulatorTrace : False
"""


def _patch_write_buffer() -> None:
    import numpy as np
    import scalesim.memory.write_buffer as wb

    if getattr(wb.write_buffer, "_flat_return", False):
        return
    original = wb.write_buffer.service_writes

    def service_writes(self, *args, **kwargs):
        return np.asarray(original(self, *args, **kwargs)).reshape(-1)

    wb.write_buffer.service_writes = service_writes
    wb.write_buffer._flat_return = True


def run_gemm(M: int, N: int, K: int, dataflow: str, *, rows: int = 128, cols: int = 128, ifmap_kb: int = 1024,
             filter_kb: int = 1024, ofmap_kb: int = 512) -> dict[str, float]:
    """SCALE-Sim's COMPUTE_REPORT row for GEMM M x N x K (ifmap M x K, N filters of length K)."""
    from scalesim.scale_sim import scalesim

    _patch_write_buffer()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "arch.cfg").write_text(CONFIG.format(rows=rows, cols=cols, ifmap_kb=ifmap_kb, filter_kb=filter_kb,
                                                  ofmap_kb=ofmap_kb, dataflow=dataflow))
        (d / "gemm.csv").write_text(f"Layer, M, N, K,\nl0, {M}, {N}, {K},\n")
        (d / "layout.csv").write_text("Layer name,\n")
        with contextlib.redirect_stdout(io.StringIO()):
            sim = scalesim(save_disk_space=True, verbose=False, config=str(d / "arch.cfg"),
                           topology=str(d / "gemm.csv"), layout=str(d / "layout.csv"), input_type_gemm=True)
            sim.run_scale(top_path=str(d))
        row = (d / "run" / "COMPUTE_REPORT.csv").read_text().splitlines()[1]
    values = [v.strip() for v in row.split(",")]
    return {"total_cycles_incl_prefetch": float(values[1]), "total_cycles": float(values[2]),
            "stall_cycles": float(values[3]), "overall_util": float(values[4]), "compute_util": float(values[6])}
