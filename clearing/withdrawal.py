"""Withdrawals: a member-signed request debits collateral; the validators then
sign the resulting ``WithdrawalRecord`` for the vault on its chain.

Checks: known token, unused nonce, enough quanta, ``check_debit_eligibility``
(equity stays at or above the requirement: 0 today, initial margin with RISK),
and the member's EIP-712 signature. The record is kept in
``state.pending_withdrawals`` until the bridge reports it paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from eth_account.messages import SignableMessage

from clearing.codec import expect_bytes, expect_int, expect_list
from clearing.collateral import MAX_SUB_ACCOUNT, check_collateral_debit, decrease_collateral
from clearing.context import BlockContext
from clearing.eip712 import compute_signable, verify_member_signature
from clearing.eligibility import check_debit_eligibility
from clearing.errors import NonceReused, UnknownCollateral
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
        )
    ]
