"""Invariants of trading, run through process_block on random blocks of trades,
price moves and time jumps (funding intervals, expiry):

- flat book: for every instrument the lots of all sub-accounts sum to zero and
  open interest equals the long lots;
- value conservation: cash + fee pool + insurance fund + default fund is the
  same after every block (trades, variation margin, funding and expiry only
  move value; rounding never creates it);
- netting algebra: the order of a sub-account's trades changes neither its
  final position, nor realised + unrealised PnL, nor its cash.
"""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.state import ClearingState
from clearing.transition.trade import Trade
from devnet.sandbox import Sandbox
from tests.clearing.test_trade import make_batch, trading_box

BOX, MEMBERS = trading_box(count=4)
INSTRUMENTS = ["BTC-PERP", "ETH-PERP", "BTC-26DEC26", "BTC-26DEC26-65000-C"]
FEEDS = {"BTC-PERP": "BTC/0.001", "ETH-PERP": "ETH/0.01"}
DAY = 86_400_000


def fresh_box() -> Sandbox:
    return Sandbox(BOX.genesis, copy.deepcopy(BOX.state), BOX.validator_keys)


def value(state: ClearingState) -> int:
    held = sum(a.cash for m in state.members.values() for a in m.sub_accounts.values()) + sum(
        m.default_fund for m in state.members.values()
    )
    return held + state.fee_pool + state.insurance_fund - sum(state.settlement_reserves.values())


def lots(state: ClearingState, instrument_id: str) -> list[int]:
    return [
        a.positions[instrument_id].quantity
        for m in state.members.values()
        for a in m.sub_accounts.values()
        if instrument_id in a.positions
    ]


trade_row = st.tuples(
    st.integers(0, 3),  # buyer
    st.integers(0, 1),  # buyer sub-account
    st.integers(0, 3),  # seller
    st.integers(0, 1),  # seller sub-account
    st.integers(0, len(INSTRUMENTS) - 1),
    st.integers(-60, 60),  # distance from the mark in permille (beyond 50 outside the band)
    st.integers(1, 25),  # lots
)
prices = st.tuples(
    st.just("prices"),
    st.lists(st.integers(-400, 400), min_size=4, max_size=4),  # mark moves, bps
    st.integers(-200, 200),  # index move, bps
)
block = st.tuples(
    st.sampled_from([1_000, 3_600_000, 9_000_000, 40 * DAY]),  # block time advance
    # trades and price updates in any order within the block (or an empty block)
    st.lists(
        st.one_of(st.tuples(st.just("trades"), st.lists(trade_row, min_size=1, max_size=8)),
                  prices),
        max_size=3,
    ),
)  # fmt: skip


def build_tx(box: Sandbox, op: tuple, next_trade_id: int, k: int) -> object:  # type: ignore[type-arg]
    """The block's `k`th transaction; a price update observed `k` ms after the block's time,
    so that each of a block's updates is newer than the one before it."""
    state = box.state
    if op[0] == "prices":
        moves, index_move = op[1], op[2]
        marks = {i: max(1, state.mark_prices[i] * (10_000 + m) // 10_000) for i, m in
                 zip(INSTRUMENTS, moves, strict=True) if i in state.mark_prices}  # fmt: skip
        index = {f: max(1, state.index_prices[f] * (10_000 + index_move) // 10_000)
                 for f in FEEDS.values()}  # fmt: skip
        return box.prices(index, marks, observed_ms=box.next_context().time_ms + k)
    trades = []
    for n, (b, bs, s, ss, i, permille, q) in enumerate(op[1]):
        instrument = state.instruments.get(INSTRUMENTS[i])
        price = 1  # a pruned instrument (expired, settled, retained): refused as unknown
        if instrument is not None:
            tick, mark = instrument.tick_size, state.mark_prices[instrument.id]
            price = max(tick, (mark + mark * permille // 1_000) // tick * tick)
        trades.append(
            Trade(next_trade_id + n, INSTRUMENTS[i], MEMBERS[b].address, bs,
                  MEMBERS[s].address, ss, price, q)
        )  # fmt: skip
    return make_batch(box, trades, batch_id=next_trade_id)


@settings(max_examples=150)
@given(st.lists(block, min_size=1, max_size=8))
def test_book_stays_flat_and_value_is_conserved(blocks: list[tuple]) -> None:  # type: ignore[type-arg]
    box = fresh_box()
    start = value(box.state)
    for n, (advance, ops) in enumerate(blocks):
        box.block_interval_ms = advance
        txs = [build_tx(box, op, 100 * (3 * n + k), k) for k, op in enumerate(ops)]
        result = box.apply(txs)  # type: ignore[arg-type]
        assert all(r.is_ok() for r in result.tx_results), result.tx_results
        state = box.state
        for instrument_id in INSTRUMENTS:
            held = lots(state, instrument_id)
            assert sum(held) == 0, (instrument_id, held)
            assert state.open_interest.get(instrument_id, 0) == sum(q for q in held if q > 0)
            if (
                instrument_id not in state.instruments
                or instrument_id in state.final_settlement_prices
            ):
                assert held == []
        assert value(state) == start


fills = st.lists(
    st.tuples(st.integers(1, 3), st.booleans(), st.integers(-40, 40), st.integers(1, 30)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40)
@given(fills, st.randoms(use_true_random=False), st.integers(-50, 50))
def test_order_of_a_sub_accounts_trades_does_not_change_its_outcome(
    rows: list[tuple[int, bool, int, int]], rng: object, mark_ticks: int
) -> None:
    """Member 0 trades against 1..3; the same trades in another order, same result."""
    shuffled = list(rows)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    outcomes = []
    for order in (rows, shuffled):
        box = fresh_box()
        state = box.state
        mark = state.mark_prices["BTC-PERP"]
        trades = [
            Trade(n, "BTC-PERP",
                  *((MEMBERS[0].address, 0, MEMBERS[c].address, 0) if buy
                    else (MEMBERS[c].address, 0, MEMBERS[0].address, 0)),
                  mark + 100 * ticks, q)
            for n, (c, buy, ticks, q) in enumerate(order)
        ]  # fmt: skip
        box.apply([make_batch(box, trades)])
        final_mark = mark + 100 * mark_ticks
        account = state.members[MEMBERS[0].address].sub_accounts[0]
        p = account.positions["BTC-PERP"]
        final_mark = mark + 100 * mark_ticks
        exact = sum((q if buy else -q) * (final_mark - (mark + 100 * t)) for _, buy, t, q in rows)
        # realised + unrealised is the exact PnL of the whole history, in any order
        assert p.realised_pnl + p.quantity * (final_mark - p.average_entry_price) == exact
        outcomes.append((p.quantity, account.cash))
    assert outcomes[0] == outcomes[1]
