"""What an engine builds its first height on (`ChainStart`), what it is configured with
(`EngineConfig`: timeouts, block bounds, gossip and repair), and what it counts
(`EngineStats`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from consensus.repair import GRACE_MS
from consensus.signer import DoubleSignRefused
from consensus.state_machine import TimeoutConfig
from consensus.types import (
    DuplicateVoteEvidence,
    Voter,
    compute_max_proposal_bytes,
)
from consensus.validator_sets import CHECKPOINT_INTERVAL
from records.codec import MAX_CONSENSUS_MESSAGE_BYTES


@dataclass(frozen=True)
class ChainStart:
    """What height 1 builds on: the consensus chain id, the first validator set, the
    application's state root and time before any block (not clearing's genesis
    document, from which the node derives it)."""

    chain_id: str
    validators: tuple[Voter, ...]
    state_root: bytes
    time_ms: int


@dataclass(frozen=True)
class EngineConfig:
    timeouts: TimeoutConfig = field(default_factory=TimeoutConfig)
    """The steps' timeouts, the pause after a commit and the empty-block wait."""
    max_block_bytes: int = 32 * 1024 * 1024
    """Our proposals carry at most this many transaction bytes (the application's
    block limit; the node passes its own)."""
    max_block_txs: int = 100_000
    """...and at most this many transactions."""
    proposal_poll_ms: int = 10
    """How often a waiting proposer looks at the mempool (it has no arrival event)..."""
    txs_noticed: bool = False
    """...unless the host calls `notice_txs` whenever its mempool admits a transaction:
    then a waiting proposer looks `proposal_poll_ms` after an arrival, and an idle one
    only at its deadline (a poll a hundred times an empty block's wait was most of an
    idle proposer's work)."""
    regossip_ms: int = 0
    """Every this long, re-send this height's messages (0: never)."""
    regossip_moving: bool = True
    """Re-send also when the height or round moved since the last time; False saves the
    node's bandwidth: only a stuck round re-sends, as only lost gossip can stall it, and
    ever more sparsely the longer it stays stuck (`is_regossip_due`)."""
    future_heights: int = 2
    """Messages up to this many heights ahead are buffered; beyond, we are behind."""
    max_buffered: int = 4096
    compact_proposals: bool = False
    """Send proposals compact (see the module's docstring); received ones are rebuilt
    either way."""
    checkpoint_interval: int = CHECKPOINT_INTERVAL
    """Heights between the validator-set checkpoints a restart starts from."""
    repair_grace_ms: int = GRACE_MS
    """What a vote shows this node lacks is asked of its voter if still missing this
    long after (`consensus.repair`)."""

    def __post_init__(self) -> None:
        """A proposal we build must be a message every node (and our WAL) can decode."""
        largest = compute_max_proposal_bytes(self.max_block_bytes, self.max_block_txs)
        if largest > MAX_CONSENSUS_MESSAGE_BYTES:
            raise ValueError(
                f"blocks of {self.max_block_bytes} bytes and {self.max_block_txs} txs make "
                f"proposals of up to {largest} bytes, over the "
                f"{MAX_CONSENSUS_MESSAGE_BYTES} message cap"
            )

    def fit_block(self, txs: Sequence[bytes]) -> tuple[bytes, ...]:
        """The longest prefix of `txs` within the block limits: we never propose a block
        that peers or our own WAL replay could not decode."""
        fitting: list[bytes] = []
        size = 0
        for tx in txs[: self.max_block_txs]:
            if size + len(tx) > self.max_block_bytes:
                break
            fitting.append(tx)
            size += len(tx)
        return tuple(fitting)


@dataclass
class EngineStats:
    decode_errors: int = 0
    refused_signatures: list[DoubleSignRefused] = field(default_factory=list)
    evidence: list[DuplicateVoteEvidence] = field(default_factory=list)
    untimely_proposals: int = 0
    """New proposals whose time was too far ahead of this node's clock (prevoted nil)."""
    proposals_asked: int = 0
    """Proposals asked of a voter, this node holding none of the round's (`on_missing_proposal`)."""
    commits_asked: int = 0
    """Commit certificates asked of a peer at the next height (`on_missing_commit`)."""
    late_proposals: int = 0
    """Proposals that came whole after this node's propose step of their round was over
    (it had prevoted nil at its timeout): its timeouts are short for the network."""
    proposals_dated_by_others: int = 0
    """Own proposals dated by the other validators' clock, this one being ahead of theirs
    (consensus.chain_clock)."""
