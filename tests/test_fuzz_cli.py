"""Fuzzing the CLI (issue 13): mutated hardware and workload files, request and DRAM traces, argument vectors.

Property (tests/fuzzing.py): exit 0 with strict JSON whose invariants hold, or exit 2 with one line; never a
traceback, never past the time limit. This is the short CI budget; benchmarks/fuzz_cli.py runs the long one.
"""

import shutil
import tempfile
from pathlib import Path

import pytest
from fuzzing import (
    check_property,
    cli_words,
    dram_trace,
    mutated_run,
    request_trace,
    warm_up,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.fixture(scope="module", autouse=True)
def warm():
    warm_up(TMP)
    yield
    shutil.rmtree(TMP, ignore_errors=True)

TMP = Path(tempfile.mkdtemp(prefix="xpusim-fuzz-"))
FUZZ = settings(max_examples=12, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(st.data())
def test_mutated_files(data):
    check_property(data.draw(mutated_run(TMP)))


@FUZZ
@given(st.data())
def test_request_traces(data):
    check_property(data.draw(request_trace(TMP)))


@FUZZ
@given(st.data())
def test_dram_traces(data):
    check_property(data.draw(dram_trace(TMP)))


@FUZZ
@given(cli_words())
def test_argument_vectors(argv):
    check_property(argv)
