"""Withdrawals: a member-signed request debits collateral; the validators then
sign the resulting ``WithdrawalRecord`` for the vault on its chain.

The settlement token is also how cash leaves: a withdrawal of it takes the
sub-account's quanta of that token first, then positive cash, on any chain
whose vault holds enough settlement tokens for cash
(``state.settlement_reserves``; deposited on one chain, profit can leave on
another). A vault never pays out what the ledger owes others on its chain: the
reserve counts only tokens nobody holds as collateral.

Checks: known token, no uncovered deficit (clearing/default/house.py), unused
nonce, enough quanta / positive cash / reserve, ``check_debit_eligibility``
(equity stays at or above the sub-account's initial margin), and the member's
EIP-712 signature. The record is kept in
``state.pending_withdrawals`` until validators holding more than 2/3 of the
power attest the vault's ``Withdrawn`` log (``WithdrawalPaid``), or, once the vault
can no longer pay it (its ``expiry``, ``genesis.withdrawal_ttl_s`` after the debiting
block's time), attest the vault never used its nonce (``WithdrawalExpired``, which
refunds the debit: withdrawal_expiry.py). Until then the vault holds the tokens
although no member does, and solvency reports count it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from clearing.assets import CollateralKey, CollateralToken
from clearing.attestation import Attestations, compute_signing_bytes, verify_quorum_attestations
from clearing.collateral import (
    check_collateral_debit,
    decrease_collateral,
    decrease_vault_quanta,
    is_chain_event_due,
)
from clearing.context import BlockContext
from clearing.default.house import check_withdrawals_open
from clearing.errors import (
    InsufficientCash,
    InsufficientReserve,
    PayoutNotYetDue,
    UnknownCollateral,
)
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
from clearing.state import (
    ClearingState,
    SubAccount,
    WithdrawalRecord,
    get_pending_withdrawal,
    get_sub_account,
    is_settlement_token,
)
from clearing.transition.eligibility import check_debit_eligibility
from clearing.tx_kind import Priority, Sender, Submitter, TxKind
from clearing.units import MAX_UINT64
from records.declared import Address, ChainId, Declared, Hash, Uint, declare_record


@member_request
@dataclass(frozen=True, slots=True)
class Withdrawal(SignedRequest):
    KIND: ClassVar[int] = 5
    member: SignedAddress
    sub_account: SubAccountNumber
    chain_id: Annotated[int, Integer("uint256", 1, signed_as="assetChainId")]
    token: SignedAddress
    quanta: Annotated[int, Integer("uint256", 1, MAX_UINT64)]
    recipient: SignedAddress
    issued_at_ms: IssuedAtMs
    expires_ms: ExpiresMs
    nonce: Nonce
    signature: Signature


def get_withdrawal_sources(
    state: ClearingState, account: SubAccount, key: CollateralKey, quanta: int
) -> tuple[int, int]:
    """``(from_collateral, from_cash)``: a settlement token is paid from the sub-account's
    quanta of it first and the rest from its cash; any other token from its quanta."""
    if not is_settlement_token(state, key):
        return quanta, 0
    from_collateral = min(quanta, account.collateral.get(key, 0))
    return from_collateral, quanta - from_collateral


def check_cash_payout(
    state: ClearingState, tx: Withdrawal, account: SubAccount, from_cash: int
) -> None:
    """Only positive cash is paid out, and only from what the chain's vault holds for cash."""
    available = max(account.cash, 0)
    if from_cash > available:
        raise InsufficientCash(tx.member, tx.sub_account, available, from_cash)
    reserve = state.settlement_reserves.get(tx.chain_id, 0)
    if from_cash > reserve:
        raise InsufficientReserve(tx.chain_id, reserve, from_cash)


@dataclass(frozen=True, slots=True)
class WithdrawalDebit:
    """What a valid withdrawal takes: quanta of its token, then (the settlement token
    only) cash."""

    token: CollateralToken
    account: SubAccount
    from_collateral: int
    from_cash: int


def check_withdrawal(state: ClearingState, ctx: BlockContext, tx: Withdrawal) -> WithdrawalDebit:
    """Every check of ``process_withdrawal``, nothing written: a known token, withdrawals
    open, the request live and its nonce unused, enough quanta (or cash and reserve),
    equity left at or above the requirement, and the member's signature (the costly
    check last)."""
    key = (tx.chain_id, tx.token)
    token = state.collateral_tokens.get(key)
    if token is None:
        raise UnknownCollateral(tx.chain_id, tx.token)
    check_withdrawals_open(state)
    check_request_unspent(state, ctx.time_ms, tx)
    account = get_sub_account(state, tx.member, tx.sub_account)
    from_collateral, from_cash = get_withdrawal_sources(state, account, key, tx.quanta)
    if from_cash:
        check_cash_payout(state, tx, account, from_cash)
    else:
        check_collateral_debit(account, tx.member, tx.sub_account, key, from_collateral)
    debit = (key, from_collateral) if from_collateral else None
    check_debit_eligibility(state, tx.member, tx.sub_account, account, from_cash, debit)
    check_member_signed(ctx.chain_id, tx)
    return WithdrawalDebit(token, account, from_collateral, from_cash)


def process_withdrawal(state: ClearingState, ctx: BlockContext, tx: Withdrawal) -> list[Event]:
    """Debit collateral (or, for the settlement token, cash) and record what the bridge
    must pay out."""
    debit = check_withdrawal(state, ctx, tx)
    token, account = debit.token, debit.account
    from_collateral, from_cash = debit.from_collateral, debit.from_cash
    key = (tx.chain_id, tx.token)
    spend_nonce(state, tx)
    if from_collateral:
        decrease_collateral(account, key, from_collateral)
    if from_cash:
        account.cash -= from_cash
        state.settlement_reserves[tx.chain_id] -= from_cash
    record = WithdrawalRecord(
        member=tx.member, sub_account=tx.sub_account, chain_id=tx.chain_id, token=tx.token,
        quanta=tx.quanta, amount=tx.quanta * token.quantum, recipient=tx.recipient,
        nonce=tx.nonce, height=ctx.height,
        expiry=ctx.time_ms // 1000 + state.genesis.withdrawal_ttl_s, from_cash=from_cash,
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
            from_cash=from_cash,
        )
    ]


PAID_DOMAIN = "withdrawal-paid"


@declare_record
@dataclass(frozen=True, slots=True)
class PayoutObservation(Declared):
    """The vault's ``Withdrawn(nonce, member, ...)`` log seen on ``chain_id``, in a chain
    block of time ``block_time_s``: no block dated earlier sees it paid."""

    chain_id: ChainId
    vault: Address
    tx_hash: Hash
    log_index: Uint
    member: Address
    nonce: Uint
    block_time_s: Uint  # the timestamp of the log's chain block, unix seconds

    def signing_bytes(self, chain_id: int) -> bytes:
        return compute_signing_bytes(PAID_DOMAIN, chain_id, self.to_fields())


@declare_record
@dataclass(frozen=True, slots=True)
class WithdrawalPaid(Declared):
    KIND: ClassVar[int] = 7
    observation: PayoutObservation
    attestations: Attestations


def check_withdrawal_paid(
    state: ClearingState, chain_id: int, tx: WithdrawalPaid
) -> WithdrawalRecord:
    """The withdrawal is pending and a quorum attests its payout for this chain."""
    obs = tx.observation
    record = get_pending_withdrawal(state, obs.member, obs.nonce, obs.chain_id)
    verify_quorum_attestations(
        state.validators, state.total_power, tx.attestations, obs.signing_bytes(chain_id)
    )
    return record


def check_payout_due(obs: PayoutObservation, block_time_ms: int) -> None:
    """The payout's chain block is no later than the block seeing it. Checked in the
    block, not on admission, as a deposit's is (clearing/collateral.py)."""
    if not is_chain_event_due(obs.block_time_s, block_time_ms):
        raise PayoutNotYetDue(obs.chain_id, obs.member, obs.nonce, obs.block_time_s, block_time_ms)


def process_withdrawal_paid(
    state: ClearingState, ctx: BlockContext, tx: WithdrawalPaid
) -> list[Event]:
    """Forget a pending withdrawal once a quorum attests the vault paid it, in a chain
    block no later than this block."""
    record = check_withdrawal_paid(state, ctx.chain_id, tx)
    check_payout_due(tx.observation, ctx.time_ms)
    obs = tx.observation
    del state.pending_withdrawals[(obs.member, obs.nonce)]
    key = (record.chain_id, record.token)
    state.withdrawals_paid[key] = state.withdrawals_paid.get(key, 0) + record.quanta
    decrease_vault_quanta(state, key, record.quanta)
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


WITHDRAWAL = declare_member_request(Withdrawal, process_withdrawal)


def admit_withdrawal_paid(
    state: ClearingState, ctx: BlockContext, tx: WithdrawalPaid, _raw: bytes
) -> Sender:
    """A quorum attested the payout of a withdrawal still pending; unique by its member
    and nonce."""
    check_withdrawal_paid(state, ctx.chain_id, tx)
    return Sender(b"paid:" + tx.observation.member + b":%d" % tx.observation.nonce)


WITHDRAWAL_PAID = TxKind(
    WithdrawalPaid, admit_withdrawal_paid, process_withdrawal_paid, Priority.SYSTEM,
    Submitter.BRIDGE,
)  # fmt: skip
