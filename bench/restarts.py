"""Rolling restarts under load (`python -m bench restarts --duration 600`).

Four `clearnode start` validators on loopback take a steady load of trade batches
while each is restarted in turn, SIGTERM and kill -9 alternating, for at least
`--duration` seconds; the run fails (AssertionError, its figures on stderr) if a
batch answered 202 is lost or committed twice, a node charges a peer an offence or
bans it, blocks or roots differ, a restart takes longer than `CATCH_UP_S` to catch
up, or a node does not reconnect; a failed run keeps its nodes' homes and logs.
Figures: restarts, start-up and catch-up time after each, batches accepted and
refused (a node restarting or catching up), lost, bans and offences.
"""

from __future__ import annotations

import argparse
from typing import Any

import trio

from bench._checked import run_checked
from tests.node.restarts import check_rolling_restarts, get_figures, run_rolling_restarts


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench restarts")
    parser.add_argument("--duration", type=float, default=120, help="seconds of restarts")
    parser.add_argument("--rate", type=int, default=20, help="batches submitted per second")
    args = parser.parse_args(argv)
    return run_checked(
        "bench-restarts-",
        lambda base: trio.run(run_rolling_restarts, base / "net", 1, args.duration, args.rate),
        lambda result: {"duration_s": args.duration, **get_figures(result)},
        check_rolling_restarts,
    )
