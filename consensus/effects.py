"""Effects returned by the pure state machine; the host executes them in order.

Contract for the host (see `consensus.engine.Engine`, which implements it):
- `SignVote` / `SignProposal`: pass the unsigned record through the signer
  guard (`consensus.signer.Signer`), which writes it to the WAL with fsync
  before signing; feed the result back as `VoteSigned` / `ProposalSigned`.
- `Broadcast`: send the (own, signed) message to all peers.
- `ScheduleTimeout`: after `duration_ms`, feed `TimeoutFired(height, round, step)`.
- `RequestProposal`: ask the app to prepare txs; feed `BlockPrepared`.
- `ValidateBlock`: ask the app (`process_proposal`); feed `BlockValidated`.
- `Commit`: persist block + certificate, `finalize_block`, then `StartHeight`.
- `EvidenceFound`: keep it in the evidence pool for the next block we propose.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.types import Block, CommitCertificate, DuplicateVoteEvidence, Proposal, Step, Vote


@dataclass(frozen=True)
class Broadcast:
    message: Proposal | Vote


@dataclass(frozen=True)
class ScheduleTimeout:
    height: int
    round: int
    step: Step
    duration_ms: int


@dataclass(frozen=True)
class SignVote:
    vote: Vote


@dataclass(frozen=True)
class SignProposal:
    proposal: Proposal


@dataclass(frozen=True)
class RequestProposal:
    height: int
    round: int


@dataclass(frozen=True)
class ValidateBlock:
    block: Block


@dataclass(frozen=True)
class Commit:
    block: Block
    certificate: CommitCertificate


@dataclass(frozen=True)
class EvidenceFound:
    evidence: DuplicateVoteEvidence


Effect = (
    Broadcast
    | ScheduleTimeout
    | SignVote
    | SignProposal
    | RequestProposal
    | ValidateBlock
    | Commit
    | EvidenceFound
)
