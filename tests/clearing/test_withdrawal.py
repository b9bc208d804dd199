from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.errors import ClearingError
from clearing.state import get_sub_account_for_write
from clearing.transition.snapshot import encode_snapshot
from clearing.transition.transfer import check_transfer
from clearing.transition.withdrawal import check_withdrawal
from devnet.sandbox import Sandbox
from tests.clearing.support import ALICE, BOB, USDC, WETH, assert_rejected, new_sandbox, only_result


def _funded() -> Sandbox:
    box = new_sandbox()
    box.apply([box.credit(ALICE.address, WETH, 1_000)])
    return box


def test_withdrawal_debits_quanta_and_records_the_payout() -> None:
    box = _funded()
    tx = box.withdraw(ALICE, WETH, 400, recipient=BOB.address)
    block = box.apply([tx])
    assert only_result(block) == ("ok", "")
    assert box.state.members[ALICE.address].sub_accounts[0].collateral[WETH] == 600
    record = box.state.pending_withdrawals[(ALICE.address, tx.nonce)]
    assert record.amount == 400 * 10**12 and record.recipient == BOB.address
    assert record.height == block.height and record.chain_id == WETH[0]
    (event,) = block.tx_results[0].events
    assert event.kind == "withdrawal" and event.get("amount") == 400 * 10**12


def test_more_than_held_is_rejected() -> None:
    box = _funded()
    detail = assert_rejected(box, box.withdraw(ALICE, WETH, 1_001), "InsufficientCollateral")
    assert "available=1000" in detail


def test_negative_cash_blocks_the_collateral_backing_it() -> None:
    box = _funded()
    # 1000 quanta * floor(3000 * 0.9) = 2_700_000; with cash -2_000_000, equity 700_000
    # covers 259 quanta (699_300) and not one more
    get_sub_account_for_write(box.state, ALICE.address, 0).cash = -2_000_000
    assert only_result(box.apply([box.withdraw(ALICE, WETH, 259)]))[0] == "ok"
    detail = assert_rejected(box, box.withdraw(ALICE, WETH, 1), "InsufficientEquity")
    assert "equity_after=-2000" in detail


def test_unknown_token_member_and_replay() -> None:
    box = _funded()
    assert_rejected(box, box.withdraw(ALICE, USDC, 1), "InsufficientCash")  # no USDC, no cash
    assert_rejected(box, box.withdraw(ALICE, (1, WETH[1]), 1), "UnknownCollateral")
    assert_rejected(box, box.withdraw(BOB, WETH, 1), "UnknownMember")
    tx = box.withdraw(ALICE, WETH, 1)
    box.apply([tx])
    assert_rejected(box, tx, "NonceReused")


def test_tampered_request_is_rejected() -> None:
    box = _funded()
    tx = box.withdraw(ALICE, WETH, 1)
    assert_rejected(box, replace(tx, recipient=BOB.address), "BadSignature")


def test_a_collateral_price_drop_shrinks_what_may_leave() -> None:
    box = _funded()
    get_sub_account_for_write(box.state, ALICE.address, 0).cash = -2_000_000
    box.apply([box.prices({"ETH/quantum": 2_800}, {})])  # haircut value 2_520 per quantum
    assert_rejected(box, box.withdraw(ALICE, WETH, 207), "InsufficientEquity")
    assert only_result(box.apply([box.withdraw(ALICE, WETH, 206)]))[0] == "ok"


def test_attested_payout_clears_the_pending_record_once() -> None:
    box = _funded()
    tx = box.withdraw(ALICE, WETH, 10)
    box.apply([tx])
    assert_rejected(box, box.paid(ALICE.address, tx.nonce, WETH[0], signers=2), "QuorumNotReached")
    assert_rejected(box, box.paid(ALICE.address, tx.nonce, 1), "UnknownWithdrawal")
    assert_rejected(box, box.paid(ALICE.address, tx.nonce + 1, WETH[0]), "UnknownWithdrawal")
    block = box.apply([box.paid(ALICE.address, tx.nonce, WETH[0], signers=3)])
    assert only_result(block) == ("ok", "")
    assert box.state.pending_withdrawals == {}
    (event,) = block.tx_results[0].events
    assert event.kind == "withdrawal_paid" and event.get("amount") == 10 * 10**12
    assert_rejected(box, box.paid(ALICE.address, tx.nonce, WETH[0]), "UnknownWithdrawal")


@given(quanta=st.integers(1, 2_000), sub_account=st.integers(0, 1), cash=st.booleans())
@settings(max_examples=40, deadline=None)
def test_the_checks_of_a_withdrawal_or_transfer_write_nothing(
    quanta: int, sub_account: int, cash: bool
) -> None:
    """``check_withdrawal`` and ``check_transfer`` raise their typed error or pass, and the
    state (its snapshot: everything but derived caches) is the same bytes after."""
    box = _funded()
    box.apply([box.credit(ALICE.address, USDC, 5_000)])
    token = USDC if cash else WETH
    before = encode_snapshot(box.state)
    for check, tx in (
        (check_withdrawal, box.withdraw(ALICE, token, quanta, sub_account)),
        (check_transfer, box.transfer(ALICE, sub_account, 1 - sub_account, quanta, token)),
    ):
        try:
            check(box.state, box.next_context(), tx)  # type: ignore[operator]
        except ClearingError:
            pass
        assert encode_snapshot(box.state) == before
