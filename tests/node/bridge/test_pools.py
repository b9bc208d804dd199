"""Payout, expiry and withdrawal-signature pools: quorum by exact content, pruning when
paid or refunded."""

from __future__ import annotations

import dataclasses

import pytest

from bridge.observation import InvalidAttestation
from bridge.payouts import sign_payout
from bridge.withdrawal import WithdrawalError, sign_withdrawal_record
from clearing.attestation import verify_quorum_attestations
from clearing.errors import QuorumNotReached
from clearnode.client.sandbox_keys import derive_seed
from node.bridge.gossip import PayoutAttestation
from node.bridge.pools import ExpiryPool, PayoutPool, WithdrawalBook
from tests.node.bridge.support import (
    BRIDGE_KEYS,
    CONSENSUS_KEYS,
    NEW_CONSENSUS_KEY,
    attest_expiry,
    get_genesis,
    get_pubkey,
    get_state_in_force,
    make_expiry,
    make_payout,
    make_record,
)

GENESIS = get_genesis()
NET = GENESIS.chain_id
VALIDATORS = {v.pubkey: v for v in GENESIS.validators}
MEMBERS = tuple((v.evm_address, v.power) for v in GENESIS.validators)


def attest(index: int, nonce: int = 1) -> PayoutAttestation:
    payout = make_payout(nonce)
    return PayoutAttestation(payout, sign_payout(CONSENSUS_KEYS[index], NET, payout))


def test_payout_is_ready_only_with_more_than_two_thirds_on_one_content() -> None:
    pool = PayoutPool(VALIDATORS)
    assert pool.add(attest(0)) and pool.add(attest(1))
    assert not pool.add(attest(1))
    other = make_payout(nonce=2)
    other = dataclasses.replace(other, tx_hash=make_payout().tx_hash)  # same log, other nonce
    pool.add(PayoutAttestation(other, sign_payout(CONSENSUS_KEYS[2], NET, other)))
    assert pool.get_ready() == []
    pool.add(attest(2))
    (ready,) = pool.get_ready()
    assert ready.observation == make_payout()
    signers = [a.signer for a in ready.attestations]
    assert signers == sorted(signers) and len(signers) == 3


def test_expiry_is_ready_with_a_quorum_on_one_block_and_forgotten_once_refunded() -> None:
    pool = ExpiryPool(VALIDATORS)
    assert pool.add(attest_expiry(0, NET, make_expiry())) and pool.add(
        attest_expiry(1, NET, make_expiry())
    )
    assert not pool.add(attest_expiry(1, NET, make_expiry()))
    pool.add(attest_expiry(2, NET, make_expiry(block_number=41)))  # another block: no vote here
    assert pool.get_ready() == []
    pool.add(attest_expiry(3, NET, make_expiry()))
    (ready,) = pool.get_ready()
    assert ready.observation == make_expiry() and len(ready.attestations) == 3
    pool.prune(lambda key: key != (make_expiry().member, 1))
    assert pool.entries
    pool.prune(lambda key: key == (make_expiry().member, 1))
    assert not pool.entries


def test_payout_pool_forgets_paid_withdrawals_only() -> None:
    pool = PayoutPool(VALIDATORS)
    pool.add(attest(0, nonce=1))
    pool.prune(lambda key: False)
    assert pool.entries
    pool.prune(lambda key: key == (make_payout().member, 1))
    assert not pool.entries


def test_attestation_pools_count_the_set_in_force_as_clearing_does() -> None:
    """A quorum of the genesis set is none once governance removes one of its signers:
    the removed key's attestation is dropped (clearing would refuse it); the added
    validator's completes it, and the transaction verifies against the new set."""
    pool = PayoutPool(VALIDATORS)
    for index in (0, 1, 3):
        pool.add(attest(index))
    assert len(pool.get_ready()) == 1
    state = get_state_in_force(GENESIS)
    pool.follow(state.validators)
    assert pool.get_ready() == []
    assert get_pubkey(3) not in pool.entries[pool.get_subject(make_payout())][make_payout()]
    with pytest.raises(InvalidAttestation):
        pool.add(attest(3))
    pool.add(PayoutAttestation(make_payout(), sign_payout(NEW_CONSENSUS_KEY, NET, make_payout())))
    (ready,) = pool.get_ready()
    assert {a.signer for a in ready.attestations} == {get_pubkey(i) for i in (0, 1, 4)}
    message = make_payout().signing_bytes(NET)
    verify_quorum_attestations(state.validators, state.total_power, ready.attestations, message)
    jailed = get_state_in_force(GENESIS, jail=[1])  # 20 of 30 signed: not more than 2/3
    pool.follow(jailed.validators)
    assert pool.get_ready() == []
    with pytest.raises(QuorumNotReached):
        verify_quorum_attestations(jailed.validators, jailed.total_power, ready.attestations,
                                   message)  # fmt: skip


def sign(index: int, epoch: int = 0, key: bytes | None = None):  # type: ignore[no-untyped-def]
    return sign_withdrawal_record(
        make_record(GENESIS), vault=bytes(range(20)), epoch=epoch,
        evm_private_key=BRIDGE_KEYS[index] if key is None else key,
    )  # fmt: skip


def test_withdrawal_book_completes_at_quorum_and_orders_signatures() -> None:
    book = WithdrawalBook(lambda: MEMBERS)
    key = (make_record(GENESIS).member, 1)
    assert book.get_best(key) is None
    for index in range(3):
        assert book.add(sign(index))
    assert not book.add(sign(0))
    book.add(sign(3, epoch=7))  # another digest: kept apart, adds no power
    auth, collected = book.get_best(key)  # type: ignore[misc]
    assert auth.epoch == 0 and collected.is_complete() and len(collected.signatures) == 3
    assert collected.get_ordered() == [
        collected.signatures[s] for s in sorted(collected.signatures)
    ]
    book.prune(lambda k: k == key)
    assert book.get_best(key) is None


def test_withdrawal_book_refuses_a_non_validator_signature() -> None:
    with pytest.raises(WithdrawalError):
        WithdrawalBook(lambda: MEMBERS).add(sign(0, key=derive_seed("evil")))
