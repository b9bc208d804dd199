"""Inputs to the pure state machine (`consensus.state_machine.apply`).

The host turns network messages, timer expiries and application answers into
these; nothing else changes the consensus state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from consensus.types import (
    Block,
    CommitCertificate,
    DuplicateVoteEvidence,
    Proposal,
    Step,
    ValidatorSet,
    Vote,
)


@dataclass(frozen=True)
class StartHeight:
    """Begin `height` (round 0) on top of the previous committed block.

    `validators` carries the proposer priorities of this height (each height has its own
    set: the application's changes take effect two heights after the block making them);
    `prev_block_hash`/`prev_state_root`/`prev_time_ms` describe the parent
    (zero hash, genesis state root and genesis time at height 1).
    """

    height: int
    validators: ValidatorSet
    next_validators: ValidatorSet  # signs height + 1: our header commits to its hash
    prev_block_hash: bytes
    prev_state_root: bytes
    prev_time_ms: int
    last_commit: CommitCertificate | None
    past_validators: Mapping[int, ValidatorSet] = field(default_factory=dict)
    """The sets of the heights evidence may come from (the last MAX_EVIDENCE_AGE_BLOCKS,
    the previous one included: it signed `last_commit`)."""


@dataclass(frozen=True)
class ProposalReceived:
    """A peer's proposal and this node's clock when it arrived (None: not known, as in a
    WAL record written before the time was kept; such a proposal is not judged timely or
    not)."""

    proposal: Proposal
    received_ms: int | None = None


@dataclass(frozen=True)
class VoteReceived:
    vote: Vote


@dataclass(frozen=True)
class ProposalSigned:
    """Our own proposal, signed by the signer guard after a `SignProposal` effect."""

    proposal: Proposal


@dataclass(frozen=True)
class VoteSigned:
    """Our own vote, signed by the signer guard after a `SignVote` effect."""

    vote: Vote


@dataclass(frozen=True)
class TimeoutFired:
    """A timer scheduled by `ScheduleTimeout` expired."""

    height: int
    round: int
    step: Step


@dataclass(frozen=True)
class BlockPrepared:
    """The application's answer to `RequestProposal`: the contents of our block."""

    height: int
    round: int
    time_ms: int
    txs: tuple[bytes, ...]
    evidence: tuple[DuplicateVoteEvidence, ...] = ()


@dataclass(frozen=True)
class BlockValidated:
    """The application's verdict (`process_proposal`) on a proposed block."""

    height: int
    block_hash: bytes
    valid: bool


Input = (
    StartHeight
    | ProposalReceived
    | VoteReceived
    | ProposalSigned
    | VoteSigned
    | TimeoutFired
    | BlockPrepared
    | BlockValidated
)

__all__ = [
    "Block",
    "BlockPrepared",
    "BlockValidated",
    "Input",
    "ProposalReceived",
    "ProposalSigned",
    "StartHeight",
    "TimeoutFired",
    "VoteReceived",
    "VoteSigned",
]
