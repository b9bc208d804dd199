"""Ledger benchmark: clearing trades through the production trade path.

``trades_per_s``: trades cleared per second (wall clock) by
``process_verified_trade_batch``, the part of ``process_trade_batch`` after its
one Ed25519 check per batch: every per-trade check including the pre-trade
margin hook, novation, netting, fees, open interest and state writes. Over
``--trades`` random trades among ``--members`` members and ``--instruments``
perpetuals, one core. ``trades_per_cpu_s``: the same per second of this
process's CPU time, which a busy shared machine disturbs less.
``bytes_per_position``: traced memory (tracemalloc) of the book's position
records rebuilt as the state holds them (record, ints, dict slot), per record.
``mtm_s`` / ``funding_s``: one end-of-block variation-margin and funding pass
over the resulting book. ``margin_calls_s`` / ``liquidation_s``: the margin-call
and liquidation steps of that block (new marks, so every IM is computed afresh)
where nobody is below IM: the common block. Members keep 10**15 of cash unless
``--cash-im-multiple N`` sets each sub-account's cash to N times its IM (plus 1 USD)
before (the scans' IM bound then rarely spares the scenario vector of a hedged book).
``previous_release_trades_per_s``: ``trades_per_s`` of the previous release's code
(``PREVIOUS_RELEASE``) at the defaults, beside today's, so a slower ledger shows.
``--profile FILE`` writes where the trade path's time goes (bench/_profile.py: the
functions of most own time, with their cumulative share); the profiler slows the run,
so its ``trades_per_s`` is not the bench's figure.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench._profile import profiled
from clearing.context import BlockContext
from clearing.default.margin_call import process_margin_calls
from clearing.default.steps import process_liquidation_step
from clearing.genesis import parse_genesis
from clearing.risk.engine import get_account_initial_margin
from clearing.settlement import process_mark_to_market
from clearing.state import ClearingState, Member, Position, SubAccount, initialize_state
from clearing.transition.funding import process_funding
from clearing.transition.trade import (
    Trade,
    TradeBatch,
    process_verified_trade_batch,
    sign_trade_batch,
)
from clearnode.client.sandbox_keys import derive_ed25519_key
from configs import EXAMPLE_GENESIS
from node.gc_policy import set_gc_policy

VENUE = "alpha"
BASE_PRICE = 60_000_000
TICK = 100
ONE_USD = 1_000_000


PREVIOUS_RELEASE = ("0.1.0", 23_740)
"""The previous release and its ``trades_per_s`` at the defaults (margin on): its code
run on the 2-core development machine, nothing else running, in the same minute as
the figure CHANGELOG.md gives for 0.2.0 (55,071)."""

GENESIS = EXAMPLE_GENESIS


def build_genesis_doc(instruments: int, margin: bool) -> dict[str, Any]:
    """The example genesis with ``instruments`` BTC-like perpetuals instead of its own;
    without ``margin`` its risk section is emptied, so only the ledger itself is timed."""
    doc: dict[str, Any] = json.loads(GENESIS.read_text())
    if not margin:
        doc["risk"] = {}
    template = doc["instruments"][0]
    doc["instruments"] = [{**template, "id": f"PERP-{n:02d}"} for n in range(instruments)]
    doc["mark_prices"] = {f"PERP-{n:02d}": BASE_PRICE for n in range(instruments)}
    doc["index_prices"].pop("ETH/0.01")
    return doc


def build_state(members: int, instruments: int, margin: bool) -> tuple[ClearingState, list[bytes]]:
    """A state with ``members`` members, each with cash and venue alpha authorised."""
    state = initialize_state(parse_genesis(build_genesis_doc(instruments, margin)))
    addresses = [n.to_bytes(20, "big") for n in range(1, members + 1)]
    for address in addresses:
        state.members[address] = Member(address, {0: SubAccount(10**15)}, {VENUE})
    return state, addresses


def build_batches(
    rng: random.Random, addresses: list[bytes], instruments: int, trades: int, size: int
) -> list[TradeBatch]:
    key = derive_ed25519_key("venue-alpha")
    ids = [f"PERP-{n:02d}" for n in range(instruments)]
    out = []
    for batch_id, start in enumerate(range(0, trades, size)):
        rows = []
        for trade_id in range(start, min(trades, start + size)):
            buyer, seller = rng.sample(addresses, 2)
            price = BASE_PRICE + TICK * rng.randint(-100, 100)
            quantity = rng.randint(1, 10)
            rows.append(Trade(trade_id, rng.choice(ids), buyer, 0, seller, 0, price, quantity))
        # The run clears verified batches (process_verified_trade_batch): no time is read.
        out.append(sign_trade_batch(key, 4242, VENUE, batch_id, tuple(rows), 1 << 40, 1 << 40))
    return out


def count_open_positions(state: ClearingState) -> int:
    accounts = (a for m in state.members.values() for a in m.sub_accounts.values())
    return sum(1 for a in accounts for p in a.positions.values() if p.quantity)


def measure_bytes_per_position(state: ClearingState) -> float:
    """Traced bytes per position record, rebuilt into per-sub-account dicts as the
    state holds them: the record, its own ints (quantity, entry, realised PnL are
    computed per position; settlement price and funding index are the shared
    mark and index objects) and its dict slot. Small ints are interned, as in state.
    """
    book = [
        list(account.positions.items())
        for member in state.members.values()
        for account in member.sub_accounts.values()
    ]
    count = sum(len(items) for items in book)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    rebuilt = [
        {
            i: Position(
                int(str(p.quantity)),
                int(str(p.average_entry_price)),
                p.settlement_price,
                int(str(p.realised_pnl)),
                p.funding_index,
            )
            for i, p in items
        }
        for items in book
    ]
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    # The outer list is the harness, not the state: one pointer per sub-account.
    used -= 8 * len(rebuilt)
    return round(used / max(count, 1), 1)


def run(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m bench ledger")
    parser.add_argument("--trades", type=int, default=200_000)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--instruments", type=int, default=50)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--cash-im-multiple", type=int, default=0)
    parser.add_argument("--profile", type=Path, help="write the trade path's profile here")
    parser.add_argument(
        "--margin",
        choices=("on", "off"),
        default="on",
        help="on: the production path with the pre-trade margin check; off: the ledger alone",
    )
    args = parser.parse_args(argv)
    set_gc_policy()  # as `clearnode start` does: the node's path
    rng = random.Random(args.seed)
    state, addresses = build_state(args.members, args.instruments, args.margin == "on")
    batches = build_batches(rng, addresses, args.instruments, args.trades, args.batch)
    ctx = BlockContext(1, state.time_ms + 1_000, state.chain_id)

    elapsed = cpu = 0.0
    rejected = 0
    with profiled(args.profile):
        for batch in batches:
            start, start_cpu = time.perf_counter(), time.process_time()
            events = process_verified_trade_batch(state, ctx, batch)
            elapsed += time.perf_counter() - start
            cpu += time.process_time() - start_cpu
            summary = events[-1]
            rejected += int(summary.get("rejected"))
    positions = count_open_positions(state)
    if args.cash_im_multiple:
        for member in state.members.values():
            for account in member.sub_accounts.values():
                im = get_account_initial_margin(state, account)
                account.cash = args.cash_im_multiple * im + ONE_USD  # funding rounds against it
    for instrument_id in state.mark_prices:
        state.mark_prices[instrument_id] = BASE_PRICE + 10 * TICK
    start = time.perf_counter()
    process_mark_to_market(state, ctx)
    mtm_s = time.perf_counter() - start
    hour_later = replace(ctx, time_ms=state.genesis.genesis_time_ms + 3_600_000)
    start = time.perf_counter()
    process_funding(state, hour_later)
    funding_s = time.perf_counter() - start
    start = time.perf_counter()
    assert process_margin_calls(state, hour_later) == []
    margin_calls_s = time.perf_counter() - start
    start = time.perf_counter()
    assert process_liquidation_step(state, hour_later) == []
    liquidation_s = time.perf_counter() - start
    flat = all(
        sum(a.positions[i].quantity for m in state.members.values()
            for a in m.sub_accounts.values() if i in a.positions) == 0
        for i in state.instruments
    )  # fmt: skip
    return {
        "margin": args.margin,
        "trades": args.trades,
        "members": args.members,
        "instruments": args.instruments,
        "rejected": rejected,
        "trades_per_s": round(args.trades / elapsed),
        "previous_release": PREVIOUS_RELEASE[0],
        "previous_release_trades_per_s": PREVIOUS_RELEASE[1],
        "trades_per_cpu_s": round(args.trades / cpu),
        "open_positions": positions,
        "bytes_per_position": measure_bytes_per_position(state),
        "mtm_s": round(mtm_s, 3),
        "funding_s": round(funding_s, 3),
        "cash_im_multiple": args.cash_im_multiple,
        "margin_calls_s": round(margin_calls_s, 3),
        "liquidation_s": round(liquidation_s, 3),
        "book_flat": flat,
    }
