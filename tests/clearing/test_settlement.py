"""Variation margin: positions settled to the mark into cash, exactly, summing to zero."""

from __future__ import annotations

from clearing.settlement import compute_variation_margin, process_mark_to_market
from tests.clearing.support import collected_fees
from tests.clearing.test_trade import MARK, PERP, cash, clear, make_trade, position, trading_box


def total_cash(box: object) -> int:
    state = box.state  # type: ignore[attr-defined]
    return sum(s.cash for m in state.members.values() for s in m.sub_accounts.values())


def test_variation_margin_is_quantity_times_price_move() -> None:
    assert compute_variation_margin(3, 100, 90) == -30
    assert compute_variation_margin(-3, 100, 90) == 30
    assert compute_variation_margin(5, 100, 100) == 0


def test_mark_to_market_settles_every_position_and_nets_to_zero() -> None:
    box, (a, b, c, _) = trading_box()
    clear(box, [make_trade(1, a, b, quantity=3), make_trade(2, c, b, quantity=2)])
    before_a, before_b, before_c = cash(box, a), cash(box, b), cash(box, c)
    before_total = total_cash(box)
    box.state.mark_prices[PERP] = MARK - 1_000
    events = process_mark_to_market(box.state, box.next_context())
    assert cash(box, a) - before_a == -3_000
    assert cash(box, c) - before_c == -2_000
    assert cash(box, b) - before_b == 5_000
    assert total_cash(box) == before_total
    assert [(e.kind, e.get("paid")) for e in events] == [("variation_margin", 5_000)]
    assert position(box, a).settlement_price == MARK - 1_000
    assert box.state.members[a.address].address in box.state.dirty


def test_nothing_moves_when_the_mark_is_unchanged() -> None:
    box, (a, b, *_) = trading_box()
    clear(box, [make_trade(1, a, b)])
    assert process_mark_to_market(box.state, box.next_context()) == []


def test_lots_added_after_a_mark_change_settle_consistently_by_end_of_block() -> None:
    box, (a, b, c, _) = trading_box()
    clear(box, [make_trade(1, a, b, quantity=2)])
    start = total_cash(box) + collected_fees(box.state)
    box.state.mark_prices[PERP] = MARK + 2_000  # a price update earlier in the block
    clear(box, [make_trade(2, a, c, quantity=1, price=MARK + 1_000)], batch_id=2)
    assert position(box, a).settlement_price == MARK  # new lots join at the old settlement
    assert position(box, c).settlement_price == MARK + 2_000  # a new position at the mark
    process_mark_to_market(box.state, box.next_context())
    assert total_cash(box) + collected_fees(box.state) == start
    # a: 2 lots from MARK to MARK+2000, 1 lot bought at MARK+1000 -> +4000 + 1000, minus fees
    fee = -(-(MARK + 1_000) * 5 // 10_000)
    assert cash(box, a) == -2 * 30_000 - fee + 5_000
