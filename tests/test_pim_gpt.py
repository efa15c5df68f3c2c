"""The PIM-GPT system runs end to end for every GPT-2 size and GPT-3 XL, and its report is regenerated."""

from simulator.pim import gpt_report


def test_report_rows_and_markdown(tmp_path):
    table = gpt_report.rows()
    assert [r["model"] for r in table] == list(gpt_report.MODELS)
    for r in table:
        assert r["pim_us"] > 0 and r["pim_mj"] > 0
        assert abs(r["h100_speedup"] - r["h100_us"] / r["pim_us"]) < 1e-9 * r["h100_speedup"]
    # bigger models take longer on PIM: latency follows weight bytes over in-bank bandwidth
    gpt2 = [r["pim_us"] for r in table if r["model"].startswith("gpt2")]
    assert gpt2 == sorted(gpt2)
    out = tmp_path / "pim_gpt.md"
    gpt_report.main(["--out", str(out)])
    assert "gpt2-xl" in out.read_text()
