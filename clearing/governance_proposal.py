"""A proposal as the state records it: its changes, its heights, the validators'
ballots and its status."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum

from clearing.attestation import compute_signing_bytes
from clearing.governance_changes import Change, decode_change
from records.codec import DecodeError, expect_bytes, expect_enum, expect_int, expect_list

PROPOSAL_DOMAIN = "gov-proposal"


def compute_proposal_message(
    chain_id: int,
    proposer: bytes,
    changes: tuple[Change, ...],
    deadline_height: int,
    execute_height: int,
) -> bytes:
    """What a proposer signs; its hash is the proposal's digest."""
    body = [proposer, [c.to_fields() for c in changes], deadline_height, execute_height]
    return compute_signing_bytes(PROPOSAL_DOMAIN, chain_id, body)


class ProposalStatus(StrEnum):
    VOTING = "voting"  # until its deadline (an emergency one: until it passes)
    PASSED = "passed"  # waiting for its execution height
    REJECTED = "rejected"  # its vote closed without quorum: nothing changed
    EXECUTED = "executed"
    FAILED = "failed"  # passed, but a change was no longer valid at execution


class VoteChoice(StrEnum):
    YES = "yes"
    NO = "no"
    ABSTAIN = "abstain"


@dataclass(frozen=True, slots=True)
class Ballot:
    choice: VoteChoice
    sequence: int  # a validator's later ballot on the same proposal has a higher one
    height: int


@dataclass(slots=True)
class GovernanceProposal:
    """A governance proposal as the state keeps it, from its submission (the `GovProposal`
    transaction) to its end; named apart from consensus's block `Proposal`.
    ``execute_height`` 0: an emergency proposal, executed in the block it passes.
    ``digest``: the hash of what the proposer signed (the ballots sign it too)."""

    id: int
    proposer: bytes
    changes: tuple[Change, ...]
    digest: bytes
    submitted_height: int
    deadline_height: int
    execute_height: int
    status: ProposalStatus = ProposalStatus.VOTING
    ballots: dict[bytes, Ballot] = field(default_factory=dict)  # by validator pubkey
    decided_height: int = 0  # when it passed or was rejected
    finished_height: int = 0  # when it was rejected, executed or failed

    def is_emergency(self) -> bool:
        return self.execute_height == 0

    def is_open(self) -> bool:
        return self.status in (ProposalStatus.VOTING, ProposalStatus.PASSED)

    def finish(self, status: ProposalStatus, height: int) -> None:
        self.status, self.finished_height = status, height

    def get_record_fields(self) -> list[object]:
        """Everything but the changes, which the digest stands for (the state root holds
        these; a snapshot adds the changes, checked against the digest)."""
        return [
            self.id, self.proposer, self.digest, self.submitted_height, self.deadline_height,
            self.execute_height, self.status.value,
            [[k, b.choice.value, b.sequence, b.height] for k, b in sorted(self.ballots.items())],
            self.decided_height, self.finished_height,
        ]  # fmt: skip

    @classmethod
    def from_record_fields(cls, obj: object, changes: object, chain_id: int) -> GovernanceProposal:
        """``DecodeError`` unless ``changes`` are the ones the digest stands for."""
        f = expect_list(obj, "proposal", 10)
        proposal = cls(
            expect_int(f[0], "proposal", 1),
            expect_bytes(f[1], "proposer", 32),
            tuple(decode_change(c) for c in expect_list(changes, "changes")),
            expect_bytes(f[2], "digest", 32),
            expect_int(f[3], "submitted_height"),
            expect_int(f[4], "deadline_height"),
            expect_int(f[5], "execute_height"),
            expect_enum(ProposalStatus, f[6], "status"),
            decided_height=expect_int(f[8], "decided_height"),
            finished_height=expect_int(f[9], "finished_height"),
        )
        message = compute_proposal_message(
            chain_id, proposal.proposer, proposal.changes, proposal.deadline_height,
            proposal.execute_height,
        )  # fmt: skip
        if hashlib.sha256(message).digest() != proposal.digest:
            raise DecodeError(
                "proposal", f"changes of proposal {proposal.id} do not match its digest"
            )
        for item in expect_list(f[7], "ballots"):
            voter, choice, sequence, height = expect_list(item, "ballot", 4)
            proposal.ballots[expect_bytes(voter, "voter", 32)] = Ballot(
                expect_enum(VoteChoice, choice, "choice"),
                expect_int(sequence, "sequence"),
                expect_int(height, "height"),
            )
        return proposal
