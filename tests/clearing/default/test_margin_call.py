"""Margin calls through process_block on the example genesis: open, meet, expire, below MM."""

from __future__ import annotations

import pytest

from clearing.default.liquidation import DefaultBook, MarginContext, RiskAccount
from clearing.default.liquidation import process_liquidations as liquidate
from clearing.default.margin_call import check_margin_call
from clearing.errors import GenesisError
from clearing.events import Event
from clearing.risk.engine import (
    RISK_CACHE,
    get_account_initial_margin,
    get_quantities,
    get_risk_arrays,
    get_risk_derived,
    get_risk_setup,
    get_scanned_initial_margin,
    release_scanned_figures,
)
from clearing.risk.errors import MarginCallReduceOnly
from clearing.risk.params import DEFAULT_MARGIN_CALL_DEADLINE_BLOCKS, parse_risk_params
from clearing.state import ClearingState, MarginCall, get_collateral_value
from clearing.transition.block import BlockResult
from clearing.transition.root import encode_account
from clearing.transition.snapshot import decode_member
from devnet.sandbox import Sandbox
from records.codec import DecodeError, pack, unpack
from tests.clearing.default.test_steps import BTC, give
from tests.clearing.risk.sample import genesis_risk_section, risk_section
from tests.clearing.support import USDC, genesis_doc
from tests.clearing.test_trade import clear, make_trade, position, rejections, trading_box

A, B, C = (bytes([n]) * 20 for n in range(1, 4))
IM_100 = 100 * 9_000_000  # IM of 100 BTC-PERP lots at the genesis mark (15% scan)
DEADLINE = 3


def new_box(deadline_blocks: int = DEADLINE) -> Sandbox:
    doc = genesis_doc()
    doc["risk"] = genesis_risk_section(
        stress_days=[], margin_call={"deadline_blocks": deadline_blocks}
    )
    return Sandbox.from_genesis_doc(doc)


def book(box: Sandbox, cash_a: int) -> None:
    """A long 100 lots with ``cash_a``; B short 100 lots, rich."""
    give(box.state, A, cash_a, lots=100)
    give(box.state, B, 10**12, lots=-100)


def equity(state: ClearingState, member: bytes) -> int:
    account = state.members[member].sub_accounts[0]
    return account.cash + get_collateral_value(state, account)


def call_of(state: ClearingState, member: bytes) -> MarginCall | None:
    return state.members[member].sub_accounts[0].margin_call


def of_kind(block: BlockResult, kind: str) -> list[Event]:
    return [e for e in block.events if e.kind == kind]


def move_price(box: Sandbox, bps: int) -> BlockResult:
    price = box.state.mark_prices[BTC] * (10_000 + bps) // 10_000
    block = box.apply([box.prices({"BTC/0.001": price}, {BTC: price})])
    assert block.tx_results[0].is_ok(), block.tx_results
    return block


def test_a_call_opens_between_maintenance_and_initial_margin_only() -> None:
    box = new_box()
    book(box, 700_000_000)  # MM 450M <= 700M < IM 900M
    give(box.state, C, IM_100, lots=0)
    block = box.apply([])
    (opened,) = of_kind(block, "margin_call")
    assert opened.get("member") == A and opened.get("sub_account") == 0
    assert opened.get("amount_due") == IM_100 - 700_000_000
    assert opened.get("deadline_height") == block.height + DEADLINE
    assert opened.get("equity") == 700_000_000 and opened.get("initial_margin") == IM_100
    assert call_of(box.state, A) == MarginCall(200_000_000, block.height, block.height + DEADLINE)
    assert get_quantities(box.state.members[A].sub_accounts[0]) == {BTC: 100}  # not liquidated
    assert call_of(box.state, B) is None
    # The next block keeps the call as it was (amount and deadline fixed at the call).
    assert of_kind(box.apply([]), "margin_call") == []
    assert call_of(box.state, A) == MarginCall(200_000_000, block.height, block.height + DEADLINE)


def test_no_call_at_exactly_initial_margin() -> None:
    box = new_box()
    book(box, IM_100)
    assert of_kind(box.apply([]), "margin_call") == []
    assert call_of(box.state, A) is None


def test_the_scans_of_a_book_without_positions_compute_no_risk_arrays() -> None:
    """An idle network's blocks: nothing to margin, so no scenario is priced (with an
    option listed the arrays move with every block's time)."""
    box = new_box()
    give(box.state, C, IM_100, lots=0)
    box.apply([])
    box.apply([])
    assert get_risk_derived(box.state).arrays == {}
    book(box, IM_100)
    box.apply([])
    assert get_risk_derived(box.state).arrays


def test_a_deposit_that_restores_initial_margin_meets_the_call() -> None:
    box = new_box()
    book(box, 700_000_000)
    opened = box.apply([])
    block = box.apply([box.credit(A, USDC, 200_000_000)])  # exactly the amount due
    assert block.tx_results[0].is_ok()
    (met,) = of_kind(block, "margin_call_met")
    assert met.get("amount_due") == 200_000_000
    assert met.get("deadline_height") == opened.height + DEADLINE
    assert met.get("equity") == IM_100
    assert call_of(box.state, A) is None
    assert get_quantities(box.state.members[A].sub_accounts[0]) == {BTC: 100}


def test_an_unmet_call_expires_at_its_deadline_and_the_account_is_liquidated() -> None:
    box = new_box()
    book(box, 700_000_000)
    opened = box.apply([])
    for _ in range(DEADLINE - 1):  # the blocks before the deadline: nothing happens
        block = box.apply([])
        assert [e.kind for e in block.events if e.kind.startswith("margin_call")] == []
        assert call_of(box.state, A) is not None
    assert equity(box.state, A) == 700_000_000  # still above MM: only the deadline liquidates
    block = box.apply([])
    assert block.height == opened.height + DEADLINE
    kinds = [e.kind for e in block.events]
    assert kinds.index("margin_call_expired") < kinds.index("liquidated")
    assert kinds.index("liquidated") < kinds.index("margin_call_closed")
    (closed,) = of_kind(block, "margin_call_closed")
    assert (closed.get("member"), closed.get("amount_due")) == (A, 200_000_000)
    assert call_of(box.state, A) is None
    account = box.state.members[A].sub_accounts[0]
    lots = get_quantities(account)[BTC]
    assert 0 < lots < 100  # a partial close back to IM, as for an account below MM
    assert equity(box.state, A) >= get_account_initial_margin(box.state, account)
    assert of_kind(box.apply([]), "margin_call") == []  # back at IM: no new call


def test_equity_below_maintenance_liquidates_at_once_and_closes_the_call() -> None:
    box = new_box(deadline_blocks=100)
    book(box, 700_000_000)
    opened = box.apply([])
    block = move_price(box, -500)  # -5% on 100 lots: equity 400M < MM, long before the deadline
    kinds = [e.kind for e in block.events]
    assert "liquidated" in kinds and "margin_call_expired" not in kinds
    (closed,) = of_kind(block, "margin_call_closed")
    assert closed.get("member") == A and closed.get("deadline_height") == opened.height + 100
    assert call_of(box.state, A) is None


def test_a_price_recovery_meets_the_call() -> None:
    box = new_box()
    book(box, 800_000_000)
    box.apply([])
    block = move_price(box, 200)  # +2% on the long: +120M of variation margin
    (met,) = of_kind(block, "margin_call_met")
    assert met.get("member") == A and call_of(box.state, A) is None


def test_an_overdue_call_is_liquidated_after_every_account_below_maintenance() -> None:
    """Pure rule: the overdue account comes after those below MM, within the cap."""
    box = new_box()
    state = box.state
    setup = get_risk_setup(state)
    assert setup is not None
    params = setup.params
    ctx = MarginContext(get_risk_arrays(state, setup), state.mark_prices, params.k_num,
                        params.k_den, params.liquidation)  # fmt: skip
    mark = state.mark_prices[BTC]
    called = RiskAccount(700_000_000, 0, ((BTC, 100, mark),))  # above MM, below IM
    below = RiskAccount(400_000_000, 0, ((BTC, 100, mark),))  # below MM
    fund = RiskAccount(10**12, 0, ())
    accounts = {(A, 0): called, (B, 0): below, (C, 0): fund}
    after, _ = liquidate(DefaultBook(accounts, {}), ctx, (), (C, 0))
    assert after.accounts[(A, 0)] == called  # above MM and no overdue call: untouched
    after, events = liquidate(DefaultBook(accounts, {}), ctx, (), (C, 0), frozenset({(A, 0)}))
    order = [e.member for e in events if e.kind == "liquidated"]
    assert order == [B, A]
    at_im = RiskAccount(IM_100, 0, ((BTC, 100, mark),))  # overdue but back at IM: not due
    accounts[(A, 0)] = at_im
    after, _ = liquidate(DefaultBook(accounts, {}), ctx, (), (C, 0), frozenset({(A, 0)}))
    assert after.accounts[(A, 0)] == at_im


def test_the_call_is_in_the_account_encoding_and_decodes_back() -> None:
    box = new_box()
    book(box, 700_000_000)
    box.apply([])
    member = box.state.members[A]
    assert member.sub_accounts[0].margin_call is not None
    assert decode_member(encode_account(member)) == member


@pytest.mark.parametrize(
    ("fields", "reason"),
    [([0, 5, 8], "amount_due"), ([1, 5, 5], "deadline_height"), ([1, 5], "3 fields")],
)
def test_a_bad_call_in_an_account_is_a_decode_error(fields: list[int], reason: str) -> None:
    box = new_box()
    book(box, 700_000_000)
    encoded = unpack(encode_account(box.state.members[A]), "test")
    assert isinstance(encoded, list)
    encoded[2][0][4] = fields
    with pytest.raises(DecodeError, match=reason):
        decode_member(pack(encoded))


def test_genesis_margin_call_parameter_defaults_and_is_validated() -> None:
    assert parse_risk_params(risk_section()).margin_call.deadline_blocks == (
        DEFAULT_MARGIN_CALL_DEADLINE_BLOCKS
    )
    assert parse_risk_params(risk_section(margin_call={})).margin_call.deadline_blocks == (
        DEFAULT_MARGIN_CALL_DEADLINE_BLOCKS
    )
    section = risk_section(margin_call={"deadline_blocks": 7})
    assert parse_risk_params(section).margin_call.deadline_blocks == 7
    for bad, key in (
        ({"deadline_blocks": 0}, "risk.margin_call.deadline_blocks"),
        ({"deadline_blocks": "7"}, "risk.margin_call.deadline_blocks"),
        ({"deadline": 7}, "risk.margin_call.deadline"),
        ([7], "risk.margin_call"),
    ):
        with pytest.raises(GenesisError) as caught:
            parse_risk_params(risk_section(margin_call=bad))
        assert caught.value.key == key


def test_a_trade_growing_a_position_under_a_call_is_refused_naming_the_call() -> None:
    box, (a, b, *_) = trading_box()
    clear(box, [make_trade(1, a, b, quantity=3)])
    call = MarginCall(123_456, box.state.height, box.state.height + 9)
    box.state.members[a.address].sub_accounts[0].margin_call = call  # as the step leaves it
    events = clear(box, [make_trade(2, a, b), make_trade(3, b, a, quantity=2)], batch_id=2)
    assert rejections(events) == [(2, "MarginCallReduceOnly")]  # growing the long
    detail = str(events[0].get("detail"))
    for part in (
        "sub_account=0",
        "instrument_id='BTC-PERP'",
        "quantity_before=3",
        "quantity_after=4",
        "amount_due=123456",
        f"deadline_height={call.deadline_height}",
    ):
        assert part in detail, detail  # fmt: skip
    assert position(box, a).quantity == 1  # the reduction went through
    events = clear(box, [make_trade(4, b, a, quantity=2)], batch_id=3)
    assert rejections(events) == [(4, "MarginCallReduceOnly")]  # flipping to short
    box.state.members[a.address].sub_accounts[0].margin_call = None  # met
    assert rejections(clear(box, [make_trade(6, a, b)], batch_id=5)) == []


def test_the_error_carries_the_call() -> None:
    with pytest.raises(MarginCallReduceOnly) as caught:
        check_margin_call(A, 2, MarginCall(5, 10, 13), BTC, -1, -2)
    error = caught.value
    assert (error.member, error.sub_account, error.amount_due, error.deadline_height) == (
        A, 2, 5, 13,
    )  # fmt: skip
    check_margin_call(A, 2, MarginCall(5, 10, 13), BTC, -2, -1)  # a reduction passes


def test_the_scans_share_a_vector_only_for_the_same_arrays_and_lots() -> None:
    box = new_box()
    book(box, 700_000_000)
    state = box.state
    account = state.members[A].sub_accounts[0]

    def scanned() -> int:
        return get_scanned_initial_margin(state, A, 0, account)

    assert scanned() == get_account_initial_margin(state, account) == IM_100
    assert (A, 0) not in state.derived.get(
        RISK_CACHE
    ).accounts  # remembered for the scans, not kept
    account.positions[BTC].quantity = 50  # other lots: computed again
    assert scanned() == get_account_initial_margin(state, account) == IM_100 // 2
    state.mark_prices[BTC] *= 2  # other arrays: computed again
    assert scanned() == get_account_initial_margin(state, account) == IM_100
    release_scanned_figures(state)
    assert scanned() == IM_100
