"""Counting ballots by voting power (clearing/governance/tally.py)."""

from __future__ import annotations

from clearing.genesis import Validator
from clearing.governance.tally import compute_tally
from clearing.governance_proposal import Ballot, GovernanceProposal, VoteChoice

VALIDATORS = {bytes([n]) * 32: Validator(f"v{n}", bytes([n]) * 32, 10, bytes(20)) for n in range(3)}


def proposal_with(*choices: tuple[int, VoteChoice]) -> GovernanceProposal:
    proposal = GovernanceProposal(1, bytes(32), (), bytes(32), 1, 5, 0)
    for n, choice in choices:
        proposal.ballots[bytes([n]) * 32] = Ballot(choice, 0, 2)
    return proposal


def test_exactly_two_thirds_is_not_enough() -> None:
    tally = compute_tally(proposal_with((0, VoteChoice.YES), (1, VoteChoice.YES)), VALIDATORS, 30)
    assert (tally.yes, tally.is_passing()) == (20, False)
    all_yes = proposal_with(*((n, VoteChoice.YES) for n in range(3)))
    assert compute_tally(all_yes, VALIDATORS, 30).is_passing()


def test_abstaining_counts_against_and_a_retired_validator_counts_for_nothing() -> None:
    proposal = proposal_with(
        (0, VoteChoice.YES), (1, VoteChoice.ABSTAIN), (2, VoteChoice.NO), (9, VoteChoice.YES)
    )
    tally = compute_tally(proposal, VALIDATORS, 30)
    assert (tally.yes, tally.no, tally.abstain, tally.is_passing()) == (10, 10, 10, False)
