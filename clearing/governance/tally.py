"""Counting a proposal's ballots by the voting power of the validators in force."""

from __future__ import annotations

from dataclasses import dataclass

from clearing.attestation import is_quorum
from clearing.genesis import Validator
from clearing.governance_proposal import GovernanceProposal, VoteChoice


@dataclass(frozen=True, slots=True)
class Tally:
    yes: int
    no: int
    abstain: int
    total_power: int

    def is_passing(self) -> bool:
        """More than 2/3 of all voting power voted yes (abstaining and not voting count
        against, as in the attestation quorum)."""
        return is_quorum(self.yes, self.total_power)


def compute_tally(
    proposal: GovernanceProposal, validators: dict[bytes, Validator], total_power: int
) -> Tally:
    """A ballot counts with its validator's power now; a validator no longer in the set
    counts for nothing."""
    power = {choice: 0 for choice in VoteChoice}
    for voter, ballot in proposal.ballots.items():
        validator = validators.get(voter)
        if validator is not None:
            power[ballot.choice] += validator.power
    return Tally(
        power[VoteChoice.YES], power[VoteChoice.NO], power[VoteChoice.ABSTAIN], total_power
    )
