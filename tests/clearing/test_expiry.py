"""Expiry: futures settle to the mark, options to intrinsic value; positions removed, OI zero."""

from __future__ import annotations

from dataclasses import replace

from clearing.context import BlockContext
from clearing.expiry import compute_intrinsic_value, process_expiries
from clearing.instruments import OptionType
from devnet.sandbox import Sandbox
from tests.clearing.support import genesis_doc
from tests.clearing.test_trade import cash, clear, make_trade, position, trading_box

FUTURE = "BTC-26DEC26"
CALL = "BTC-26DEC26-65000-C"
STRIKE = 65_000_000


def at_expiry(box: Sandbox, offset_ms: int = 0) -> BlockContext:
    expiry = box.state.instruments[FUTURE].expiry_ms
    assert expiry is not None
    return replace(box.next_context(), time_ms=expiry + offset_ms)


def test_intrinsic_value_of_calls_and_puts() -> None:
    assert compute_intrinsic_value(OptionType.CALL, 100, 130) == 30
    assert compute_intrinsic_value(OptionType.CALL, 100, 70) == 0
    assert compute_intrinsic_value(OptionType.PUT, 100, 70) == 30
    assert compute_intrinsic_value(OptionType.PUT, 100, 130) == 0


def test_nothing_expires_before_expiry_time() -> None:
    box, (a, b, *_) = trading_box()
    clear(box, [make_trade(1, a, b, price=60_300_000, instrument=FUTURE)])
    assert process_expiries(box.state, at_expiry(box, -1)) == []
    assert position(box, a, instrument=FUTURE).quantity == 1


def test_future_settles_at_the_mark_and_closes() -> None:
    box, (a, b, *_) = trading_box()
    clear(box, [make_trade(1, a, b, price=60_300_000, quantity=4, instrument=FUTURE)])
    a0, b0 = cash(box, a), cash(box, b)
    box.state.mark_prices[FUTURE] = 61_000_000
    events = process_expiries(box.state, at_expiry(box))
    assert cash(box, a) - a0 == 4 * 700_000
    assert cash(box, b) - b0 == -4 * 700_000
    assert box.state.final_settlement_prices[FUTURE] == 61_000_000
    assert box.state.open_interest[FUTURE] == 0
    for member in (a, b):
        assert FUTURE not in box.state.members[member.address].sub_accounts[0].positions
    assert ("expiry", FUTURE, 61_000_000, 4 * 700_000) in [
        (e.kind, e.get("instrument"), e.get("final_price"), e.get("paid")) for e in events
    ]
    assert process_expiries(box.state, at_expiry(box, 1)) == []  # once only


def test_call_option_cash_settles_its_intrinsic_value() -> None:
    box, (a, b, *_) = trading_box()
    clear(box, [make_trade(1, a, b, price=1_500_000, quantity=2, instrument=CALL)])
    a0, b0 = cash(box, a), cash(box, b)
    box.state.mark_prices[FUTURE] = STRIKE + 2_000_000
    process_expiries(box.state, at_expiry(box))
    assert box.state.final_settlement_prices[CALL] == 2_000_000
    # settled from the option's settlement price (its mark when traded) to intrinsic
    assert cash(box, a) - a0 == 2 * (2_000_000 - 1_500_000)
    assert cash(box, b) - b0 == -2 * (2_000_000 - 1_500_000)
    assert box.state.open_interest[CALL] == 0


def test_out_of_the_money_option_expires_worthless() -> None:
    box, (a, b, *_) = trading_box()
    clear(box, [make_trade(1, a, b, price=1_500_000, instrument=CALL)])
    a0 = cash(box, a)
    box.state.mark_prices[FUTURE] = STRIKE - 1
    process_expiries(box.state, at_expiry(box))
    assert box.state.final_settlement_prices[CALL] == 0
    assert cash(box, a) - a0 == -1_500_000


def test_physically_settled_call_is_exercised_into_the_future() -> None:
    doc = genesis_doc()
    doc["instruments"][2]["expiry_ms"] += 7 * 86_400_000  # the future outlives the option
    doc["instruments"][3]["settlement"] = "physical"
    box, (a, b, *_) = trading_box(box=Sandbox.from_genesis_doc(doc))
    clear(box, [make_trade(1, a, b, price=1_500_000, quantity=3, instrument=CALL)])
    box.state.mark_prices[FUTURE] = STRIKE + 1_000_000
    cash_before = cash(box, a) + cash(box, b)
    expiry = box.state.instruments[CALL].expiry_ms
    assert expiry is not None
    events = process_expiries(box.state, replace(box.next_context(), time_ms=expiry))
    exercised = [(e.get("member"), e.get("quantity")) for e in events if e.kind == "exercise"]
    assert sorted(exercised) == sorted([(a.address, 3), (b.address, -3)])
    assert position(box, a, instrument=FUTURE).quantity == 3
    assert position(box, b, instrument=FUTURE).quantity == -3
    assert position(box, a, instrument=FUTURE).average_entry_price == STRIKE + 1_000_000
    assert box.state.open_interest[FUTURE] == 3
    assert box.state.open_interest[CALL] == 0
    assert FUTURE not in box.state.final_settlement_prices
    assert cash(box, a) + cash(box, b) == cash_before  # intrinsic paid by b to a, nothing made
    assert cash(box, a) - (-3 * 450) == 3 * (1_000_000 - 1_500_000)
