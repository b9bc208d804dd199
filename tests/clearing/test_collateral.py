from dataclasses import replace

import pytest

from clearing.attestation import Attestation
from clearing.collateral import (
    check_collateral_debit,
    get_collateral_quanta,
    get_pending_withdrawal_quanta,
    get_vault_quanta,
)
from clearing.errors import InsufficientCollateral
from clearing.state import SubAccount
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
    assert get_vault_quanta(box.state) == {USDC: 150}
    (record,) = box.state.pending_withdrawals.values()
    box.apply([box.paid(alice.address, record.nonce, USDC[0])])
    assert get_pending_withdrawal_quanta(box.state) == {}
    assert get_vault_quanta(box.state) == {USDC: 120}
