"""Rolling restarts under load (`python -m bench restarts --duration 600`).

Four `clearnode start` validators on loopback take a steady load of trade batches
while each is restarted in turn, SIGTERM and kill -9 alternating, for at least
`--duration` seconds; the run fails (AssertionError) if a batch answered 202 is
lost or committed twice, a node bans a peer, roots differ, or a node does not
reconnect. Figures: restarts, catch-up time after each, batches accepted and
refused (a node restarting or catching up), all committed exactly once.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Any

import trio

from tests.node.restarts import run_rolling_restarts


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench restarts")
    parser.add_argument("--duration", type=float, default=120, help="seconds of restarts")
    parser.add_argument("--rate", type=int, default=20, help="batches submitted per second")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as base:
        result = trio.run(run_rolling_restarts, Path(base) / "net", 1, args.duration, args.rate)
    return {
        "duration_s": args.duration,
        "restarts": result.restarts,
        "catch_up_s_p50": round(statistics.median(result.catch_up_s), 2),
        "catch_up_s_max": round(max(result.catch_up_s), 2),
        "batches_accepted": len(result.accepted),
        "batches_refused_while_restarting": result.refused,
    }
