"""PIM work and normal reads on the same channels slow each other (simulator/pim/contention.py, measured on the
command level): the curves are bounded, start at no effect, and one row buffer (blocked) hurts PIM more than the
dual row buffer."""

from dataclasses import replace

import numpy as np
import pytest

from simulator.cli import ROOT
from simulator.hardware.system import load_system
from simulator.pim.contention import measure


@pytest.fixture(scope="module")
def timing():
    return load_system(ROOT / "hwconfigs/neupims.yaml").model("pim", "transaction").timing


def test_curves_are_bounded_and_start_at_no_effect(timing):
    c = measure(timing)
    assert c.rates[0] == 0 and c.rates[-1] == pytest.approx(1 / max(timing.burst, timing.ccd_s))
    assert c.at(0.0) == (1.0, 1.0)
    assert np.all(c.pim_factor >= 1.0) and np.all(c.read_share <= 1.0) and np.all(c.read_share > 0.5)
    # at the data-bus limit the reads lose a noticeable share to PIM's commands and READRES data
    assert c.read_share[-1] < 0.95


def test_blocked_row_buffer_hurts_pim_more_than_dual(timing):
    dual, blocked = measure(timing), measure(replace(timing, row_buffer="blocked"))
    assert blocked.pim_factor[-1] > dual.pim_factor[-1] + 0.5
    assert dual.pim_factor[-1] < 1.2
