"""Evidence of equivocation: two different signed votes by one validator for one slot.

Verifiable by anyone holding the validator set of its height; the proposer includes
pending evidence in its next block (at most MAX_EVIDENCE_AGE_BLOCKS after the
equivocation), and every validator checks it before voting. The application jails the
key (clearing/jailing.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from consensus.types import Block, DuplicateVoteEvidence, ValidatorSet
from records.codec import MAX_EVIDENCE_AGE_BLOCKS

MAX_PENDING_EVIDENCE = 100


def is_valid_duplicate_vote(
    chain_id: str, validators: ValidatorSet, evidence: DuplicateVoteEvidence
) -> bool:
    """Same validator, height, round and type; different values; both signatures valid;
    canonical order (so one equivocation has exactly one encoding)."""
    a, b = evidence.vote_a, evidence.vote_b
    return (
        a.validator == b.validator
        and validators.is_member(a.validator)
        and (a.vote_type, a.height, a.round) == (b.vote_type, b.height, b.round)
        and a.block_hash != b.block_hash
        and a.signature < b.signature
        and a.is_signed_by_validator(chain_id)
        and b.is_signed_by_validator(chain_id)
    )


@dataclass
class EvidencePool:
    """Evidence seen but not yet committed in a block, in arrival order."""

    pending: dict[bytes, DuplicateVoteEvidence] = field(default_factory=dict)
    committed: set[bytes] = field(default_factory=set)

    def add(self, evidence: DuplicateVoteEvidence) -> None:
        if evidence.hash in self.committed or len(self.pending) >= MAX_PENDING_EVIDENCE:
            return
        self.pending.setdefault(evidence.hash, evidence)

    def get_pending(self, before_height: int) -> tuple[DuplicateVoteEvidence, ...]:
        """Evidence a block at `before_height` may include: from earlier heights, at most
        MAX_EVIDENCE_AGE_BLOCKS before it (validators verify it against the set of its
        height, and keep the sets of those heights only)."""
        return tuple(e for e in self.pending.values() if is_committable(e.height, before_height))

    def process_committed_block(self, block: Block) -> None:
        for e in block.evidence:
            self.committed.add(e.hash)
            self.pending.pop(e.hash, None)
        for stale in [
            h for h, e in self.pending.items() if not is_committable(e.height, block.height + 1)
        ]:
            del self.pending[stale]


def is_committable(evidence_height: int, height: int) -> bool:
    """Evidence of `evidence_height` may be committed in block `height`."""
    return height - MAX_EVIDENCE_AGE_BLOCKS <= evidence_height < height
