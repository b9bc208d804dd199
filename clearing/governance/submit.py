"""A validator proposes changes: ``GovProposal``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated, ClassVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.attestation import is_valid_signature
from clearing.context import BlockContext
from clearing.errors import BadSignature
from clearing.events import Event, make_event
from clearing.governance.errors import (
    ChangeCount,
    DelayTooShort,
    DuplicateProposal,
    EmergencyHeightGiven,
    MixedUrgency,
    NotAValidator,
    TooManyOpenProposals,
    VotingDeadlineOutOfRange,
)
from clearing.governance.rules import build_draft
from clearing.governance_changes import Change, decode_change
from clearing.governance_proposal import GovernanceProposal, compute_proposal_message
from clearing.state import ClearingState
from clearing.tx_kind import Priority, Sender, Submitter, TxKind
from records.declared import (
    Checked,
    Declared,
    EdSignature,
    Items,
    PublicKey,
    Uint,
    declare_record,
    write_fields,
)

MAX_CHANGES = 16
MAX_OPEN_PROPOSALS = 64  # voting or waiting to execute: bounds the state and each block's step


@declare_record
@dataclass(frozen=True, slots=True)
class GovProposal(Declared):
    """``proposer`` (a validator's consensus key) signs the changes, the height its vote
    closes (``deadline_height``, inclusive) and, for delayed changes, the height they
    execute at (``execute_height``; 0 for emergency changes)."""

    KIND: ClassVar[int] = 30
    proposer: PublicKey
    changes: Annotated[tuple[Change, ...], Items(item=Checked(decode_change, write_fields))]
    deadline_height: Uint
    execute_height: Uint
    signature: EdSignature

    def signing_bytes(self, chain_id: int) -> bytes:
        return compute_proposal_message(
            chain_id, self.proposer, self.changes, self.deadline_height, self.execute_height
        )


def sign_proposal(
    key: Ed25519PrivateKey,
    chain_id: int,
    changes: tuple[Change, ...],
    deadline_height: int,
    execute_height: int = 0,
) -> GovProposal:
    """Propose as the validator of ``key`` (operators' tools and tests)."""
    unsigned = GovProposal(
        key.public_key().public_bytes_raw(), changes, deadline_height, execute_height, b""
    )
    signature = key.sign(unsigned.signing_bytes(chain_id))
    return GovProposal(unsigned.proposer, changes, deadline_height, execute_height, signature)


def check_heights(state: ClearingState, ctx: BlockContext, tx: GovProposal) -> None:
    """All emergency changes or all delayed; the vote closes within the genesis's
    longest voting period; a delayed change executes at least the minimum delay after
    its vote closes (members see it coming), an emergency one when it passes."""
    emergency = sum(1 for c in tx.changes if c.EMERGENCY)
    if emergency not in (0, len(tx.changes)):
        raise MixedUrgency(emergency, len(tx.changes) - emergency)
    params = state.genesis.governance
    latest = ctx.height + params.max_voting_blocks
    if not ctx.height <= tx.deadline_height <= latest:
        raise VotingDeadlineOutOfRange(tx.deadline_height, ctx.height, latest)
    if emergency and tx.execute_height:
        raise EmergencyHeightGiven(tx.execute_height)
    earliest = tx.deadline_height + params.min_delay_blocks
    if not emergency and tx.execute_height < earliest:
        raise DelayTooShort(tx.execute_height, earliest)


def verify_proposer(state: ClearingState, chain_id: int, tx: GovProposal) -> bytes:
    """A validator signed the proposal (the mempool checks this too); returns its digest."""
    if tx.proposer not in state.validators:
        raise NotAValidator(tx.proposer)
    message = tx.signing_bytes(chain_id)
    if not is_valid_signature(tx.proposer, tx.signature, message):
        raise BadSignature("governance proposal", tx.proposer)
    return hashlib.sha256(message).digest()


def check_gov_proposal(state: ClearingState, ctx: BlockContext, tx: GovProposal) -> bytes:
    """A validator's signed proposal whose changes are valid against the state now (the
    mempool runs this too, for the next height); returns its digest. Changes nothing."""
    digest = verify_proposer(state, ctx.chain_id, tx)
    if not 1 <= len(tx.changes) <= MAX_CHANGES:
        raise ChangeCount(len(tx.changes), 1, MAX_CHANGES)
    check_heights(state, ctx, tx)
    open_proposals = sum(1 for p in state.proposals.values() if p.is_open())
    if open_proposals >= MAX_OPEN_PROPOSALS:
        raise TooManyOpenProposals(open_proposals, MAX_OPEN_PROPOSALS)
    for proposal in state.proposals.values():
        if proposal.digest == digest:
            raise DuplicateProposal(proposal.id)
    build_draft(state, tx.changes)
    return digest


def process_gov_proposal(state: ClearingState, ctx: BlockContext, tx: GovProposal) -> list[Event]:
    digest = check_gov_proposal(state, ctx, tx)
    proposal = GovernanceProposal(
        state.next_proposal_id, tx.proposer, tx.changes, digest, ctx.height,
        tx.deadline_height, tx.execute_height,
    )  # fmt: skip
    state.proposals[proposal.id] = proposal
    state.next_proposal_id += 1
    return [
        make_event(
            "gov_proposal_submitted",
            proposal=proposal.id,
            proposer=tx.proposer,
            changes=len(tx.changes),
            deadline_height=tx.deadline_height,
            execute_height=tx.execute_height,
        )
    ]


def admit_gov_proposal(
    state: ClearingState, ctx: BlockContext, tx: GovProposal, _raw: bytes
) -> Sender:
    """Valid at the next height as the block will check it (signed by a validator, the
    heights in range, every change valid), so a submitter hears the refusal; unique by
    its digest."""
    return Sender(b"gov-proposal:" + check_gov_proposal(state, ctx, tx))


GOV_PROPOSAL = TxKind(
    GovProposal, admit_gov_proposal, process_gov_proposal, Priority.SYSTEM, Submitter.VALIDATOR
)
