"""A movable clock (tests/node/clocks.py) moves a running process's wall clock and back,
its monotonic clock untouched: what `python -m bench isolation --clock-off` skews a
validator with mid-run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.node.clocks import FAKETIME, NO_FAKETIME, MovableClock

READER = """
import json, sys, time
for _ in range(2):
    line = sys.stdin.readline()  # the test moved the clock (or not) and waited
    print(json.dumps([time.time(), time.monotonic()]), flush=True)
"""
SETTLE_S = 2.2
"""libfaketime reads the file again once its copy is over a second old (two, counted in
whole seconds)."""


@pytest.mark.skipif(not FAKETIME.exists(), reason=NO_FAKETIME)
def test_a_running_process_clock_moves_ahead_and_back(tmp_path: Path) -> None:
    clock = MovableClock(tmp_path / "offset")
    reader = subprocess.Popen(
        [sys.executable, "-c", READER], env={**os.environ, **clock.env},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert reader.stdin is not None and reader.stdout is not None
    offsets, monotonic = [], []
    for seconds in (30, 0):
        clock.set(seconds)
        time.sleep(SETTLE_S)
        reader.stdin.write("\n")
        reader.stdin.flush()
        wall, mono = json.loads(reader.stdout.readline())
        offsets.append(round(wall - time.time()))
        monotonic.append(mono)
    reader.wait(timeout=10)
    assert offsets == [30, 0]
    assert SETTLE_S <= monotonic[1] - monotonic[0] < SETTLE_S + 5
