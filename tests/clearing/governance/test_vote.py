"""Refusals of ``GovVote`` (clearing/governance/vote.py): each a typed error, the
proposal's ballots untouched."""

from __future__ import annotations

from dataclasses import replace

from clearing.governance.vote import GovVote, sign_vote
from clearing.governance_proposal import Ballot, GovernanceProposal, VoteChoice
from clearing.transition.tx import decode_tx, encode_tx
from clearnode.client.sandbox_keys import derive_ed25519_key
from devnet.sandbox import Sandbox
from tests.clearing.governance.support import (
    ballots,
    gov_sandbox,
    next_future_listing,
    propose,
    run_until,
    submit,
)
from tests.clearing.support import only_result


def voting_box() -> tuple[Sandbox, GovernanceProposal]:
    box = gov_sandbox()
    return box, submit(box, propose(box, (next_future_listing(),), voting_blocks=3))


def assert_refused(box: Sandbox, proposal: GovernanceProposal, vote: GovVote, code: str) -> str:
    before = dict(proposal.ballots)
    got, detail = only_result(box.apply([vote]))
    assert got == code, detail
    assert proposal.ballots == before
    return detail


def test_a_ballot_round_trips_and_is_recorded() -> None:
    box, proposal = voting_box()
    (vote,) = ballots(box, proposal, [1], VoteChoice.ABSTAIN)
    assert decode_tx(encode_tx(vote)) == vote
    box.apply([vote])
    assert proposal.ballots == {vote.voter: Ballot(VoteChoice.ABSTAIN, 0, box.state.height)}


def test_only_a_validator_votes() -> None:
    box, proposal = voting_box()
    vote = sign_vote(derive_ed25519_key("stranger"), box.chain_id, proposal, VoteChoice.YES)
    assert_refused(box, proposal, vote, "NotAValidator")


def test_a_ballot_on_an_unknown_proposal_is_refused() -> None:
    box, proposal = voting_box()
    (vote,) = ballots(box, proposal, [0])
    assert_refused(box, proposal, replace(vote, proposal_id=7), "UnknownProposal")


def test_a_ballot_signed_for_other_changes_or_another_choice_is_refused() -> None:
    box, proposal = voting_box()
    (vote,) = ballots(box, proposal, [0])
    assert_refused(box, proposal, replace(vote, choice=VoteChoice.NO), "BadSignature")
    other = replace(proposal, digest=bytes(32))
    (forged,) = ballots(box, other, [0])
    assert_refused(box, proposal, forged, "BadSignature")


def test_no_ballot_after_the_vote_closes() -> None:
    box, proposal = voting_box()
    run_until(box, proposal.deadline_height)
    (vote,) = ballots(box, proposal, [0])
    detail = assert_refused(box, proposal, vote, "VotingClosed")
    assert f"deadline_height={proposal.deadline_height}" in detail


def test_a_ballot_on_the_deadline_block_still_counts() -> None:
    box, proposal = voting_box()
    run_until(box, proposal.deadline_height - 1)
    box.apply(ballots(box, proposal, range(3)))
    assert proposal.status.value == "passed"


def test_an_older_ballot_cannot_replace_a_newer_one() -> None:
    box, proposal = voting_box()
    old_yes = ballots(box, proposal, [0], VoteChoice.YES, sequence=1)
    box.apply(old_yes)
    box.apply(ballots(box, proposal, [0], VoteChoice.NO, sequence=2))
    assert assert_refused(box, proposal, old_yes[0], "StaleVote")
    assert proposal.ballots[old_yes[0].voter].choice is VoteChoice.NO
