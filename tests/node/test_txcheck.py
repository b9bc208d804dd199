"""Mempool admission refuses replays by the ledger's own rules (clearing/replay_protection.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from clearing.errors import (
    ClearingError,
    DuplicateCredit,
    DuplicateTrade,
    ExpiryTooFar,
    IssuedInFuture,
    NonceReused,
    ObservationNotNewer,
    QuorumNotReached,
    RequestExpired,
    StaleObservation,
    StaleTradeId,
    UnknownCollateral,
    UnknownSigner,
    UnknownWithdrawal,
    WithdrawalNotExpired,
)
from clearing.genesis import Venue
from clearing.governance.errors import (
    DelayTooShort,
    DuplicateProposal,
    NotAValidator,
    StaleVote,
    UnknownProposal,
    VenueListed,
    VotingClosed,
)
from clearing.governance_changes import AddVenue, RemoveVenue
from clearing.governance_proposal import VoteChoice
from clearing.oracle import PriceUpdate, sign_price_observation
from clearing.report_commitment import REPORT_DOMAIN, ReportAlreadyCommitted, ReportCommitment
from clearing.transition.admission import admit_transaction
from clearing.transition.trade import Trade, sign_trade_batch
from clearing.transition.tx import decode_tx, encode_tx
from clearnode.client.sandbox_keys import derive_ed25519_key
from devnet.sandbox import Sandbox
from node.txcheck import make_clearing_check
from tests.clearing.governance.support import (
    MIN_DELAY,
    ballots,
    gov_sandbox,
    next_future_listing,
    propose,
    run_until,
    submit,
)
from tests.clearing.support import ALICE, BOB, USDC, genesis_doc

W = 8


def windowed_box() -> Sandbox:
    doc = genesis_doc()
    doc["trade_id_window"] = W
    box = Sandbox.from_genesis_doc(doc)
    funded = [box.credit(m.address, USDC, 10**12) for m in (ALICE, BOB)]
    box.apply([*funded, box.authorise(ALICE, "alpha"), box.authorise(BOB, "alpha")])
    return box


def batch(box: Sandbox, batch_id: int, *trade_ids: int) -> bytes:
    trades = tuple(
        Trade(n, "BTC-PERP", ALICE.address, 0, BOB.address, 0, 60_000_000, 1) for n in trade_ids
    )
    key = derive_ed25519_key("venue-alpha")
    return encode_tx(
        sign_trade_batch(key, box.chain_id, "alpha", batch_id, trades, *box.get_times())
    )


def check(box: Sandbox, raw: bytes) -> None:
    admit_transaction(box.state, decode_tx(raw), raw)


def refusal(box: Sandbox, raw: bytes) -> ClearingError:
    with pytest.raises(ClearingError) as info:
        check(box, raw)
    return info.value


def test_a_stale_or_cleared_trade_id_is_refused_before_gossip() -> None:
    box = windowed_box()
    box.apply([batch(box, 1, 20)])
    stale = refusal(box, batch(box, 2, 21, 20 - W))
    assert isinstance(stale, StaleTradeId) and stale.lowest_accepted == 20 - W + 1
    assert isinstance(refusal(box, batch(box, 2, 20)), DuplicateTrade)
    check(box, batch(box, 2, 20 - W + 1, 21))  # inside the window and new


def test_a_credited_deposit_nonce_is_refused_before_gossip() -> None:
    box = windowed_box()
    credit = box.credit(ALICE.address, USDC, 5)
    check(box, encode_tx(credit))
    box.apply([credit])
    error = refusal(box, encode_tx(credit))
    assert isinstance(error, DuplicateCredit)
    assert error.deposit_nonce == credit.observation.deposit_nonce


def test_an_expiry_is_admitted_only_for_a_pending_withdrawal_with_a_quorum() -> None:
    box = windowed_box()
    tx = box.withdraw(ALICE, USDC, 5)
    box.apply([tx])
    expiry = box.state.pending_withdrawals[(ALICE.address, tx.nonce)].expiry
    good = box.expired(ALICE.address, tx.nonce, USDC[0], expiry + 1)
    result = admit_transaction(box.state, good, encode_tx(good))
    assert result.sender == b"expired:" + ALICE.address + b":%d" % tx.nonce
    weak = box.expired(ALICE.address, tx.nonce, USDC[0], expiry + 1, signers=2)
    assert isinstance(refusal(box, encode_tx(weak)), QuorumNotReached)
    box.apply([good])
    assert isinstance(refusal(box, encode_tx(good)), UnknownWithdrawal)


def test_what_clearing_would_refuse_whatever_the_next_blocks_is_refused_at_admission() -> None:
    """Admission runs clearing's own checks (an unknown token, an expiry attested before
    the withdrawal expired, a member's nonce spent), not copies of them."""
    box = windowed_box()
    unknown_token = box.credit(ALICE.address, (USDC[0], b"\x07" * 20), 5)
    assert isinstance(refusal(box, encode_tx(unknown_token)), UnknownCollateral)
    tx = box.withdraw(ALICE, USDC, 5)
    box.apply([tx])
    expiry = box.state.pending_withdrawals[(ALICE.address, tx.nonce)].expiry
    early = box.expired(ALICE.address, tx.nonce, USDC[0], expiry)
    error = refusal(box, encode_tx(early))
    assert isinstance(error, WithdrawalNotExpired) and error.expiry == expiry
    assert isinstance(refusal(box, encode_tx(tx)), NonceReused)


def test_a_request_expired_at_the_latest_committed_block_is_refused_before_gossip() -> None:
    """Judged by the committed block's time (the next block's is no earlier), naming it."""
    box = windowed_box()
    now = box.state.time_ms
    for expires_ms, admitted in ((now, True), (now - 1, False)):
        trades = (Trade(5, "BTC-PERP", ALICE.address, 0, BOB.address, 0, 60_000_000, 1),)
        venue = derive_ed25519_key("venue-alpha")
        times = {"issued_at_ms": expires_ms - 1_000, "expires_ms": expires_ms}
        signed = sign_trade_batch(venue, box.chain_id, "alpha", 3, trades, *times.values())
        request = box.sign(ALICE, replace(box.withdraw(ALICE, USDC, 5), **times))
        for raw in (encode_tx(signed), encode_tx(request)):
            if admitted:
                check(box, raw)
                continue
            error = refusal(box, raw)
            assert isinstance(error, RequestExpired)
            assert (error.expires_ms, error.block_time_ms) == (now - 1, now)
    times = {"issued_at_ms": now, "expires_ms": now + 3_600_001}  # an hour and a ms
    far = box.sign(ALICE, replace(box.withdraw(ALICE, USDC, 5), **times))
    assert isinstance(refusal(box, encode_tx(far)), ExpiryTooFar)


def test_a_node_judges_request_times_by_its_clock_when_the_committed_time_is_behind_it() -> None:
    """Before the first block the committed time is the genesis's, maybe days old: the
    next block will have the proposer's clock, so a request signed now is not issued in
    the future, and one that expired by that clock is refused."""
    box = windowed_box()
    now = box.state.time_ms + 3 * 24 * 3_600_000
    times = {"issued_at_ms": now, "expires_ms": now + 300_000}
    signed_now = box.sign(ALICE, replace(box.withdraw(ALICE, USDC, 5), **times))
    assert isinstance(refusal(box, encode_tx(signed_now)), IssuedInFuture)  # by the state alone
    make_clearing_check(lambda: box.state, lambda: now)(encode_tx(signed_now))
    times = {"issued_at_ms": now - 300_000, "expires_ms": now - 1}
    late = box.sign(ALICE, replace(box.withdraw(ALICE, USDC, 5), **times))
    with pytest.raises(RequestExpired):
        make_clearing_check(lambda: box.state, lambda: now)(encode_tx(late))


def test_governance_is_admitted_when_a_validator_signed_it() -> None:
    box = gov_sandbox()
    tx = propose(box, (next_future_listing(),))
    admitted = admit_transaction(box.state, tx, encode_tx(tx))
    assert admitted.sender.startswith(b"gov-proposal:")
    stranger = replace(tx, proposer=bytes(32))
    assert isinstance(refusal(box, encode_tx(stranger)), NotAValidator)
    proposal = submit(box, tx)
    (vote,) = ballots(box, proposal, [1], VoteChoice.NO, sequence=3)
    admitted = admit_transaction(box.state, vote, encode_tx(vote))
    assert (admitted.sender[-32:], admitted.nonce) == (vote.voter, 3)
    assert isinstance(refusal(box, encode_tx(replace(vote, proposal_id=9))), UnknownProposal)


def test_governance_the_block_would_refuse_is_refused_at_admission() -> None:
    """As at the next height: the submitter hears the refusal with its numbers."""
    box = gov_sandbox()
    short = propose(box, (next_future_listing(),), delay=MIN_DELAY - 1)
    assert isinstance(refusal(box, encode_tx(short)), DelayTooShort)
    taken = propose(box, (AddVenue(Venue("alpha", bytes(32))),))
    assert isinstance(refusal(box, encode_tx(taken)), VenueListed)
    proposal = submit(box, propose(box, (RemoveVenue("alpha"),), voting_blocks=1))
    run_until(box, proposal.deadline_height)
    (late,) = ballots(box, proposal, [0])
    closed = refusal(box, encode_tx(late))
    assert isinstance(closed, VotingClosed) and closed.height == proposal.deadline_height + 1


def test_a_price_update_is_admitted_only_as_the_next_block_would_count_it() -> None:
    """Admission runs clearing's price check at the node's clock: an update of strangers'
    observations, one of observations older than the committed update, and a copy of
    it are refused before they take a place ahead of trades."""
    box = windowed_box()
    when = box.next_context().time_ms
    old = box.prices({"BTC/0.001": 60_000_000}, {}, observed_ms=when - 500)
    update = box.prices({"BTC/0.001": 61_000_000}, {})
    check(box, encode_tx(update))
    stranger = sign_price_observation(derive_ed25519_key("x"), box.chain_id, when, {}, {})
    assert isinstance(refusal(box, encode_tx(PriceUpdate((stranger,)))), UnknownSigner)
    stale = box.prices({"BTC/0.001": 61_000_000}, {}, observed_ms=when - 20_000)
    assert isinstance(refusal(box, encode_tx(stale)), StaleObservation)
    box.apply([update])
    for replayed in (old, update):
        error = refusal(box, encode_tx(replayed))
        assert isinstance(error, ObservationNotNewer)
        assert error.newer_than_ms == box.state.price_time_ms
    later = box.prices({"BTC/0.001": 61_500_000}, {}, observed_ms=when + 10_500)
    assert isinstance(refusal(box, encode_tx(later)), StaleObservation)  # by the committed time
    admit_transaction(box.state, later, encode_tx(later), now_ms=when + 10_000)


def test_a_committed_proposal_ballot_or_report_commitment_is_refused_again_by_the_state() -> None:
    """With the replays above (trade ids, deposit nonces, members' nonces, withdrawals
    paid or expired, price observations), every kind: admission refuses a copy of what a
    block committed by clearing's own state, so the mempool keeps no committed hashes."""
    box = gov_sandbox()
    tx = propose(box, (next_future_listing(),))
    proposal = submit(box, tx)
    assert isinstance(refusal(box, encode_tx(tx)), DuplicateProposal)
    (vote,) = ballots(box, proposal, [1])
    assert box.apply([vote]).tx_results[0].is_ok()
    assert isinstance(refusal(box, encode_tx(vote)), StaleVote)
    while box.state.height < box.genesis.epoch_length_blocks:
        box.apply([])
    report = ReportCommitment(1, bytes(32), box.attest(REPORT_DOMAIN, [1, bytes(32)], 3))
    assert box.apply([report]).tx_results[0].is_ok()
    assert isinstance(refusal(box, encode_tx(report)), ReportAlreadyCommitted)
