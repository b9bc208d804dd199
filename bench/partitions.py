"""Link faults between four validators on four hosts (`python -m bench partitions`).

Four `clearnode start` validators (`--engine clearnode` or `cometbft`), each in a
network namespace of its own joined by one bridge (as tests/node/test_ceremony_hosts.py
makes them; root needed), take a steady load of trade batches while, in turn: a 2|2
split (`--split`, 60 s), validator 0 cut off (`--isolated`, 120 s), a one-way link
(validator 1 hears 0, 0 does not hear 1, `--one-way`, 60 s) and validator 3's link
flapping (down 5 s, up 5 s, `--flapping`, 120 s). The run fails (AssertionError, its
figures on stderr) if a height commits while split, commits take `HEAL_S` or more to
come back after the split heals, a cut-off validator takes `CATCH_UP_S` or more to catch
up, a batch answered 202 is lost or committed twice, a node charges a peer an offence,
or blocks or roots differ; a failed run keeps its nodes' homes and logs. The test in
make test runs the same faults, shorter.
"""

from __future__ import annotations

import argparse
from typing import Any

import trio

from bench._checked import run_checked
from tests.node.partitions import Lengths, check_partitions, get_figures, run_partitions

IN_ALL = False
"""Seven minutes of faults: run when named."""


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench partitions")
    parser.add_argument("--split", type=float, default=60, help="seconds split 2|2")
    parser.add_argument("--isolated", type=float, default=120, help="seconds one is cut off")
    parser.add_argument("--one-way", type=float, default=60, help="seconds of a one-way link")
    parser.add_argument("--flapping", type=float, default=120, help="seconds of flapping")
    parser.add_argument("--flap", type=float, default=5, help="seconds down, then up, a flap")
    parser.add_argument("--engine", choices=["clearnode", "cometbft"], default="clearnode")
    parser.add_argument(
        "--sysctl", action="append", default=[], metavar="KEY=VALUE",
        help="set on each host's kernel, e.g. net.ipv4.tcp_rto_max_ms=2000 (repeatable)",
    )  # fmt: skip
    parser.add_argument("--rate", type=int, default=10, help="batches submitted per second")
    args = parser.parse_args(argv)
    lengths = Lengths(args.split, args.isolated, args.one_way, args.flapping, args.flap)
    sysctls = dict(item.split("=", 1) for item in args.sysctl)
    return run_checked(
        "bench-partitions-",
        lambda base: trio.run(
            run_partitions, base / "net", lengths, args.engine, args.rate, sysctls
        ),
        lambda result: {
            "engine": args.engine,
            "rate": args.rate,
            "sysctls": sysctls,
            **get_figures(result),
        },
        check_partitions,
    )
