"""A validator votes on a proposal: ``GovVote``, signed with its consensus key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.attestation import compute_signing_bytes, is_valid_signature
from clearing.context import BlockContext
from clearing.errors import BadSignature
from clearing.events import Event, make_event
from clearing.governance.errors import (
    NotAValidator,
    StaleVote,
    UnknownProposal,
    VotingClosed,
)
from clearing.governance_proposal import Ballot, GovernanceProposal, ProposalStatus, VoteChoice
from clearing.state import ClearingState
from clearing.tx_kind import Priority, Sender, Submitter, TxKind
from records.declared import Choice, Declared, EdSignature, Int, PublicKey, Uint, declare_record

VOTE_DOMAIN = "gov-vote"


@declare_record
@dataclass(frozen=True, slots=True)
class GovVote(Declared):
    """``voter`` votes ``choice`` on ``proposal_id``; it signs the proposal's digest too,
    so a ballot is for exactly the changes it read. A later ballot (higher ``sequence``)
    replaces an earlier one until the vote closes."""

    KIND: ClassVar[int] = 31
    voter: PublicKey
    proposal_id: Annotated[int, Int(1)]
    choice: Annotated[VoteChoice, Choice()]
    sequence: Uint
    signature: EdSignature

    def signing_bytes(self, chain_id: int, digest: bytes) -> bytes:
        body = [self.voter, self.proposal_id, digest, self.choice.value, self.sequence]
        return compute_signing_bytes(VOTE_DOMAIN, chain_id, body)


def sign_vote(
    key: Ed25519PrivateKey,
    chain_id: int,
    proposal: GovernanceProposal,
    choice: VoteChoice,
    sequence: int = 0,
) -> GovVote:
    """Vote as the validator of ``key`` (tests)."""
    return sign_ballot(key, chain_id, proposal.id, proposal.digest, choice, sequence)


def sign_ballot(
    key: Ed25519PrivateKey,
    chain_id: int,
    proposal_id: int,
    digest: bytes,
    choice: VoteChoice,
    sequence: int,
) -> GovVote:
    """Vote as the validator of ``key`` on the proposal with ``digest`` (operators' tools,
    which read the digest from the API)."""
    unsigned = GovVote(key.public_key().public_bytes_raw(), proposal_id, choice, sequence, b"")
    signature = key.sign(unsigned.signing_bytes(chain_id, digest))
    return GovVote(unsigned.voter, proposal_id, choice, sequence, signature)


def verify_ballot(state: ClearingState, chain_id: int, tx: GovVote) -> GovernanceProposal:
    """A validator signed the ballot on a recorded proposal (the mempool checks this
    too); returns the proposal."""
    if tx.voter not in state.validators:
        raise NotAValidator(tx.voter)
    proposal: GovernanceProposal | None = state.proposals.get(tx.proposal_id)
    if proposal is None:
        raise UnknownProposal(tx.proposal_id)
    message = tx.signing_bytes(chain_id, proposal.digest)
    if not is_valid_signature(tx.voter, tx.signature, message):
        raise BadSignature("governance vote", tx.voter)
    return proposal


def check_gov_vote(state: ClearingState, ctx: BlockContext, tx: GovVote) -> GovernanceProposal:
    """A validator's signed ballot on a proposal still voting, not older than its last
    (the mempool runs this too, for the next height); returns the proposal."""
    proposal = verify_ballot(state, ctx.chain_id, tx)
    if proposal.status is not ProposalStatus.VOTING or ctx.height > proposal.deadline_height:
        raise VotingClosed(proposal.id, proposal.status.value, proposal.deadline_height, ctx.height)
    last = proposal.ballots.get(tx.voter)
    if last is not None and tx.sequence <= last.sequence:
        raise StaleVote(proposal.id, tx.sequence, last.sequence)
    return proposal


def process_gov_vote(state: ClearingState, ctx: BlockContext, tx: GovVote) -> list[Event]:
    proposal = check_gov_vote(state, ctx, tx)
    proposal.ballots[tx.voter] = Ballot(tx.choice, tx.sequence, ctx.height)
    return [
        make_event(
            "gov_vote",
            proposal=proposal.id,
            voter=tx.voter,
            choice=tx.choice.value,
            sequence=tx.sequence,
        )
    ]


def admit_gov_vote(state: ClearingState, ctx: BlockContext, tx: GovVote, _raw: bytes) -> Sender:
    """A ballot on a proposal still voting, newer than the validator's last; a validator's
    ballots on one proposal are ordered by their sequence."""
    check_gov_vote(state, ctx, tx)
    return Sender(b"gov-vote:%d:" % tx.proposal_id + tx.voter, tx.sequence)


GOV_VOTE = TxKind(GovVote, admit_gov_vote, process_gov_vote, Priority.SYSTEM, Submitter.VALIDATOR)
