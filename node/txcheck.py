"""Mempool admission for clearing transactions: the `check` the mempool calls.

Stateless and cheap-state checks only — decoding, signatures bound to this chain,
replays of nonces, trade ids and chain logs already in the state — so that a
transaction which can never apply does not take gossip bandwidth or block space.
The full rules still run in `clearing.block.process_block`; this never mutates state.
Each transaction kind names its sender and nonce for the mempool's per-sender order:
venues order by batch id, members by request nonce; attested chain events and
price updates are keyed by what makes them unique.
"""

from __future__ import annotations

from collections.abc import Callable

from clearing.attestation import is_valid_signature, verify_quorum_attestations
from clearing.client_requests import AcceptClientAccount, OfferClientAccount
from clearing.collateral import CollateralCredit
from clearing.context import BlockContext
from clearing.default.bidding import AuctionBid, RegisterBidder
from clearing.eip712 import verify_member_signature
from clearing.errors import (
    BadSignature,
    NonceReused,
    UnknownVenue,
    UnknownWithdrawal,
)
from clearing.governance.submit import GovProposal, check_gov_proposal
from clearing.governance.vote import GovVote, check_gov_vote
from clearing.oracle import PriceUpdate
from clearing.replay import check_deposit_nonce, check_trade_id
from clearing.report_commitment import ReportCommitment, check_report_commitment
from clearing.state import ClearingState
from clearing.trade import TradeBatch
from clearing.transfer import Transfer
from clearing.tx import Transaction, decode_tx
from clearing.venues import AuthoriseVenue
from clearing.withdrawal import Withdrawal, WithdrawalPaid
from clearing.withdrawal_expiry import WithdrawalExpired
from node.mempool import CheckFn, CheckResult, compute_tx_hash

# Bridge and oracle inputs move collateral and prices: order them ahead of trades.
PRIORITY_SYSTEM = 2
PRIORITY_MEMBER = 1
PRIORITY_TRADES = 0


def check_trade_batch(state: ClearingState, tx: TradeBatch) -> CheckResult:
    venue = state.venues.get(tx.venue_id)
    if venue is None:
        raise UnknownVenue(tx.venue_id)
    if not is_valid_signature(venue.pubkey, tx.signature, tx.signing_bytes(state.chain_id)):
        raise BadSignature("TradeBatch", venue.pubkey)
    for trade in tx.trades:
        check_trade_id(
            state.trade_windows, state.genesis.trade_id_window, tx.venue_id, trade.trade_id
        )
    return CheckResult(b"venue:" + tx.venue_id.encode(), tx.batch_id, PRIORITY_TRADES)


def check_member_request(
    state: ClearingState,
    tx: Transfer
    | Withdrawal
    | AuthoriseVenue
    | RegisterBidder
    | AuctionBid
    | OfferClientAccount
    | AcceptClientAccount,
) -> CheckResult:
    member = state.members.get(tx.member)
    if member is not None and tx.nonce in member.used_nonces:
        raise NonceReused(tx.member, tx.nonce)
    verify_member_signature(
        tx.member, tx.signable(state.chain_id), tx.signature, type(tx).__name__, state.chain_id
    )
    return CheckResult(tx.member, tx.nonce, PRIORITY_MEMBER)


def check_collateral_credit(state: ClearingState, tx: CollateralCredit) -> CheckResult:
    obs = tx.observation
    check_deposit_nonce(state.deposit_nonces, obs.chain_id, obs.vault, obs.deposit_nonce)
    verify_quorum_attestations(
        state.validators, state.total_power, tx.attestations, obs.signing_bytes(state.chain_id)
    )
    key = b"credit:%d:" % obs.chain_id + obs.vault + b":%d" % obs.deposit_nonce
    return CheckResult(key, 0, PRIORITY_SYSTEM)


def check_withdrawal_cleared(
    state: ClearingState, tx: WithdrawalPaid | WithdrawalExpired
) -> CheckResult:
    """A payout or an expiry of a pending withdrawal, attested by a quorum."""
    obs = tx.observation
    record = state.pending_withdrawals.get((obs.member, obs.nonce))
    if record is None or record.chain_id != obs.chain_id:
        raise UnknownWithdrawal(obs.member, obs.nonce, obs.chain_id)
    verify_quorum_attestations(
        state.validators, state.total_power, tx.attestations, obs.signing_bytes(state.chain_id)
    )
    prefix = b"paid:" if isinstance(tx, WithdrawalPaid) else b"expired:"
    return CheckResult(prefix + obs.member + b":%d" % obs.nonce, 0, PRIORITY_SYSTEM)


def check_price_update(state: ClearingState, tx: PriceUpdate, raw: bytes) -> CheckResult:
    for o in tx.observations:
        if not is_valid_signature(o.signer, o.signature, o.signing_bytes(state.chain_id)):
            raise BadSignature("PriceObservation", o.signer)
    return CheckResult(b"price:" + compute_tx_hash(raw), 0, PRIORITY_SYSTEM)


def check_report_commitment_tx(state: ClearingState, tx: ReportCommitment) -> CheckResult:
    check_report_commitment(state, state.chain_id, tx)
    return CheckResult(b"report:%d:" % tx.epoch + tx.report_hash, 0, PRIORITY_SYSTEM)


def check_governance(state: ClearingState, tx: GovProposal | GovVote) -> CheckResult:
    """Valid at the next height as the block will check it (signed by a validator, the
    heights in range, every change valid; a ballot on a proposal still voting, newer than
    the validator's last), so a submitter hears the refusal; a validator's ballots on one
    proposal are ordered by their sequence."""
    ctx = BlockContext(state.height + 1, state.time_ms, state.chain_id)
    if isinstance(tx, GovProposal):
        digest = check_gov_proposal(state, ctx, tx)
        return CheckResult(b"gov-proposal:" + digest, 0, PRIORITY_SYSTEM)
    check_gov_vote(state, ctx, tx)
    sender = b"gov-vote:%d:" % tx.proposal_id + tx.voter
    return CheckResult(sender, tx.sequence, PRIORITY_SYSTEM)


def check_transaction(state: ClearingState, tx: Transaction, raw: bytes) -> CheckResult:
    if isinstance(tx, TradeBatch):
        return check_trade_batch(state, tx)
    if isinstance(tx, Transfer | Withdrawal | AuthoriseVenue | RegisterBidder | AuctionBid
                  | OfferClientAccount | AcceptClientAccount):  # fmt: skip
        return check_member_request(state, tx)
    if isinstance(tx, CollateralCredit):
        return check_collateral_credit(state, tx)
    if isinstance(tx, WithdrawalPaid | WithdrawalExpired):
        return check_withdrawal_cleared(state, tx)
    if isinstance(tx, ReportCommitment):
        return check_report_commitment_tx(state, tx)
    if isinstance(tx, GovProposal | GovVote):
        return check_governance(state, tx)
    return check_price_update(state, tx, raw)


def make_clearing_check(get_state: Callable[[], ClearingState]) -> CheckFn:
    """A mempool check against the node's current clearing state (read, never written)."""

    def check(raw: bytes) -> CheckResult:
        return check_transaction(get_state(), decode_tx(raw), raw)

    return check
