"""Transfers between a member's own sub-accounts: cash or one collateral token.

Member-signed (EIP-712), nonce used once. ``asset_chain_id == 0`` (and the
zero token) means settlement cash; otherwise the collateral ``(chain, token)``.
Eligibility: the source holds the amount (cash may not go below zero by a
transfer) and passes ``check_debit_eligibility`` (initial margin stays covered).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from eth_account.messages import SignableMessage

from clearing.codec import expect_bytes, expect_int, expect_list
from clearing.collateral import (
    MAX_SUB_ACCOUNT,
    check_collateral_debit,
    decrease_collateral,
    increase_collateral,
)
from clearing.context import BlockContext
from clearing.eip712 import compute_signable
from clearing.eligibility import check_debit_eligibility
from clearing.errors import InsufficientCash, SameSubAccount, UnknownCollateral
from clearing.events import Event, make_event
from clearing.member_authorisation import check_member_signed, check_nonce_unused, spend_nonce
from clearing.state import ClearingState, get_sub_account, get_sub_account_for_write
from clearing.units import MAX_UINT64

CASH_CHAIN_ID = 0
ZERO_ADDRESS = bytes(20)

EIP712_FIELDS = [
    {"name": "member", "type": "address"},
    {"name": "fromSubAccount", "type": "uint32"},
    {"name": "toSubAccount", "type": "uint32"},
    {"name": "assetChainId", "type": "uint256"},
    {"name": "token", "type": "address"},
    {"name": "amount", "type": "uint256"},
    {"name": "nonce", "type": "uint64"},
]


@dataclass(frozen=True, slots=True)
class Transfer:
    KIND: ClassVar[int] = 4
    member: bytes
    from_sub_account: int
    to_sub_account: int
    asset_chain_id: int
    token: bytes
    amount: int  # Amount for cash, Quanta for collateral
    nonce: int
    signature: bytes

    def is_cash(self) -> bool:
        return self.asset_chain_id == CASH_CHAIN_ID

    def signable(self, chain_id: int) -> SignableMessage:
        message = {
            "member": "0x" + self.member.hex(),
            "fromSubAccount": self.from_sub_account,
            "toSubAccount": self.to_sub_account,
            "assetChainId": self.asset_chain_id,
            "token": "0x" + self.token.hex(),
            "amount": self.amount,
            "nonce": self.nonce,
        }
        return compute_signable(chain_id, "Transfer", EIP712_FIELDS, message)

    def to_fields(self) -> list[object]:
        return [
            self.member, self.from_sub_account, self.to_sub_account, self.asset_chain_id,
            self.token, self.amount, self.nonce, self.signature,
        ]  # fmt: skip

    @classmethod
    def from_fields(cls, fields: list[Any]) -> Transfer:
        f = expect_list(fields, "Transfer", 8)
        return cls(
            member=expect_bytes(f[0], "member", 20),
            from_sub_account=expect_int(f[1], "from_sub_account", 0, MAX_SUB_ACCOUNT),
            to_sub_account=expect_int(f[2], "to_sub_account", 0, MAX_SUB_ACCOUNT),
            asset_chain_id=expect_int(f[3], "asset_chain_id"),
            token=expect_bytes(f[4], "token", 20),
            amount=expect_int(f[5], "amount", 1, MAX_UINT64),
            nonce=expect_int(f[6], "nonce"),
            signature=expect_bytes(f[7], "signature", 65),
        )


def process_transfer(state: ClearingState, ctx: BlockContext, tx: Transfer) -> list[Event]:
    """Move cash or collateral between two sub-accounts of the signer."""
    if tx.from_sub_account == tx.to_sub_account:
        raise SameSubAccount(tx.member, tx.from_sub_account)
    key = (tx.asset_chain_id, tx.token)
    if not tx.is_cash() and key not in state.collateral_tokens:
        raise UnknownCollateral(tx.asset_chain_id, tx.token)
    check_nonce_unused(state, tx.member, tx.nonce)
    source = get_sub_account(state, tx.member, tx.from_sub_account)
    if tx.is_cash():
        if tx.amount > source.cash:
            raise InsufficientCash(tx.member, tx.from_sub_account, source.cash, tx.amount)
    else:
        check_collateral_debit(source, tx.member, tx.from_sub_account, key, tx.amount)
    check_debit_eligibility(
        state, tx.member, tx.from_sub_account, source,
        tx.amount if tx.is_cash() else 0, None if tx.is_cash() else (key, tx.amount),
    )  # fmt: skip
    check_member_signed(ctx.chain_id, tx)
    spend_nonce(state, tx)
    target = get_sub_account_for_write(state, tx.member, tx.to_sub_account)
    if tx.is_cash():
        source.cash -= tx.amount
        target.cash += tx.amount
    else:
        decrease_collateral(source, key, tx.amount)
        increase_collateral(target, key, tx.amount)
    return [
        make_event(
            "transfer",
            member=tx.member,
            from_sub_account=tx.from_sub_account,
            to_sub_account=tx.to_sub_account,
            asset_chain_id=tx.asset_chain_id,
            token=tx.token,
            amount=tx.amount,
            nonce=tx.nonce,
        )
    ]
