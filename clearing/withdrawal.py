"""Withdrawals: a member-signed request debits collateral; the validators then
sign the resulting ``WithdrawalRecord`` for the vault on its chain.

Checks: known token, unused nonce, enough quanta, ``check_debit_eligibility``
(equity stays at or above the sub-account's initial margin),
and the member's EIP-712 signature. The record is kept in
``state.pending_withdrawals`` until validators holding more than 2/3 of the
power attest the vault's ``Withdrawn`` log (``WithdrawalPaid``), or, once the vault
can no longer pay it (its ``expiry``, ``genesis.withdrawal_ttl_s`` after the debiting
block's time), attest the vault never used its nonce (``WithdrawalExpired``, which
refunds the debit: withdrawal_expiry.py). Until then the vault holds the tokens
although no member does, and solvency reports count it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from eth_account.messages import SignableMessage

from clearing.attestation import (
    Attestation,
    compute_signing_bytes,
    decode_attestations,
    verify_quorum_attestations,
)
from clearing.codec import expect_bytes, expect_int, expect_list
from clearing.collateral import MAX_SUB_ACCOUNT, check_collateral_debit, decrease_collateral
from clearing.context import BlockContext
from clearing.eip712 import compute_signable, verify_member_signature
from clearing.eligibility import check_debit_eligibility
from clearing.errors import NonceReused, UnknownCollateral, UnknownWithdrawal
from clearing.events import Event, make_event
from clearing.state import ClearingState, WithdrawalRecord, get_member, get_sub_account
from clearing.units import MAX_UINT64

EIP712_FIELDS = [
    {"name": "member", "type": "address"},
    {"name": "subAccount", "type": "uint32"},
    {"name": "assetChainId", "type": "uint256"},
    {"name": "token", "type": "address"},
    {"name": "quanta", "type": "uint256"},
    {"name": "recipient", "type": "address"},
    {"name": "nonce", "type": "uint64"},
]


@dataclass(frozen=True, slots=True)
class Withdrawal:
    KIND: ClassVar[int] = 5
    member: bytes
    sub_account: int
    chain_id: int
    token: bytes
    quanta: int
    recipient: bytes
    nonce: int
    signature: bytes

    def signable(self, chain_id: int) -> SignableMessage:
        message = {
            "member": "0x" + self.member.hex(),
            "subAccount": self.sub_account,
            "assetChainId": self.chain_id,
            "token": "0x" + self.token.hex(),
            "quanta": self.quanta,
            "recipient": "0x" + self.recipient.hex(),
            "nonce": self.nonce,
        }
        return compute_signable(chain_id, "Withdrawal", EIP712_FIELDS, message)

    def to_fields(self) -> list[object]:
        return [
            self.member, self.sub_account, self.chain_id, self.token, self.quanta,
            self.recipient, self.nonce, self.signature,
        ]  # fmt: skip

    @classmethod
    def from_fields(cls, fields: list[Any]) -> Withdrawal:
        f = expect_list(fields, "Withdrawal", 8)
        return cls(
            member=expect_bytes(f[0], "member", 20),
            sub_account=expect_int(f[1], "sub_account", 0, MAX_SUB_ACCOUNT),
            chain_id=expect_int(f[2], "chain_id", 1),
            token=expect_bytes(f[3], "token", 20),
            quanta=expect_int(f[4], "quanta", 1, MAX_UINT64),
            recipient=expect_bytes(f[5], "recipient", 20),
            nonce=expect_int(f[6], "nonce"),
            signature=expect_bytes(f[7], "signature", 65),
        )


def process_withdrawal(state: ClearingState, ctx: BlockContext, tx: Withdrawal) -> list[Event]:
    """Debit collateral and record what the bridge must pay out."""
    key = (tx.chain_id, tx.token)
    token = state.collateral_tokens.get(key)
    if token is None:
        raise UnknownCollateral(tx.chain_id, tx.token)
    if tx.nonce in get_member(state, tx.member).used_nonces:
        raise NonceReused(tx.member, tx.nonce)
    account = get_sub_account(state, tx.member, tx.sub_account)
    check_collateral_debit(account, tx.member, tx.sub_account, key, tx.quanta)
    check_debit_eligibility(state, tx.member, tx.sub_account, account, 0, (key, tx.quanta))
    verify_member_signature(tx.member, tx.signable(ctx.chain_id), tx.signature, "Withdrawal")
    state.dirty.add(tx.member)
    state.members[tx.member].used_nonces.add(tx.nonce)
    decrease_collateral(account, key, tx.quanta)
    record = WithdrawalRecord(
        member=tx.member, sub_account=tx.sub_account, chain_id=tx.chain_id, token=tx.token,
        quanta=tx.quanta, amount=tx.quanta * token.quantum, recipient=tx.recipient,
        nonce=tx.nonce, height=ctx.height,
        expiry=ctx.time_ms // 1000 + state.genesis.withdrawal_ttl_s,
    )  # fmt: skip
    state.pending_withdrawals[(tx.member, tx.nonce)] = record
    return [
        make_event(
            "withdrawal",
            member=tx.member,
            sub_account=tx.sub_account,
            chain_id=tx.chain_id,
            token=tx.token,
            quanta=tx.quanta,
            amount=record.amount,
            recipient=tx.recipient,
            nonce=tx.nonce,
            expiry=record.expiry,
        )
    ]


PAID_DOMAIN = "withdrawal-paid"


@dataclass(frozen=True, slots=True)
class PayoutObservation:
    """The vault's ``Withdrawn(nonce, member, ...)`` log seen on ``chain_id``."""

    chain_id: int
    vault: bytes
    tx_hash: bytes
    log_index: int
    member: bytes
    nonce: int

    def to_fields(self) -> list[object]:
        return [self.chain_id, self.vault, self.tx_hash, self.log_index, self.member, self.nonce]

    @classmethod
    def from_fields(cls, obj: object) -> PayoutObservation:
        f = expect_list(obj, "PayoutObservation", 6)
        return cls(
            chain_id=expect_int(f[0], "chain_id", 1),
            vault=expect_bytes(f[1], "vault", 20),
            tx_hash=expect_bytes(f[2], "tx_hash", 32),
            log_index=expect_int(f[3], "log_index"),
            member=expect_bytes(f[4], "member", 20),
            nonce=expect_int(f[5], "nonce"),
        )

    def signing_bytes(self, chain_id: int) -> bytes:
        return compute_signing_bytes(PAID_DOMAIN, chain_id, self.to_fields())


@dataclass(frozen=True, slots=True)
class WithdrawalPaid:
    KIND: ClassVar[int] = 7
    observation: PayoutObservation
    attestations: tuple[Attestation, ...]

    def to_fields(self) -> list[object]:
        return [self.observation.to_fields(), [a.to_fields() for a in self.attestations]]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> WithdrawalPaid:
        observation, attestations = expect_list(fields, "WithdrawalPaid", 2)
        return cls(PayoutObservation.from_fields(observation), decode_attestations(attestations))


def process_withdrawal_paid(
    state: ClearingState, ctx: BlockContext, tx: WithdrawalPaid
) -> list[Event]:
    """Forget a pending withdrawal once a quorum attests the vault paid it."""
    obs = tx.observation
    record = state.pending_withdrawals.get((obs.member, obs.nonce))
    if record is None or record.chain_id != obs.chain_id:
        raise UnknownWithdrawal(obs.member, obs.nonce, obs.chain_id)
    verify_quorum_attestations(
        state.validators, state.total_power, tx.attestations, obs.signing_bytes(ctx.chain_id)
    )
    del state.pending_withdrawals[(obs.member, obs.nonce)]
    return [
        make_event(
            "withdrawal_paid",
            member=obs.member,
            nonce=obs.nonce,
            chain_id=obs.chain_id,
            token=record.token,
            quanta=record.quanta,
            amount=record.amount,
            tx_hash=obs.tx_hash,
        )
    ]
