"""A committed block as the node's parts read it, whichever engine committed it.

The store keeps each engine's own form of a block (`StoredBlock.block`: our engine's
block with its commit certificate in `cert`; a `CometBlockRecord` on CometBFT, whose
commits CometBFT keeps); what the app applied, the services hear of and the API shows
is read from either as a `CommittedBlock`.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearing.context import BlockContext, Equivocation
from consensus.types import Block, CommitCertificate
from lightclient.anchor import COMETBFT
from node.clearing_app import get_equivocations
from node.storage import StoredBlock
from node.storage.comet_block import CometBlockRecord


@dataclass(frozen=True)
class CommittedBlock:
    height: int
    time_ms: int
    txs: tuple[bytes, ...]
    block_hash: bytes
    proposer: bytes
    """Our engine: the proposer's key; CometBFT: its address (first 20 bytes of the
    key's SHA-256)."""
    evidence: tuple[Equivocation, ...] = ()
    round: int | None = None
    """The round its commit certificate was made in; None where the engine hands the
    block over before its commit (CometBFT: the next block carries it)."""
    signers: tuple[bytes, ...] = ()
    """The keys whose precommits the certificate holds (empty where `round` is None)."""
    proposal_accepted_ms: int | None = None
    """This node's clock when it accepted the block's proposal, where the engine says
    (CometBFT's ProcessProposal): there a block's time is when the height before it
    committed, so it says nothing of how long this block took. None on ours, whose block
    time is its proposer's clock at the proposal."""

    def get_proposed_ms(self) -> int:
        """When the block was proposed, as near as this node can tell: where its commit
        latency starts."""
        return self.time_ms if self.proposal_accepted_ms is None else self.proposal_accepted_ms

    def get_context(self, chain_id: int) -> BlockContext:
        """What clearing applies the block with."""
        return BlockContext(self.height, self.time_ms, chain_id, self.evidence)


def from_block(block: Block, certificate: CommitCertificate) -> CommittedBlock:
    """A block our engine committed, with its certificate."""
    return CommittedBlock(
        block.height,
        block.header.time_ms,
        block.txs,
        block.hash,
        block.header.proposer,
        get_equivocations(block),
        certificate.round,
        tuple(s.validator for s in certificate.signatures),
    )


def from_comet_record(
    record: CometBlockRecord, proposal_accepted_ms: int | None = None
) -> CommittedBlock:
    return CommittedBlock(
        record.height, record.time_ms, record.txs, record.block_hash, record.proposer_address,
        record.evidence, proposal_accepted_ms=proposal_accepted_ms,
    )  # fmt: skip


def decode_stored_block(engine: str, stored: StoredBlock) -> CommittedBlock:
    """The stored block of a network running `engine` (its genesis's)."""
    if engine == COMETBFT:
        return from_comet_record(CometBlockRecord.decode(stored.block))
    return from_block(Block.decode(stored.block), CommitCertificate.decode(stored.cert))
