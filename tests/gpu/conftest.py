import pytest

from simulator.studies.gpu_validation import load_models, reference_dir


@pytest.fixture(scope="session")
def h100():
    """Eager and graph models of hwconfigs/h100.yaml."""
    return load_models()


@pytest.fixture(scope="session")
def reference():
    ref = reference_dir()
    if not (ref / "calibration_gemm_llama2_7b.csv").is_file():
        pytest.skip(f"H100 reference data not found at {ref} (set XPUSIM_H100_REFERENCE)")
    return ref
