"""WithdrawalExpired: a quorum's word that the vault never used an expired
withdrawal's nonce refunds the debit to its sub-account, exactly once."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.collateral import count_vault_quanta
from clearing.errors import WithdrawalNotExpired
from clearing.genesis import DEFAULT_WITHDRAWAL_TTL_S
from clearing.state import WithdrawalRecord, get_collateral_value
from clearing.transition.root import compute_state_root_from_scratch
from clearing.transition.tx import decode_tx, encode_tx
from clearing.withdrawal_expiry import WithdrawalExpired
from devnet.sandbox import Sandbox
from tests.clearing.support import ALICE, BOB, USDC, WETH, assert_rejected, new_sandbox, only_result


def _withdrawn(quanta: int = 400, sub_account: int = 0) -> tuple[Sandbox, WithdrawalRecord]:
    box = new_sandbox()
    box.apply([box.credit(ALICE.address, WETH, 1_000, sub_account=sub_account)])
    tx = box.withdraw(ALICE, WETH, quanta, sub_account=sub_account)
    assert only_result(box.apply([tx])) == ("ok", "")
    return box, box.state.pending_withdrawals[(ALICE.address, tx.nonce)]


def _equity(box: Sandbox, sub_account: int = 0) -> int:
    account = box.state.members[ALICE.address].sub_accounts[sub_account]
    return account.cash + get_collateral_value(box.state, account)


def test_the_record_carries_its_expiry_from_the_debiting_block_time() -> None:
    box, record = _withdrawn()
    assert record.expiry == box.state.time_ms // 1000 + DEFAULT_WITHDRAWAL_TTL_S


def test_refund_restores_the_sub_account_exactly_and_forgets_the_record() -> None:
    box = new_sandbox()
    box.apply([box.credit(ALICE.address, WETH, 1_000, sub_account=2)])
    equity_before = _equity(box, 2)
    vault_before = count_vault_quanta(box.state)
    box.apply([box.withdraw(ALICE, WETH, 400, sub_account=2)])
    ((_, record),) = box.state.pending_withdrawals.items()
    assert _equity(box, 2) < equity_before

    block = box.apply([box.expired(ALICE.address, record.nonce, WETH[0], record.expiry + 1, 77)])
    assert only_result(block) == ("ok", "")
    assert box.state.members[ALICE.address].sub_accounts[2].collateral[WETH] == 1_000
    assert _equity(box, 2) == equity_before
    assert box.state.pending_withdrawals == {}
    assert count_vault_quanta(box.state) == vault_before  # the tokens never left the vault
    assert block.state_root == compute_state_root_from_scratch(box.state)
    (event,) = block.tx_results[0].events
    assert event.kind == "withdrawal_refunded"
    assert dict(event.data) == {
        "member": ALICE.address, "sub_account": 2, "chain_id": WETH[0], "token": WETH[1],
        "quanta": 400, "amount": 400 * 10**12, "nonce": record.nonce, "expiry": record.expiry,
        "block_number": 77, "block_time_s": record.expiry + 1,
    }  # fmt: skip


def test_a_refund_of_a_fully_withdrawn_token_recreates_the_balance() -> None:
    box, record = _withdrawn(quanta=1_000)
    assert WETH not in box.state.members[ALICE.address].sub_accounts[0].collateral
    box.apply([box.expired(ALICE.address, record.nonce, WETH[0], record.expiry + 1)])
    assert box.state.members[ALICE.address].sub_accounts[0].collateral[WETH] == 1_000


def test_not_yet_expired_is_refused_with_both_times() -> None:
    box, record = _withdrawn()
    tx = box.expired(ALICE.address, record.nonce, WETH[0], record.expiry)  # vault may still pay
    detail = assert_rejected(box, tx, "WithdrawalNotExpired")
    assert f"expiry={record.expiry}" in detail and f"block_time_s={record.expiry}" in detail
    assert str(WithdrawalNotExpired(ALICE.address, 3, 10, 9)).endswith("expiry=10, block_time_s=9)")


def test_unknown_or_other_chain_withdrawal_is_refused() -> None:
    box, record = _withdrawn()
    late = record.expiry + 1
    detail = assert_rejected(box, box.expired(ALICE.address, record.nonce, USDC[0] + 1, late),
                             "UnknownWithdrawal")  # fmt: skip
    assert f"chain_id={USDC[0] + 1}" in detail
    assert_rejected(box, box.expired(ALICE.address, record.nonce + 1, WETH[0], late),
                    "UnknownWithdrawal")  # fmt: skip
    assert_rejected(box, box.expired(BOB.address, record.nonce, WETH[0], late),
                    "UnknownWithdrawal")  # fmt: skip


def test_without_quorum_or_with_a_foreign_domain_signature_is_refused() -> None:
    box, record = _withdrawn()
    late = record.expiry + 1
    detail = assert_rejected(box, box.expired(ALICE.address, record.nonce, WETH[0], late,
                                              signers=2), "QuorumNotReached")  # fmt: skip
    assert "signed_power=2" in detail and "total_power=4" in detail
    paid = box.paid(ALICE.address, record.nonce, WETH[0])  # signatures of another domain
    good = box.expired(ALICE.address, record.nonce, WETH[0], late)
    forged = WithdrawalExpired(good.observation, paid.attestations)
    assert_rejected(box, forged, "BadSignature")


def test_refunded_once_then_neither_refund_nor_payout_applies() -> None:
    box, record = _withdrawn()
    late = record.expiry + 1
    tx = box.expired(ALICE.address, record.nonce, WETH[0], late)
    assert decode_tx(encode_tx(tx)) == tx
    box.apply([tx])
    assert_rejected(box, tx, "UnknownWithdrawal")
    assert_rejected(box, box.paid(ALICE.address, record.nonce, WETH[0]), "UnknownWithdrawal")


def test_a_paid_withdrawal_cannot_be_refunded() -> None:
    box, record = _withdrawn()
    box.apply([box.paid(ALICE.address, record.nonce, WETH[0])])
    assert_rejected(box, box.expired(ALICE.address, record.nonce, WETH[0], record.expiry + 1),
                    "UnknownWithdrawal")  # fmt: skip


@settings(max_examples=30)
@given(st.lists(st.tuples(st.integers(1, 300), st.booleans()), min_size=1, max_size=6))
def test_refunds_conserve_every_token(withdrawals: list[tuple[int, bool]]) -> None:
    """Credited == held + pending whatever mix of withdrawals is refunded, and every
    refund restores its own sub-account's quanta."""
    box = new_sandbox()
    box.apply([box.credit(ALICE.address, WETH, 2_000, sub_account=s) for s in range(3)])
    txs = [box.withdraw(ALICE, WETH, q, sub_account=n % 3) for n, (q, _) in enumerate(withdrawals)]
    box.apply(txs)
    expiries = [
        box.expired(ALICE.address, tx.nonce, WETH[0], box.state.pending_withdrawals[
            (ALICE.address, tx.nonce)].expiry + 1)
        for tx, (_, refund) in zip(txs, withdrawals, strict=True) if refund
    ]  # fmt: skip
    block = box.apply(expiries)
    assert all(r.is_ok() for r in block.tx_results)
    accounts = box.state.members[ALICE.address].sub_accounts
    pending = box.state.pending_withdrawals.values()
    for s in range(3):
        still_out = sum(r.quanta for r in pending if r.sub_account == s)
        assert accounts[s].collateral.get(WETH, 0) + still_out == 2_000
    assert block.state_root == compute_state_root_from_scratch(box.state)
