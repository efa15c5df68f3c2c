"""`python -m simulator.studies.gpu_validation` writes the report and the plot."""

from simulator.studies.gpu_validation import main


def test_report_regenerates(tmp_path, reference):
    assert main(["--reference", str(reference), "--out", str(tmp_path)]) == 0
    text = (tmp_path / "validation_h100.md").read_text()
    assert "GEMM, M >= 16" in text and "decode attention" in text
    assert (tmp_path / "validation_h100.png").stat().st_size > 10_000
