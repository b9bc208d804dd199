"""Expired withdrawals: a debit the vault can no longer pay is refunded, never lost.

The vault refuses a withdrawal once its block's timestamp is past the signed
``expiry`` (``Expired``), and the validators sign exactly ``record.expiry``. So if
the vault says at chain block ``B`` (timestamp > expiry) that the member's nonce
was never used, no block can use it afterwards: every later block's timestamp is
past the expiry too. Validators holding more than 2/3 of the power attest that
reading (``ExpiryObservation``, its own signing domain); ``WithdrawalExpired`` then
gives the debit back to the sub-account it came from and forgets the record.
Re-signing the withdrawal is never the refund: its nonce is spent by the debit.

Checks before changes: the record is pending on the observed chain, the observed
block is past its expiry, the attestations reach quorum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from clearing.attestation import Attestations, compute_signing_bytes, verify_quorum_attestations
from clearing.collateral import increase_collateral
from clearing.context import BlockContext
from clearing.errors import WithdrawalNotExpired
from clearing.events import Event, make_event
from clearing.state import (
    ClearingState,
    WithdrawalRecord,
    get_pending_withdrawal,
    get_sub_account_for_write,
)
from clearing.tx_kind import Priority, Sender, Submitter, TxKind
from records.declared import Address, ChainId, Declared, Uint, declare_record

EXPIRED_DOMAIN = "withdrawal-expired"


@declare_record
@dataclass(frozen=True, slots=True)
class ExpiryObservation(Declared):
    """The vault on ``chain_id`` showed ``(member, nonce)`` unused at block
    ``block_number``, whose timestamp is ``block_time_s`` (unix seconds)."""

    chain_id: ChainId
    vault: Address
    member: Address
    nonce: Uint
    block_number: Uint
    block_time_s: Uint

    def signing_bytes(self, chain_id: int) -> bytes:
        return compute_signing_bytes(EXPIRED_DOMAIN, chain_id, self.to_fields())


@declare_record
@dataclass(frozen=True, slots=True)
class WithdrawalExpired(Declared):
    KIND: ClassVar[int] = 20
    observation: ExpiryObservation
    attestations: Attestations


def check_withdrawal_expired(
    state: ClearingState, chain_id: int, tx: WithdrawalExpired
) -> WithdrawalRecord:
    """The withdrawal is pending, the chain's block is past its expiry, and a quorum
    attests the vault never used its nonce."""
    obs = tx.observation
    record = get_pending_withdrawal(state, obs.member, obs.nonce, obs.chain_id)
    if obs.block_time_s <= record.expiry:
        raise WithdrawalNotExpired(obs.member, obs.nonce, record.expiry, obs.block_time_s)
    verify_quorum_attestations(
        state.validators, state.total_power, tx.attestations, obs.signing_bytes(chain_id)
    )
    return record


def process_withdrawal_expired(
    state: ClearingState, ctx: BlockContext, tx: WithdrawalExpired
) -> list[Event]:
    """Refund a pending withdrawal a quorum attests the vault can never pay."""
    record = check_withdrawal_expired(state, ctx.chain_id, tx)
    obs = tx.observation
    refund_withdrawal(state, record)
    del state.pending_withdrawals[(obs.member, obs.nonce)]
    return [
        make_event(
            "withdrawal_refunded",
            member=record.member,
            sub_account=record.sub_account,
            chain_id=record.chain_id,
            token=record.token,
            quanta=record.quanta,
            amount=record.amount,
            nonce=record.nonce,
            expiry=record.expiry,
            block_number=obs.block_number,
            block_time_s=obs.block_time_s,
        )
    ]


def refund_withdrawal(state: ClearingState, record: WithdrawalRecord) -> None:
    """Give back exactly what ``process_withdrawal`` debited, to the same sub-account: the
    quanta taken from collateral, and the cash part (whose tokens stayed in the vault, so
    they back cash on that chain again)."""
    account = get_sub_account_for_write(state, record.member, record.sub_account)
    from_collateral = record.quanta - record.from_cash
    if from_collateral:
        increase_collateral(account, (record.chain_id, record.token), from_collateral)
    if record.from_cash:
        account.cash += record.from_cash
        reserves = state.settlement_reserves
        reserves[record.chain_id] = reserves.get(record.chain_id, 0) + record.from_cash


def admit_withdrawal_expired(
    state: ClearingState, ctx: BlockContext, tx: WithdrawalExpired, _raw: bytes
) -> Sender:
    """A quorum attested that a pending withdrawal expired unpaid; unique by its member
    and nonce."""
    check_withdrawal_expired(state, ctx.chain_id, tx)
    return Sender(b"expired:" + tx.observation.member + b":%d" % tx.observation.nonce)


WITHDRAWAL_EXPIRED = TxKind(
    WithdrawalExpired, admit_withdrawal_expired, process_withdrawal_expired, Priority.SYSTEM,
    Submitter.BRIDGE,
)  # fmt: skip
