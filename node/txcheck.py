"""Mempool admission for clearing transactions: the `check` the mempool calls.

Clearing's own checks of what can never change before the transaction applies —
decoding, signatures bound to this chain, a signed request's times as the next block
will judge them (`get_next_context`: a lifetime over the limit, an expiry already past;
and one issued ahead of that time, the one refusal a later time may lift, which its
`IssuedInFuture` says), replays of nonces, trade ids, chain logs and price observations
already in the state — so that a transaction which cannot apply does not
take gossip bandwidth or block space. Checks that the next blocks may change (margin,
balances) run only in `clearing.block.process_block`; this never mutates state.
Each transaction kind names its sender and nonce for the mempool's per-sender order:
venues order by batch id, members by request nonce; attested chain events and
price updates are keyed by what makes them unique.
"""

from __future__ import annotations

from collections.abc import Callable

from clearing.collateral import CollateralCredit, check_collateral_credit
from clearing.context import BlockContext
from clearing.governance.submit import GovProposal, check_gov_proposal
from clearing.governance.vote import GovVote, check_gov_vote
from clearing.member_authorisation import check_member_request
from clearing.oracle import PriceUpdate, check_price_update
from clearing.replay_protection import check_trade_id
from clearing.report_commitment import ReportCommitment, check_report_commitment
from clearing.request_schema import SignedRequest
from clearing.state import ClearingState
from clearing.trade import TradeBatch, check_trade_batch
from clearing.tx import Transaction, decode_tx
from clearing.withdrawal import WithdrawalPaid, check_withdrawal_paid
from clearing.withdrawal_expiry import WithdrawalExpired, check_withdrawal_expired
from consensus.compact import compute_tx_hash
from node.mempool import CheckFn, CheckResult

# Bridge and oracle inputs move collateral and prices: order them ahead of trades.
PRIORITY_SYSTEM = 2
PRIORITY_MEMBER = 1
PRIORITY_TRADES = 0


def get_next_context(state: ClearingState, now_ms: int | None = None) -> BlockContext:
    """The next block as admission judges by it: at the latest committed block's time, or
    at this node's clock `now_ms` if later, as a proposer times its block (consensus:
    the later of its clock and the previous block's time + 1). A request expired by then
    can never apply; without the clock, the committed time can be far behind it (the
    genesis's before the first block, a halt) and a request signed now would look as
    if it were issued in the future."""
    time_ms = state.time_ms if now_ms is None else max(state.time_ms, now_ms)
    return BlockContext(state.height + 1, time_ms, state.chain_id)


def admit_trade_batch(
    state: ClearingState, tx: TradeBatch, now_ms: int | None = None
) -> CheckResult:
    """Live and signed by its venue; refused whole if a trade id is spent (the block would
    reject that trade, so the batch is not what the venue meant)."""
    check_trade_batch(state, get_next_context(state, now_ms), tx)
    for trade in tx.trades:
        check_trade_id(
            state.trade_windows, state.genesis.trade_id_window, tx.venue_id, trade.trade_id
        )
    return CheckResult(b"venue:" + tx.venue_id.encode(), tx.batch_id, PRIORITY_TRADES)


def admit_member_request(
    state: ClearingState, tx: SignedRequest, now_ms: int | None = None
) -> CheckResult:
    check_member_request(state, get_next_context(state, now_ms), tx)
    return CheckResult(tx.member, tx.nonce, PRIORITY_MEMBER)


def admit_credit(state: ClearingState, tx: CollateralCredit) -> CheckResult:
    check_collateral_credit(state, state.chain_id, tx)
    obs = tx.observation
    key = b"credit:%d:" % obs.chain_id + obs.vault + b":%d" % obs.deposit_nonce
    return CheckResult(key, 0, PRIORITY_SYSTEM)


def admit_withdrawal_cleared(
    state: ClearingState, tx: WithdrawalPaid | WithdrawalExpired
) -> CheckResult:
    """A payout or an expiry of a pending withdrawal, attested by a quorum."""
    if isinstance(tx, WithdrawalPaid):
        check_withdrawal_paid(state, state.chain_id, tx)
    else:
        check_withdrawal_expired(state, state.chain_id, tx)
    obs = tx.observation
    prefix = b"paid:" if isinstance(tx, WithdrawalPaid) else b"expired:"
    return CheckResult(prefix + obs.member + b":%d" % obs.nonce, 0, PRIORITY_SYSTEM)


def admit_price_update(
    state: ClearingState, tx: PriceUpdate, raw: bytes, now_ms: int | None = None
) -> CheckResult:
    """As the next block will count it (signers of the set in force, known ids, a quorum of
    observations fresh at its time and newer than those applied), so an update that
    cannot move a price never takes a trade's place: it is ordered ahead of them."""
    check_price_update(state, get_next_context(state, now_ms), tx)
    return CheckResult(b"price:" + compute_tx_hash(raw), 0, PRIORITY_SYSTEM)


def admit_report_commitment(state: ClearingState, tx: ReportCommitment) -> CheckResult:
    check_report_commitment(state, state.chain_id, tx)
    return CheckResult(b"report:%d:" % tx.epoch + tx.report_hash, 0, PRIORITY_SYSTEM)


def admit_governance(state: ClearingState, tx: GovProposal | GovVote) -> CheckResult:
    """Valid at the next height as the block will check it (signed by a validator, the
    heights in range, every change valid; a ballot on a proposal still voting, newer than
    the validator's last), so a submitter hears the refusal; a validator's ballots on one
    proposal are ordered by their sequence."""
    ctx = get_next_context(state)
    if isinstance(tx, GovProposal):
        digest = check_gov_proposal(state, ctx, tx)
        return CheckResult(b"gov-proposal:" + digest, 0, PRIORITY_SYSTEM)
    check_gov_vote(state, ctx, tx)
    sender = b"gov-vote:%d:" % tx.proposal_id + tx.voter
    return CheckResult(sender, tx.sequence, PRIORITY_SYSTEM)


def admit_transaction(
    state: ClearingState, tx: Transaction, raw: bytes, now_ms: int | None = None
) -> CheckResult:
    """`now_ms`: the node's clock, when it has one (see `get_next_context`)."""
    if isinstance(tx, TradeBatch):
        return admit_trade_batch(state, tx, now_ms)
    if isinstance(tx, SignedRequest):
        return admit_member_request(state, tx, now_ms)
    if isinstance(tx, CollateralCredit):
        return admit_credit(state, tx)
    if isinstance(tx, WithdrawalPaid | WithdrawalExpired):
        return admit_withdrawal_cleared(state, tx)
    if isinstance(tx, ReportCommitment):
        return admit_report_commitment(state, tx)
    if isinstance(tx, GovProposal | GovVote):
        return admit_governance(state, tx)
    return admit_price_update(state, tx, raw, now_ms)


def make_clearing_check(
    get_state: Callable[[], ClearingState], clock_ms: Callable[[], int] | None = None
) -> CheckFn:
    """A mempool check against the node's current clearing state (read, never written)
    and, for expiries, its clock (None: the committed block's time alone)."""

    def check(raw: bytes) -> CheckResult:
        now_ms = None if clock_ms is None else clock_ms()
        return admit_transaction(get_state(), decode_tx(raw), raw, now_ms)

    return check
