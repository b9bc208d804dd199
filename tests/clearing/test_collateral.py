from dataclasses import replace

import pytest

from clearing.assets import MAX_VAULT_QUANTA
from clearing.attestation import Attestation
from clearing.collateral import (
    check_collateral_debit,
    check_deposit_due,
    count_vault_quanta,
    get_collateral_quanta,
    get_pending_withdrawal_quanta,
    is_chain_event_due,
    is_credited,
)
from clearing.errors import DepositNotYetDue, InsufficientCollateral
from clearing.published_ledger import PublishedLedger
from clearing.state import SubAccount
from clearing.transition.root import (
    compute_state_root,
    compute_state_root_from_scratch,
    get_market_proof,
)
from clearnode.client.sandbox_keys import derive_member_key
from tests.clearing.support import ALICE, USDC, WETH, assert_rejected, new_sandbox, only_result


def test_attested_deposit_credits_quanta_once() -> None:
    box = new_sandbox()
    credit = box.credit(ALICE.address, WETH, 2_000_000, sub_account=3, signers=3)
    block = box.apply([credit])
    assert only_result(block) == ("ok", "")
    assert box.state.members[ALICE.address].sub_accounts[3].collateral == {WETH: 2_000_000}
    (event,) = block.tx_results[0].events
    assert event.kind == "collateral_credited" and event.get("quanta") == 2_000_000
    again = box.apply([credit])
    code, detail = only_result(again)
    assert code == "DuplicateCredit" and "deposit_nonce=1" in detail
    assert box.state.members[ALICE.address].sub_accounts[3].collateral == {WETH: 2_000_000}


def test_a_deposit_is_credited_no_earlier_than_its_chain_block() -> None:
    """A block dated before the deposit's chain block refuses the credit and changes
    nothing; the first block at or after it credits it."""
    box = new_sandbox()
    deposit_s = box.next_context().time_ms // 1000 + 3
    credit = box.credit(ALICE.address, USDC, 5, deposit_time_s=deposit_s)
    while box.next_context().time_ms < deposit_s * 1000:
        early_ms = box.next_context().time_ms
        detail = assert_rejected(box, credit, "DepositNotYetDue")
        assert f"deposit_time_s={deposit_s}" in detail and f"block_time_ms={early_ms}" in detail
        assert not is_credited(box.state, credit.observation.key)
    assert box.next_context().time_ms == deposit_s * 1000  # the sandbox's blocks: 1 s apart
    assert only_result(box.apply([credit])) == ("ok", "")
    assert box.state.members[ALICE.address].sub_accounts[0].collateral == {USDC: 5}


def test_a_deposit_is_due_from_its_block_s_whole_second() -> None:
    observation = new_sandbox().credit(ALICE.address, USDC, 5, deposit_time_s=7).observation
    assert [is_chain_event_due(7, t) for t in (6_999, 7_000, 7_001)] == [False, True, True]
    with pytest.raises(DepositNotYetDue) as early:
        check_deposit_due(observation, 6_999)
    assert (early.value.deposit_time_s, early.value.block_time_ms) == (7, 6_999)
    assert early.value.deposit_nonce == observation.deposit_nonce


def test_deposit_without_quorum_is_rejected() -> None:
    box = new_sandbox()
    detail = assert_rejected(box, box.credit(ALICE.address, USDC, 5, signers=2), "QuorumNotReached")
    assert "signed_power=20" in detail and "total_power=40" in detail


def test_deposit_of_unlisted_token_is_rejected() -> None:
    box = new_sandbox()
    assert_rejected(box, box.credit(ALICE.address, (31337, b"\x01" * 20), 5), "UnknownCollateral")


def test_a_forged_attestation_is_rejected() -> None:
    box = new_sandbox()
    credit = box.credit(ALICE.address, USDC, 5)
    forged = Attestation(credit.attestations[0].signer, bytes(64))
    tx = replace(credit, attestations=(forged, *credit.attestations[1:]))
    assert_rejected(box, tx, "BadSignature")


def test_attestations_for_another_observation_do_not_transfer() -> None:
    box = new_sandbox()
    credit = box.credit(ALICE.address, USDC, 5)
    inflated = replace(credit, observation=replace(credit.observation, quanta=5_000_000))
    assert_rejected(box, inflated, "BadSignature")


def test_debit_check_carries_the_numbers() -> None:
    account = SubAccount(collateral={USDC: 10})
    with pytest.raises(InsufficientCollateral) as info:
        check_collateral_debit(account, ALICE.address, 0, USDC, 11)
    assert (info.value.available, info.value.requested) == (10, 11)


def test_vault_quanta_count_credited_and_debited_but_unpaid() -> None:
    box = new_sandbox()
    alice, bob = derive_member_key("vault-alice"), derive_member_key("vault-bob")
    box.apply([box.credit(alice.address, USDC, 100), box.credit(bob.address, USDC, 50)])
    box.apply([box.withdraw(alice, USDC, 30)])
    assert get_collateral_quanta(box.state) == {USDC: 120}
    assert get_pending_withdrawal_quanta(box.state) == {USDC: 30}
    assert count_vault_quanta(box.state) == {USDC: 150}
    (record,) = box.state.pending_withdrawals.values()
    box.apply([box.paid(alice.address, record.nonce, USDC[0])])
    assert get_pending_withdrawal_quanta(box.state) == {}
    assert count_vault_quanta(box.state) == {USDC: 120}


def test_a_deposit_past_the_vaults_room_is_consumed_uncredited_and_the_chain_goes_on() -> None:
    """2^64-1 quanta on one account, then one more quantum on another: crediting it would
    take the token's total past what the root encodes, and stop every validator."""
    box = new_sandbox()
    bob = derive_member_key("vault-bob")
    box.apply([box.credit(ALICE.address, WETH, MAX_VAULT_QUANTA)])
    before = box.state.members.get(bob.address)
    block = box.apply([box.credit(bob.address, WETH, 1, sub_account=2)])
    assert only_result(block) == ("ok", "")
    (event,) = block.tx_results[0].events
    assert event.kind == "collateral_not_credited"
    assert (event.get("reason"), event.get("quanta"), event.get("room")) == ("vault_capacity", 1, 0)
    assert (event.get("member"), event.get("sub_account"), event.get("deposit_nonce")) == (
        bob.address, 2, 2,
    )  # fmt: skip
    assert box.state.members.get(bob.address) == before
    assert box.state.vault_quanta == count_vault_quanta(box.state) == {WETH: MAX_VAULT_QUANTA}
    assert compute_state_root(box.state) == compute_state_root_from_scratch(box.state)
    ledger = PublishedLedger.decode(get_market_proof(box.state).ledger)
    assert [r.collateral for r in ledger.reserves if r.key == WETH] == [MAX_VAULT_QUANTA]
    (again,) = box.apply([box.credit(bob.address, WETH, 1)]).tx_results[0].events
    assert (again.kind, again.get("deposit_nonce")) == ("collateral_not_credited", 3)


def test_a_payout_makes_room_again() -> None:
    box = new_sandbox()
    box.apply([box.credit(ALICE.address, USDC, MAX_VAULT_QUANTA - 10)])
    assert (
        box.apply([box.credit(ALICE.address, USDC, 11)]).tx_results[0].events[0].get("room") == 10
    )
    box.apply([box.withdraw(ALICE, USDC, 5)])
    (event,) = box.apply([box.credit(ALICE.address, USDC, 11)]).tx_results[0].events
    assert event.kind == "collateral_not_credited"  # debited but unpaid: still in the vault
    (record,) = box.state.pending_withdrawals.values()
    box.apply([box.paid(ALICE.address, record.nonce, USDC[0])])
    (event,) = box.apply([box.credit(ALICE.address, USDC, 15)]).tx_results[0].events
    assert event.kind == "collateral_credited" and event.get("quanta") == 15
    assert box.state.vault_quanta == count_vault_quanta(box.state) == {USDC: MAX_VAULT_QUANTA}
