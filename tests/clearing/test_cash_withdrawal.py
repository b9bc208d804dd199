"""Positive cash leaves as the settlement token on any chain whose vault holds enough for
cash; nothing leaves while a default's loss is uncovered (clearing/transition/withdrawal.py)."""

from __future__ import annotations

from clearing.default.house import HOUSE, get_uncovered_deficit
from clearing.state import get_sub_account_for_write
from clearing.transition.withdrawable import get_withdrawable
from devnet.sandbox import Sandbox
from tests.clearing.support import (
    ALICE,
    BOB,
    USDC,
    USDC_B,
    WETH,
    assert_rejected,
    get_cash_supply,
    new_sandbox,
    only_result,
)


def winner_and_loser() -> Sandbox:
    """Alice deposited WETH on chain 31337 only and won 5_000; Bob paid it with his USDC
    on chain 31338 (so that vault now holds 5_000 for cash)."""
    box = new_sandbox()
    box.apply([box.credit(ALICE.address, WETH, 100), box.credit(BOB.address, USDC_B, 8_000)])
    get_sub_account_for_write(box.state, ALICE.address, 0).cash = 5_000
    get_sub_account_for_write(box.state, BOB.address, 0).cash = -5_000
    box.apply([])
    assert box.state.settlement_reserves == {31338: 5_000}
    return box


def test_profit_leaves_on_a_chain_the_member_never_deposited_on() -> None:
    box = winner_and_loser()
    supply = get_cash_supply(box.state)
    code, detail = only_result(box.apply([box.withdraw(ALICE, USDC_B, 3_000)]))
    assert code == "ok", detail
    record = next(iter(box.state.pending_withdrawals.values()))
    assert (record.chain_id, record.quanta, record.amount, record.from_cash) == (
        31338,
        3_000,
        3_000,
        3_000,
    )
    assert box.state.members[ALICE.address].sub_accounts[0].cash == 2_000
    assert box.state.settlement_reserves == {31338: 2_000}
    assert get_cash_supply(box.state) == supply  # cash and reserve fell together


def test_a_chain_without_reserve_refuses_with_its_numbers() -> None:
    box = winner_and_loser()
    detail = assert_rejected(box, box.withdraw(ALICE, USDC, 1), "InsufficientReserve")
    assert "chain_id=31337" in detail and "reserve=0" in detail and "requested=1" in detail
    detail = assert_rejected(box, box.withdraw(ALICE, USDC_B, 5_001), "InsufficientCash")
    assert "available=5000" in detail


def test_settlement_quanta_go_first_and_only_positive_cash_follows() -> None:
    box = winner_and_loser()
    box.apply([box.credit(ALICE.address, USDC_B, 1_000)])
    assert only_result(box.apply([box.withdraw(ALICE, USDC_B, 1_500)]))[0] == "ok"
    alice = box.state.members[ALICE.address].sub_accounts[0]
    assert USDC_B not in alice.collateral and alice.cash == 4_500
    assert box.state.settlement_reserves == {31338: 4_500}
    detail = assert_rejected(box, box.withdraw(BOB, USDC_B, 3_001), "InsufficientCash")
    assert "available=0" in detail  # Bob's 3_000 quanta left, no cash


def test_withdrawable_lists_every_chain_with_the_same_bounds() -> None:
    box = winner_and_loser()
    alice = box.state.members[ALICE.address].sub_accounts[0]
    listed = {
        w.key: (w.quanta, w.from_cash) for w in get_withdrawable(box.state, ALICE.address, 0, alice)
    }
    assert listed == {USDC: (0, 0), USDC_B: (5_000, 5_000), WETH: (100, 0)}


def test_nothing_leaves_while_a_loss_is_uncovered() -> None:
    box = winner_and_loser()
    fund = box.state.insurance_fund
    get_sub_account_for_write(box.state, *HOUSE).cash = -fund - 7
    assert get_uncovered_deficit(box.state) == 7
    detail = assert_rejected(box, box.withdraw(ALICE, WETH, 1), "WithdrawalsHalted")
    assert "uncovered_deficit=7" in detail
    alice = box.state.members[ALICE.address].sub_accounts[0]
    assert all(w.quanta == 0 for w in get_withdrawable(box.state, ALICE.address, 0, alice))
    get_sub_account_for_write(box.state, *HOUSE).cash = -fund  # fees paid it down
    assert only_result(box.apply([box.withdraw(ALICE, WETH, 1)]))[0] == "ok"


def test_an_unrelayed_cash_withdrawal_is_refunded_to_cash_and_the_reserve() -> None:
    box = winner_and_loser()
    box.apply([box.credit(ALICE.address, USDC_B, 1_000)])
    assert only_result(box.apply([box.withdraw(ALICE, USDC_B, 2_500)]))[0] == "ok"
    (record,) = box.state.pending_withdrawals.values()
    assert (record.quanta, record.from_cash) == (2_500, 1_500)
    refund = box.expired(ALICE.address, record.nonce, USDC_B[0], record.expiry + 1)
    assert only_result(box.apply([refund]))[0] == "ok"
    alice = box.state.members[ALICE.address].sub_accounts[0]
    assert (alice.cash, alice.collateral[USDC_B]) == (5_000, 1_000)
    assert box.state.settlement_reserves == {31338: 5_000}
