"""Transfers between a member's own sub-accounts: cash or one collateral token.

Member-signed (EIP-712), nonce used once. ``asset_chain_id == 0`` (and the
zero token) means settlement cash; otherwise the collateral ``(chain, token)``.
Eligibility: the source holds the amount (cash may not go below zero by a
transfer) and passes ``check_debit_eligibility`` (initial margin stays covered).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from clearing.collateral import (
    check_collateral_debit,
    decrease_collateral,
    increase_collateral,
)
from clearing.context import BlockContext
from clearing.errors import InsufficientCash, SameSubAccount, UnknownCollateral
from clearing.events import Event, make_event
from clearing.member_authorisation import (
    check_member_signed,
    check_request_unspent,
    declare_member_request,
    spend_nonce,
)
from clearing.request_schema import (
    ExpiresMs,
    Integer,
    IssuedAtMs,
    Nonce,
    Signature,
    SignedAddress,
    SignedRequest,
    SubAccountNumber,
    member_request,
)
from clearing.state import ClearingState, get_sub_account, get_sub_account_for_write
from clearing.transition.eligibility import check_debit_eligibility
from clearing.units import MAX_UINT64

CASH_CHAIN_ID = 0
ZERO_ADDRESS = bytes(20)


@member_request
@dataclass(frozen=True, slots=True)
class Transfer(SignedRequest):
    KIND: ClassVar[int] = 4
    member: SignedAddress
    from_sub_account: SubAccountNumber
    to_sub_account: SubAccountNumber
    asset_chain_id: Annotated[int, Integer("uint256")]
    token: SignedAddress
    # Amount for cash, Quanta for collateral
    amount: Annotated[int, Integer("uint256", 1, MAX_UINT64)]
    issued_at_ms: IssuedAtMs
    expires_ms: ExpiresMs
    nonce: Nonce
    signature: Signature

    def is_cash(self) -> bool:
        return self.asset_chain_id == CASH_CHAIN_ID


def check_transfer(state: ClearingState, ctx: BlockContext, tx: Transfer) -> None:
    """Every check of ``process_transfer``, nothing written: two different sub-accounts,
    a known token, the request live and its nonce unused, enough in the source, equity
    left at or above its requirement, and the member's signature (the costly check
    last)."""
    if tx.from_sub_account == tx.to_sub_account:
        raise SameSubAccount(tx.member, tx.from_sub_account)
    key = (tx.asset_chain_id, tx.token)
    if not tx.is_cash() and key not in state.collateral_tokens:
        raise UnknownCollateral(tx.asset_chain_id, tx.token)
    check_request_unspent(state, ctx.time_ms, tx)
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


def process_transfer(state: ClearingState, ctx: BlockContext, tx: Transfer) -> list[Event]:
    """Move cash or collateral between two sub-accounts of the signer."""
    check_transfer(state, ctx, tx)
    spend_nonce(state, tx)
    key = (tx.asset_chain_id, tx.token)
    source = get_sub_account(state, tx.member, tx.from_sub_account)
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


TRANSFER = declare_member_request(Transfer, process_transfer)
