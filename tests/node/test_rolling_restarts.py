"""Operators restart validators every day: a 4-validator network of `clearnode start`
processes under a steady load of trade batches, each validator restarted in turn,
alternately with SIGTERM and kill -9 (two of each). Afterwards every node is connected to every
other, no node charged a peer an offence (let alone banned it), all committed the same
blocks with the same roots, every batch answered 202 committed exactly once, and each
restart caught up within seconds.

`python -m bench restarts --duration S` runs the same for longer (every validator
restarted both ways, round after round) and prints its figures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.node.restarts import check_rolling_restarts, get_figures, run_rolling_restarts

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]


async def test_rolling_restarts_under_load_lose_nothing_and_ban_nobody(tmp_path: Path) -> None:
    run = await run_rolling_restarts(tmp_path / "net", rounds=1)
    print("rolling restarts:", get_figures(run))
    print("start s:", [round(s, 2) for s in run.start_s])
    print("catch-up s:", [round(s, 2) for s in run.catch_up_s])
    assert run.restarts == 4
    check_rolling_restarts(run)
    assert len(run.accepted) >= 20, "the load did not flow during the restarts"
