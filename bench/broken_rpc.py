"""A validator cut off from a chain's RPC for minutes (`python -m bench broken_rpc`).

Four in-process validators watch a fresh anvil chain; validator 3 reaches it through a
proxy whose requests hang, as over a blackholed link, for `--cut` seconds (the issue's
5 minutes by default). Meanwhile a deposit is credited and a withdrawal signed, paid and
cleared by the other three, and the chain reorganises its last 3 blocks (one deposit
dropped, one mined again). The run fails if anything is credited twice or lost, the
quorum needed the cut-off validator, its status hid the broken link, or a peer was
charged an offence. The test in make test is the same scenario with the cut as short
as its steps (tests/node/bridge/test_broken_rpc_network.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import trio

from bench._checked import run_checked
from tests.node.bridge.broken_rpc import BrokenRpcRun, check_broken_rpc, run_broken_rpc
from tests.node.bridge.support import open_test_chain

IN_ALL = False
"""Five minutes of a broken link: run when named."""


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench broken_rpc")
    parser.add_argument("--cut", type=float, default=300, help="seconds the link is down")
    args = parser.parse_args(argv)

    def run_cut(base: Path) -> BrokenRpcRun:
        with open_test_chain() as (evm, deployed):
            return trio.run(run_broken_rpc, base, evm, deployed, args.cut)

    return run_checked("bench-broken-rpc-", run_cut, BrokenRpcRun.get_figures, check_broken_rpc)
