"""Validators in four regions, on each engine (`python -m bench wan`): what `bench network`
measures on loopback, measured again with every link between validators as far as
the regions are apart, side by side from the same run.

Validator i stands in region i mod 4; the links' round trips are
tests/node/wan.py's `REGION_ROUND_TRIPS_MS` (30 / 80 / 150 / 220 ms between regions,
2 ms within one), with `--jitter-ms` of jitter and `--loss` of segments lost, each link
a proxy in a process of its own (`cpu_link_proxies`: its share of one core). The
venue's batches reach each validator over loopback, as a venue beside each would send
them. The WAN ramp's bound is `--max-p50-ms` (1,000 ms); the loopback run keeps
`bench network`'s 300 ms. Each engine's line holds `loopback` and `wan`, each with the
highest sustained trades/s, its commit p50 and p99, the empty blocks' pace before the
load (`idle_heights_per_s`) and the bytes sent per committed byte.

    python -m bench wan [--engine both|clearnode|cometbft] [--validators 4]
        [--max-p50-ms 1000] [--jitter-ms 5] [--loss 0.005] [--start 500]
        [--step-seconds 8] [--bisect 2] [--batch 250] [--no-loopback] [--keep DIR]
"""

from __future__ import annotations

import argparse
from functools import partial
from typing import Any

import trio

from bench.network import add_ramp_arguments, hold_homes, measure
from clearing.genesis import ENGINES
from tests.node.wan import Mesh, get_region_link

IN_ALL = False
"""Four ramps of minutes each: run when named."""
LOOPBACK_P50_MS = 300.0
"""`bench network`'s bound, for the loopback figures beside the WAN's."""


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench wan")
    add_ramp_arguments(parser, start=500, max_p50_ms=1000.0)
    parser.add_argument("--jitter-ms", type=float, default=5.0, help="each link's jitter")
    parser.add_argument("--loss", type=float, default=0.005, help="segments lost, a share")
    parser.add_argument("--no-loopback", action="store_true", help="the WAN alone")
    args = parser.parse_args(argv)
    args.profile_node = args.profile_cometbft = None  # bench network's alone
    loopback = argparse.Namespace(**{**vars(args), "max_p50_ms": LOOPBACK_P50_MS})
    engines = ENGINES if args.engine == "both" else (args.engine,)
    results: dict[str, Any] = {"links": {"jitter_ms": args.jitter_ms, "loss": args.loss}}
    for engine in engines:
        results[engine] = {}
        if not args.no_loopback:
            results[engine]["loopback"] = run_one(loopback, engine, None)
        mesh = Mesh(partial(get_region_link, jitter_ms=args.jitter_ms, loss=args.loss))
        results[engine]["wan"] = run_one(args, engine, mesh)
    return results


def run_one(args: argparse.Namespace, engine: str, mesh: Mesh | None) -> dict[str, Any]:
    where = "wan" if mesh else "loopback"
    with hold_homes(args, f"wan-{engine}-{where}") as base:
        return trio.run(measure, args, base, engine, mesh)
