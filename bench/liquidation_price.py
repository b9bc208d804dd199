"""Liquidation-price benchmark: the account query's search over the engine's check.

``<book>_ms``: wall time of ``clearing.risk.engine.get_member_risk`` (equity, IM,
MM and every position's liquidation price) for one sub-account of the example
genesis, median of ``--repeat`` runs; ``<book>_rebuilds``: how many times the
search rebuilt risk arrays at a moved mark. Books: ``perp_long`` / ``perp_short``
(100 lots of BTC-PERP), ``future_short`` (30 lots of the dated future),
``option_hedged`` (20 calls bought, 20 futures sold: each search over the
future's mark revalues the calls with Black-76 in every scenario).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import clearing.risk.engine as engine
from clearing.state import Position
from clearnode.client.sandbox_keys import derive_member_key
from configs import EXAMPLE_GENESIS
from devnet.sandbox import Sandbox

USDC = (31337, bytes.fromhex("00000000000000000000000000000000000000a1"))
BOOKS = {
    "perp_long": {"BTC-PERP": 100},
    "perp_short": {"BTC-PERP": -100},
    "future_short": {"BTC-26DEC26": -30},
    "option_hedged": {"BTC-26DEC26-65000-C": 20, "BTC-26DEC26": -20},
}


def run(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m bench liquidation_price")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    figures: dict[str, object] = {}
    rebuilds = 0
    rebuild = engine.get_moved_risk_arrays

    def counted(*call: object) -> object:
        nonlocal rebuilds
        rebuilds += 1
        return rebuild(*call)  # type: ignore[arg-type]

    engine.get_moved_risk_arrays = counted  # type: ignore[assignment]
    try:
        for name, book in BOOKS.items():
            box = Sandbox.from_genesis_doc(json.loads(EXAMPLE_GENESIS.read_text()))
            member = derive_member_key(f"bench-{name}")
            box.apply([box.credit(member.address, USDC, 2_500_000_000)])
            account = box.state.members[member.address].sub_accounts[0]
            for iid, lots in book.items():
                mark = box.state.mark_prices[iid]
                account.positions[iid] = Position(lots, mark, mark, 0, 0)
            times = []
            for _ in range(args.repeat):
                rebuilds = 0
                start = time.perf_counter()
                risk = engine.get_member_risk(box.state, member.address, 0)
                times.append(time.perf_counter() - start)
            assert risk is not None
            figures[f"{name}_ms"] = round(statistics.median(times) * 1000, 2)
            figures[f"{name}_rebuilds"] = rebuilds
    finally:
        engine.get_moved_risk_arrays = rebuild
    return figures
