"""Proposals decided and executed at the end of blocks (clearing/governance/execution.py)."""

from __future__ import annotations

from clearing.events import EventValue
from clearing.genesis import Venue
from clearing.governance.rules import CHANGE_RULES
from clearing.governance_changes import (
    CHANGE_TYPES,
    AddVenue,
    RemoveVenue,
    SetInstrumentStatus,
    make_risk_change,
)
from clearing.governance_proposal import ProposalStatus, VoteChoice
from clearing.instruments import InstrumentStatus
from clearing.risk.engine import get_member_risk
from clearing.transition.block import BlockResult
from clearing.transition.root import compute_state_root_from_scratch
from clearing.transition.trade import Trade, sign_trade_batch
from clearnode.client.sandbox_keys import derive_ed25519_key
from tests.clearing.governance.support import (
    MAX_VOTING,
    NEXT_FUTURE,
    NEXT_FUTURE_MARK,
    ballots,
    event_kinds,
    gov_sandbox,
    governed,
    next_future_listing,
    propose,
    run_until,
    submit,
)
from tests.clearing.support import genesis_doc, only_result
from tests.clearing.test_trade import make_batch, make_trade, trading_box


def rejected_codes(block: BlockResult) -> list[EventValue]:
    return [e.get("code") for e in block.get_events() if e.kind == "trade_rejected"]


def test_every_kind_of_change_has_its_rule() -> None:
    assert set(CHANGE_RULES) == set(CHANGE_TYPES.values())


def test_a_listing_passes_executes_at_exactly_its_height_and_trades() -> None:
    box, (alice, bob, *_) = trading_box(box=gov_sandbox())
    proposal = submit(box, propose(box, (next_future_listing(),)))
    block = box.apply(ballots(box, proposal, range(3)))
    assert event_kinds(block) == ["gov_vote"] * 3
    assert proposal.status is ProposalStatus.VOTING  # decided when the vote closes
    (closing,) = run_until(box, proposal.deadline_height)
    assert event_kinds(closing) == ["gov_proposal_passed"]
    blocks = run_until(box, proposal.execute_height - 1)
    assert all(not event_kinds(b) for b in blocks)
    assert NEXT_FUTURE not in box.state.instruments
    refused = box.apply(
        [make_batch(box, [make_trade(1, alice, bob, NEXT_FUTURE_MARK, 1, NEXT_FUTURE)])]
    )
    assert rejected_codes(refused) == ["UnknownInstrument"]
    assert box.state.height == proposal.execute_height
    # (the trade above was in the execution block itself: its transactions still ran
    # under the old configuration; the listing exists from the end of that block on)
    assert box.state.instruments[NEXT_FUTURE].expiry_ms == 1805961600000
    assert box.state.mark_prices[NEXT_FUTURE] == NEXT_FUTURE_MARK
    assert proposal.status is ProposalStatus.EXECUTED
    assert event_kinds(refused) == ["gov_proposal_executed"]
    traded = box.apply(
        [make_batch(box, [make_trade(2, alice, bob, NEXT_FUTURE_MARK, 3, NEXT_FUTURE)], 2)]
    )
    assert all(e.kind != "trade_rejected" for e in traded.tx_results[0].events)
    assert box.state.open_interest[NEXT_FUTURE] == 3
    assert box.state.genesis.instruments[-1].id == NEXT_FUTURE
    assert traded.state_root == compute_state_root_from_scratch(box.state)


def test_without_quorum_the_proposal_is_rejected_and_nothing_changes() -> None:
    box = gov_sandbox()
    proposal = submit(box, propose(box, (next_future_listing(),)))
    box.apply(ballots(box, proposal, range(2)) + ballots(box, proposal, [2], VoteChoice.ABSTAIN))
    before = governed(box)
    (closing,) = run_until(box, proposal.deadline_height)
    assert event_kinds(closing) == ["gov_proposal_rejected"]
    assert dict(closing.get_events()[0].data)["yes"] == 20
    run_until(box, proposal.execute_height + 2)
    assert proposal.status is ProposalStatus.REJECTED
    after = governed(box)
    assert after == before


def test_a_changed_vote_counts_as_its_last_ballot() -> None:
    box = gov_sandbox()
    proposal = submit(box, propose(box, (next_future_listing(),)))
    box.apply(ballots(box, proposal, range(4)))
    box.apply(ballots(box, proposal, [0, 1], VoteChoice.NO, sequence=1))
    run_until(box, proposal.deadline_height)
    assert proposal.status is ProposalStatus.REJECTED


def test_a_halt_is_an_emergency_executed_in_the_block_it_passes() -> None:
    box, (alice, bob, *_) = trading_box(box=gov_sandbox())
    proposal = submit(
        box, propose(box, (SetInstrumentStatus("BTC-PERP", InstrumentStatus.HALTED),), 20)
    )
    assert proposal.execute_height == 0
    box.apply(ballots(box, proposal, range(2)))
    assert proposal.status is ProposalStatus.VOTING
    block = box.apply(ballots(box, proposal, [2]))
    assert event_kinds(block) == ["gov_vote", "gov_proposal_passed", "gov_proposal_executed"]
    assert box.state.instrument_status == {"BTC-PERP": InstrumentStatus.HALTED}
    refused = box.apply([make_batch(box, [make_trade(1, alice, bob)])])
    assert rejected_codes(refused) == ["InstrumentHalted"]


def test_reduce_only_lets_positions_shrink_only() -> None:
    box, (alice, bob, *_) = trading_box(box=gov_sandbox())
    box.apply([make_batch(box, [make_trade(1, alice, bob, quantity=2)])])
    proposal = submit(
        box, propose(box, (SetInstrumentStatus("BTC-PERP", InstrumentStatus.REDUCE_ONLY),))
    )
    box.apply(ballots(box, proposal, range(3)))
    growing = box.apply([make_batch(box, [make_trade(2, alice, bob)], 2)])
    assert rejected_codes(growing) == ["InstrumentReduceOnly"]
    shrinking = box.apply([make_batch(box, [make_trade(3, bob, alice)], 3)])
    assert rejected_codes(shrinking) == []
    resume = submit(box, propose(box, (SetInstrumentStatus("BTC-PERP", InstrumentStatus.ACTIVE),)))
    box.apply(ballots(box, resume, range(3)))
    assert box.state.instrument_status == {}


def test_a_risk_change_moves_margins_at_its_height_and_not_a_block_earlier() -> None:
    box, (alice, bob, *_) = trading_box(box=gov_sandbox())
    box.apply([make_batch(box, [make_trade(1, alice, bob, quantity=5)])])
    risk = genesis_doc()["risk"]
    risk["underlyings"]["BTC"]["scan_bps"] = 4000  # beyond the stress day's 35.2%
    proposal = submit(box, propose(box, (make_risk_change(risk),)))
    box.apply(ballots(box, proposal, range(4)))

    def initial_margin() -> int:
        figures = get_member_risk(box.state, alice.address, 0, with_prices=False)
        assert figures is not None
        return figures.initial_margin

    old = initial_margin()
    run_until(box, proposal.execute_height - 1)
    assert initial_margin() == old
    box.apply([])
    assert initial_margin() > old
    assert box.state.genesis.risk == risk


def test_a_listing_whose_id_was_taken_meanwhile_fails_alone() -> None:
    box = gov_sandbox()
    first = submit(box, propose(box, (next_future_listing(),), voting_blocks=2))
    second = submit(box, propose(box, (next_future_listing(),), voting_blocks=1, proposer=1))
    assert first.execute_height == second.execute_height
    box.apply(ballots(box, first, range(3)) + ballots(box, second, range(3)))
    (*_, block) = run_until(box, first.execute_height)
    assert event_kinds(block) == ["gov_proposal_executed", "gov_proposal_failed"]
    failed = block.events[1]
    assert (failed.get("proposal"), failed.get("code")) == (second.id, "InstrumentListed")
    assert first.status is ProposalStatus.EXECUTED and second.status is ProposalStatus.FAILED
    assert list(box.state.instruments).count(NEXT_FUTURE) == 1


def test_venues_are_added_after_the_delay_and_removed_at_once() -> None:
    box, (alice, bob, *_) = trading_box(box=gov_sandbox())
    key = derive_ed25519_key("venue-beta")
    add = submit(box, propose(box, (AddVenue(Venue("beta", key.public_key().public_bytes_raw())),)))
    box.apply(ballots(box, add, range(3)))
    run_until(box, add.execute_height)
    assert "beta" in box.state.venues
    remove = submit(box, propose(box, (RemoveVenue("alpha"),)))
    box.apply(ballots(box, remove, range(3)))
    assert "alpha" not in box.state.venues
    refused = box.apply([make_batch(box, [make_trade(1, alice, bob)])])
    assert refused.tx_results[0].code == "UnknownVenue"
    trade = Trade(1, "BTC-PERP", alice.address, 0, bob.address, 0, 60_000_000, 1)
    unauthorised = box.apply(
        [sign_trade_batch(key, box.chain_id, "beta", 1, (trade,), *box.get_times())]
    )
    assert rejected_codes(unauthorised) == ["VenueNotAuthorised"]


def test_a_finished_proposal_leaves_the_state_after_the_longest_vote() -> None:
    box = gov_sandbox()
    tx = propose(box, (next_future_listing(),))
    proposal = submit(box, tx)
    run_until(box, proposal.deadline_height)
    assert proposal.finished_height == box.state.height
    run_until(box, proposal.finished_height + MAX_VOTING)
    assert box.state.proposals == {1: proposal}
    box.apply([])
    assert box.state.proposals == {}
    assert only_result(box.apply([tx]))[0] == "VotingDeadlineOutOfRange"
