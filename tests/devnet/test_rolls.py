"""The devnet's rolling future through real blocks on the devnet's genesis: the short-
dated future is traded by the market makers' opening and flow trades, expires and
settles; the template lists the next series in that block, whose marks the oracle's
simulator then moves; the watcher's record (devnet/rolls.py) says so."""

from __future__ import annotations

import random

from clearing.oracle import PriceUpdate, sign_price_observation
from clearing.transition.trade import sign_trade_batch
from clearing.transition.tx import encode_tx
from clearnode.client.sandbox_keys import derive_ed25519_key
from devnet.genesis import VENUE_ID, add_rolling_future, build_genesis_template
from devnet.market import (
    ROLLING_LOTS,
    get_flow_trades,
    get_opening_trades,
    get_trade_prices,
    make_members,
)
from devnet.rolls import Rolls
from devnet.sandbox import Sandbox
from node.oracle.sources import SimulatedSource
from tests.devnet.test_margin_calls import CHAIN

PERIOD_MS = 60_000


def start() -> tuple[Sandbox, Rolls, str]:
    doc = build_genesis_template([CHAIN], 1000)
    expiry_ms = doc["genesis_time_ms"] + 10_000
    first = add_rolling_future(doc, expiry_ms, PERIOD_MS)
    box = Sandbox.from_genesis_doc(doc)
    rolls = Rolls()
    rolls.start(box.state)
    return box, rolls, first


def apply(box: Sandbox, rolls: Rolls, txs: list[object]) -> list[str]:
    block = box.apply(txs)  # type: ignore[arg-type]
    assert all(r.is_ok() for r in block.tx_results), block.tx_results
    assert not [e for e in block.get_events() if e.kind == "trade_rejected"]
    lines = [rolls.record(box.state, block.height, e.kind, dict(e.data)) for e in block.events]
    rolls.observe(box.state, block.height)
    return [line for line in lines if line]


def test_the_short_dated_future_rolls_into_a_priced_and_traded_next_series() -> None:
    box, rolls, first = start()
    members = make_members(8)
    usdc = box.genesis.collateral[0].key
    apply(box, rolls, [box.credit(m.address, usdc, 10**12) for m in members[2:4]]
          + [box.authorise(m.key, VENUE_ID) for m in members[2:4]])  # fmt: skip
    assert rolls.get_live(box.state.time_ms) == first
    assert "no series expired" in rolls.get_missing()
    venue = derive_ed25519_key(f"venue-{VENUE_ID}")
    ticks = {i.id: i.tick_size for i in box.state.instruments.values()}
    prices = get_trade_prices(dict(box.state.mark_prices), ticks)
    opening = [t for t in get_opening_trades(members, prices, first) if t.instrument_id == first]
    assert [t.quantity for t in opening] == [ROLLING_LOTS]
    apply(
        box,
        rolls,
        [sign_trade_batch(venue, box.chain_id, VENUE_ID, 1, tuple(opening), *box.get_times())],
    )
    assert rolls.series[first].traded_height == box.state.height
    lines: list[str] = []
    while rolls.get_live(box.state.time_ms) == first:
        lines += apply(box, rolls, [])
    (nxt,) = [s for s in rolls.series if s != first]
    assert lines == [
        f"h{box.state.height} {first} expired and settled at {box.state.mark_prices[first]}",
        f"h{box.state.height} template BTC-ROLLING listed {nxt}",
    ]
    assert rolls.get_live(box.state.time_ms) == nxt
    assert "never priced" in rolls.get_missing()
    # the validators' simulator, following the instruments in force, prices the new series
    when = box.next_context().time_ms
    source = SimulatedSource({"BTC/0.001": 61_000_000}, 7, 5, lambda: when,
                             instruments=lambda: box.state.instruments.values())  # fmt: skip
    marks = source.get_listed_marks(box.state.instruments.values(), when, {"BTC/0.001": 61_000_000})
    observations = tuple(
        sign_price_observation(k, box.chain_id, when, {"BTC/0.001": 61_000_000}, {nxt: marks[nxt]})
        for k in box.validator_keys
    )
    apply(box, rolls, [encode_tx(PriceUpdate(observations))])
    assert "never traded" in rolls.get_missing()
    ticks = {i.id: i.tick_size for i in box.state.instruments.values()}
    prices = get_trade_prices(dict(box.state.mark_prices), ticks)
    # a series no one holds yet is the flow's first trade
    flow = get_flow_trades(members, prices, random.Random(7), 10, nxt, unheld=True)[:1]
    assert flow[0].instrument_id == nxt
    apply(
        box,
        rolls,
        [sign_trade_batch(venue, box.chain_id, VENUE_ID, 2, tuple(flow), *box.get_times())],
    )
    record = rolls.series[nxt]
    assert record.priced_height == box.state.height - 1 == record.listed_height + 1
    assert record.traded_height == box.state.height
    assert rolls.get_missing() == ""
    assert f"listed at h{record.listed_height}" in record.get_line()
    assert "priced by the oracle" in record.get_line() and "traded" in record.get_line()
