"""`simulate collective` on the shipped HGX H100 against measured NCCL bus bandwidth
(../shared/reference/interconnect/README.md: 1 GiB all-reduce, NVLink SHARP off: 329 GB/s on 2 GPUs, 355 on 4)."""

from __future__ import annotations

import pytest

from simulator.cli import ROOT

HGX = str(ROOT / "hwconfigs/hgx-h100.yaml")


@pytest.mark.parametrize("group,measured", [("2", 329.0), ("4", 355.0)])
def test_hgx_h100_all_reduce_busbw_within_15_percent_of_nccl(cli_json, group, measured):
    out = cli_json("collective", HGX, "all-reduce", "--bytes", "1GiB", "--group", group)
    assert out["algorithm"] == "ring" and out["devices"] == int(group)
    assert out["busbw_gbps"] == pytest.approx(measured, rel=0.15)
    assert out["busbw_gbps"] == pytest.approx(out["algbw_gbps"] * 2 * (int(group) - 1) / int(group))
    assert out["time_s"] == pytest.approx(2 ** 30 / (out["algbw_gbps"] * 1e9))


def test_utilisation_is_bytes_over_time_and_line_rate(cli_json):
    out = cli_json("collective", HGX, "all-gather", "--bytes", "256MiB", "--congestion-aware")
    assert out["congestion_aware"] and out["busbw_gbps"] == pytest.approx(out["algbw_gbps"] * 7 / 8)
    up = out["links"]["gpu.0->switch"]
    assert up["bytes"] == pytest.approx(7 / 8 * 2 ** 28)
    assert up["utilisation"] == pytest.approx(up["bytes"] / (out["time_s"] * 450e9))
    assert 0 < out["max_link_utilisation"] <= 1
