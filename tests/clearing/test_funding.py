"""Perpetual funding: premium and interest, caps, cumulative index from genesis, settlement."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.context import BlockContext
from clearing.risk.scenarios import compute_scenario_set
from clearing.transition.funding import (
    INTEREST_CLAMP,
    RATE_SCALE,
    UNMARGINED_CAP,
    compute_due_intervals,
    compute_funding_cap,
    compute_funding_credit,
    compute_funding_rate,
    compute_initial_margin_fraction,
    compute_interval_rate,
    compute_premium,
    get_funding_cap,
    process_funding,
)
from devnet.sandbox import Sandbox
from tests.clearing.risk.sample import params
from tests.clearing.support import genesis_doc
from tests.clearing.test_trade import MARK, PERP, cash, clear, make_trade, position, trading_box

HOUR = 3_600_000
CAP = 3_200 * RATE_SCALE // 10_000  # 32% per 8 hours


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


BP = RATE_SCALE // 10_000  # one basis point, 0.01%


def test_rate_is_the_interest_while_the_premium_is_within_five_basis_points_of_it() -> None:
    assert compute_funding_rate(0, BP, CAP) == BP
    assert compute_funding_rate(4 * BP, BP, CAP) == BP
    assert compute_funding_rate(-4 * BP, BP, CAP) == BP


def test_rate_follows_the_premium_beyond_the_band() -> None:
    assert compute_funding_rate(100 * BP, BP, CAP) == 95 * BP
    assert compute_funding_rate(-100 * BP, BP, CAP) == -95 * BP


def test_rate_is_clamped_to_the_cap() -> None:
    assert compute_funding_rate(10_000 * BP, BP, 75 * BP) == 75 * BP
    assert compute_funding_rate(-10_000 * BP, BP, 75 * BP) == -75 * BP
    assert compute_funding_rate(10_000 * BP, BP, 0) == 0


@given(st.integers(-(10**9), 10**9), st.integers(-(10**6), 10**6), st.integers(0, 10**9))
def test_rate_stays_within_the_band_around_the_premium_and_the_cap(
    premium: int, interest: int, cap: int
) -> None:
    rate = compute_funding_rate(premium, interest, cap)
    assert abs(rate) <= cap
    if abs(rate) < cap:
        assert abs(rate - premium) <= INTEREST_CLAMP


@pytest.mark.parametrize("sign", [1, -1])
def test_interval_pays_its_share_of_the_8_hour_rate(sign: int) -> None:
    assert compute_interval_rate(sign * 100 * BP, 8 * HOUR) == sign * 100 * BP
    assert compute_interval_rate(sign * BP, HOUR) == sign * BP // 8  # 0.125 bp an hour
    assert compute_interval_rate(sign * 7, HOUR) == 0  # truncated toward zero either way


def test_cap_is_six_times_the_margin_buffer() -> None:
    assert compute_funding_cap(Fraction(1, 10), 1, 2) == 3_000 * BP  # 600% * (10% - 5%)
    assert compute_funding_cap(Fraction(1, 3), 1, 2) == 10_000 * BP  # 600% * (1/3 - 1/6)
    assert compute_funding_cap(Fraction(1, 4 * RATE_SCALE), 1, 2) == 0  # 0.75, floored


def test_example_genesis_caps_from_its_margin_fractions() -> None:
    box, _ = trading_box()  # BTC IMF 15% (short side), ETH 20%; k = 1/2
    caps = {i: get_funding_cap(box.state, box.state.instruments[i]) for i in (PERP, "ETH-PERP")}
    assert caps == {PERP: 4_500 * BP, "ETH-PERP": 6_000 * BP}


def test_margin_fraction_is_the_smaller_side_of_the_scenario_losses() -> None:
    # BTC: long loses 15% (scan) but 39% on the stress day; a short loses at most 15%
    setup = params()
    btc = setup.underlying("BTC")
    assert btc is not None
    assert compute_initial_margin_fraction(compute_scenario_set(setup), btc) == Fraction(15, 100)


def test_cap_without_margining_is_4_percent_an_hour() -> None:
    box, _ = trading_box(box=Sandbox.from_genesis_doc({**genesis_doc(), "risk": {}}))
    assert get_funding_cap(box.state, box.state.instruments[PERP]) == UNMARGINED_CAP


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
    box.state.mark_prices[PERP] = MARK + 60_000  # premium 0.1% = 10 bp
    a0, b0, pool0 = cash(box, a), cash(box, b), box.state.fee_pool
    events = process_funding(box.state, at(box, HOUR))
    rate = 5 * BP // 8  # (10 bp + clamp(1 bp - 10 bp, +-5 bp)) per 8 hours, one hour of it
    per_lot = rate * MARK // RATE_SCALE  # 3_750 settlement units per lot, on the index price
    assert cash(box, a) - a0 == -10 * per_lot
    assert cash(box, b) - b0 == 10 * per_lot
    assert box.state.fee_pool == pool0
    funding = [e for e in events if e.kind == "funding"]
    assert [(e.get("instrument"), e.get("rate")) for e in funding] == [
        (PERP, rate),
        ("ETH-PERP", BP // 8),  # at the index: the interest alone, 1 bp per 8 hours
    ]
    assert position(box, a).funding_index == box.state.funding_indices[PERP]


def test_shorts_pay_longs_and_rounding_residue_goes_to_the_fee_pool() -> None:
    box, (a, b, c, _) = trading_box()
    clear(box, [make_trade(1, a, b, quantity=1), make_trade(2, a, c, quantity=1)])
    box.state.mark_prices[PERP] = MARK - 36_100  # premium -6.0167 bp: rate -1.0167 bp
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
    assert box.state.funding_indices[PERP] == 3 * (5 * BP // 8) * MARK
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


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(1, 40)), min_size=1,
             max_size=6),
    st.integers(-3_000_000, 3_000_000),
    st.integers(1, 3),
)  # fmt: skip
def test_funding_moves_value_between_members_and_the_fee_pool_only(
    trades: list[tuple[int, int, int]], premium_units: int, hours: int
) -> None:
    box, members = trading_box()
    book = [make_trade(n, members[b], members[s], quantity=q)
            for n, (b, s, q) in enumerate(trades, 1) if b != s]  # fmt: skip
    clear(box, book)
    box.state.mark_prices[PERP] = MARK + premium_units
    before = [cash(box, m) for m in members]
    pool = box.state.fee_pool
    events = process_funding(box.state, at(box, hours * HOUR))
    moved = [cash(box, m) - c for m, c in zip(members, before, strict=True)]
    (residue,) = [e.get("amount") for e in events if e.kind == "funding_residue"]
    held = sum(1 for m in members if PERP in box.state.members[m.address].sub_accounts[0].positions
               and position(box, m).quantity)  # fmt: skip
    assert box.state.fee_pool - pool == residue == -sum(moved)
    assert 0 <= residue <= max(held - 1, 0)
