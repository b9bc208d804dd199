"""Pruning benchmark: what the configuration in force weighs after a listing template
rolled for a long time, with and without the prune of settled instruments.

The example genesis with a daily template (``--series`` series listed at once, each with
a ladder of ``--strikes`` strikes each side, a call and a put at each) rolls for
``--periods`` days, two blocks a day. The same chain runs with the genesis's
``settled_instrument_retention_ms`` at ``--retention-days`` and at a retention no chain
reaches (nothing pruned). Figures: the configuration's bytes (the state root's leaf,
carried whole by every report), a snapshot's bytes and the instruments in force, for each;
``unpruned_bytes_per_period`` is what the configuration grew by each day without pruning.
Margining is off: the risk arrays of thousands of instruments would take the time (they
are one more reason to prune, not what is measured here).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from clearing.governance.configuration import encode_configuration
from clearing.transition.snapshot import encode_snapshot
from configs import EXAMPLE_GENESIS
from devnet.sandbox import Sandbox

DAY_MS = 86_400_000
GENESIS = EXAMPLE_GENESIS
NEVER_MS = 2**63


def build_doc(series: int, strikes: int, retention_ms: int) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(GENESIS.read_text())
    first_expiry = doc["genesis_time_ms"] + DAY_MS + 8 * 3_600_000
    doc["listing_templates"] = [{
        "id": "BTC-DAILY", "prefix": "BTC-D", "cycle": "periodic", "series": series,
        "first_expiry_ms": first_expiry, "period_ms": DAY_MS,
        "future": {"underlying": "BTC", "index_feed": "BTC/0.001", "contract_size": "0.001",
                   "tick_size": 100, "price_band_bps": 500, "fee_bps": 5, "settlement": "cash"},
        "ladder": {"strikes_each_side": strikes, "spacing": 1_000_000, "strike_unit": 1000,
                   "tick_size": 10, "price_band_bps": 5000, "fee_bps": 3, "settlement": "cash"},
    }]  # fmt: skip
    doc["risk"] = {}
    doc["settled_instrument_retention_ms"] = retention_ms
    return doc


def roll(doc: dict[str, Any], periods: int) -> dict[str, int]:
    box = Sandbox.from_genesis_doc(doc)
    box.block_interval_ms = DAY_MS // 2
    for _ in range(2 * periods):
        box.apply([])
    return {
        "configuration_bytes": len(encode_configuration(box.state.genesis)),
        "snapshot_bytes": len(encode_snapshot(box.state)),
        "instruments": len(box.state.instruments),
    }


def run(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m bench pruning")
    parser.add_argument("--periods", type=int, default=365)
    parser.add_argument("--series", type=int, default=2)
    parser.add_argument("--strikes", type=int, default=5)
    parser.add_argument("--retention-days", type=int, default=7)
    args = parser.parse_args(argv)
    pruned = roll(build_doc(args.series, args.strikes, args.retention_days * DAY_MS), args.periods)
    unpruned = roll(build_doc(args.series, args.strikes, NEVER_MS), args.periods)
    start = roll(build_doc(args.series, args.strikes, NEVER_MS), 1)
    return {
        "periods": args.periods,
        "series": args.series,
        "strikes_each_side": args.strikes,
        "retention_days": args.retention_days,
        **{f"pruned_{k}": v for k, v in pruned.items()},
        **{f"unpruned_{k}": v for k, v in unpruned.items()},
        "unpruned_bytes_per_period": round(
            (unpruned["configuration_bytes"] - start["configuration_bytes"]) / (args.periods - 1)
        ),
    }
