"""Perpetual funding: premium, clamp, cumulative index from genesis, settlement into cash."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearing.context import BlockContext
from clearing.funding import (
    RATE_SCALE,
    compute_due_intervals,
    compute_funding_credit,
    compute_funding_rate,
    compute_premium,
    process_funding,
)
from tests.clearing.test_trade import MARK, PERP, cash, clear, make_trade, position, trading_box

HOUR = 3_600_000


def at(box: object, offset_ms: int) -> BlockContext:
    genesis_ms = box.state.genesis.genesis_time_ms  # type: ignore[attr-defined]
    return replace(box.next_context(), time_ms=genesis_ms + offset_ms)  # type: ignore[attr-defined]


def test_premium_is_relative_distance_of_mark_from_index() -> None:
    assert compute_premium(101, 100) == RATE_SCALE // 100
    assert compute_premium(99, 100) == -RATE_SCALE // 100
    assert compute_premium(100, 100) == 0


def test_rate_truncates_toward_zero_symmetrically() -> None:
    assert compute_premium(7_010, 7_000) == 1_428_571
    assert compute_premium(6_990, 7_000) == -1_428_571


def test_rate_is_clamped_to_the_cap() -> None:
    assert compute_funding_rate(110, 100, 75, HOUR, HOUR) == 75 * RATE_SCALE // 10_000
    assert compute_funding_rate(90, 100, 75, HOUR, HOUR) == -75 * RATE_SCALE // 10_000
    assert compute_funding_rate(110, 100, 0, HOUR, HOUR) == 0


def test_credit_floors_against_the_member() -> None:
    assert compute_funding_credit(1, 0, RATE_SCALE // 2) == -1  # payer pays 0.5 -> 1
    assert compute_funding_credit(-1, 0, RATE_SCALE // 2) == 0  # receiver gets 0.5 -> 0
    assert compute_funding_credit(2, 0, RATE_SCALE) == -2


def test_due_intervals_count_boundaries_from_genesis() -> None:
    assert compute_due_intervals(0, 0, HOUR - 1, HOUR) == 0
    assert compute_due_intervals(0, 0, HOUR, HOUR) == 1
    assert compute_due_intervals(0, HOUR, 3 * HOUR + 5, HOUR) == 2
    assert compute_due_intervals(10, 10, HOUR + 9, HOUR) == 0


def test_no_funding_before_the_first_boundary() -> None:
    box, (a, b, *_) = trading_box()
    clear(box, [make_trade(1, a, b)])
    assert process_funding(box.state, at(box, HOUR - 1)) == []


def test_longs_pay_shorts_when_mark_is_above_index() -> None:
    box, (a, b, *_) = trading_box()
    clear(box, [make_trade(1, a, b, quantity=10)])
    box.state.mark_prices[PERP] = MARK + 60_000  # premium 0.1% = 1_000_000 / 1e9
    a0, b0, pool0 = cash(box, a), cash(box, b), box.state.fee_pool
    events = process_funding(box.state, at(box, HOUR))
    rate = 1_000_000
    per_lot = rate * (MARK + 60_000) // RATE_SCALE  # 60_060 settlement units per lot
    assert cash(box, a) - a0 == -10 * per_lot
    assert cash(box, b) - b0 == 10 * per_lot
    assert box.state.fee_pool == pool0
    funding = [e for e in events if e.kind == "funding"]
    assert [(e.get("instrument"), e.get("rate")) for e in funding] == [
        (PERP, rate),
        ("ETH-PERP", 0),
    ]
    assert position(box, a).funding_index == box.state.funding_indices[PERP]


def test_shorts_pay_longs_and_rounding_residue_goes_to_the_fee_pool() -> None:
    box, (a, b, c, _) = trading_box()
    clear(box, [make_trade(1, a, b, quantity=1), make_trade(2, a, c, quantity=1)])
    box.state.mark_prices[PERP] = MARK - 100  # tiny negative premium
    box.state.index_prices["BTC/0.001"] = MARK
    total0 = sum(cash(box, m) for m in (a, b, c)) + box.state.fee_pool
    process_funding(box.state, at(box, HOUR))
    delta = box.state.funding_indices[PERP]
    assert delta < 0
    # a is long 2 (receives), b and c are short 1 each (pay); each rounds against itself
    assert cash(box, b) - (-30_000) == compute_funding_credit(-1, 0, delta)
    assert cash(box, a) - (-60_000) == compute_funding_credit(2, 0, delta)
    assert sum(cash(box, m) for m in (a, b, c)) + box.state.fee_pool == total0
    assert process_funding(box.state, at(box, HOUR)) == []  # nothing more due this interval


def test_several_missed_intervals_accrue_at_once_and_stay_on_the_genesis_grid() -> None:
    box, (a, b, *_) = trading_box()
    clear(box, [make_trade(1, a, b)])
    box.state.mark_prices[PERP] = MARK + 60_000
    process_funding(box.state, at(box, 3 * HOUR + 1_234))
    assert box.state.funding_indices[PERP] == 3 * 1_000_000 * (MARK + 60_000)
    genesis_ms = box.state.genesis.genesis_time_ms
    assert box.state.last_funding_ms[PERP] == genesis_ms + 3 * HOUR
    assert process_funding(box.state, at(box, 4 * HOUR - 1)) == []


def test_a_position_opened_later_starts_at_the_current_index() -> None:
    box, (a, b, c, d) = trading_box()
    clear(box, [make_trade(1, a, b)])
    box.state.mark_prices[PERP] = MARK + 60_000
    process_funding(box.state, at(box, HOUR))
    clear(box, [make_trade(2, c, d, price=MARK + 60_000)], batch_id=2)
    assert position(box, c).funding_index == box.state.funding_indices[PERP] != 0


@given(
    st.lists(st.integers(-50, 50).filter(bool), min_size=1, max_size=8),
    st.integers(-(10**6), 10**6),
)
def test_funding_credits_never_sum_above_zero(lots: list[int], index_move: int) -> None:
    book = [*lots, -sum(lots)]
    credits = [compute_funding_credit(q, 0, index_move) for q in book]
    assert -len(book) < sum(credits) <= 0


@pytest.mark.parametrize("sign", [1, -1])
def test_rate_scales_with_interval_over_period(sign: int) -> None:
    # premium 1_428_571 per 8 hours -> 178_571 per hour, truncated toward zero either way
    assert compute_funding_rate(7_000 + sign * 10, 7_000, 10_000, HOUR, 8 * HOUR) == sign * 178_571
