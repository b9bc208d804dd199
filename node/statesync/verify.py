"""Trusting a peer's snapshot with nothing but the genesis: what state sync checks.

An offer is trusted as a light client trusts a report's root (lightclient/anchor.py):
the walk from the genesis's validator set (or a checkpoint) through every set change,
within the trusting period, reaches the set that signed block H + 1, whose header
commits to the state root after H. Block H (where consensus resumes) must be the one
H + 1's header names and carry a quorum's certificate of the set that signed it. The
snapshot is then only bytes that must hash to the offer's chunk hashes, decode, have that
root and block H's time (the root commits to no time; H's header does): a peer can waste
a node's time, never hand it a state the chain did not commit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from clearing.genesis import Genesis
from clearing.state import ClearingState
from clearing.transition.root import compute_state_root
from clearing.transition.snapshot import decode_snapshot
from clearing.validator_set import get_block_signers
from consensus.types import Block
from lightclient.anchor import (
    ENGINE_RECORDS,
    OUR_ENGINE,
    AnchorError,
    StateAnchor,
    Trust,
    ValidatorHistory,
    check_anchor,
    follow_set_changes,
    get_consensus_chain_id,
)
from lightclient.commit import CommitCertificate, InvalidCommit
from lightclient.header import BlockHeader
from node.restore import SNAPSHOT_REJECTS
from node.statesync.records import CHUNK_BYTES, MAX_OFFER_BYTES, SnapshotOffer
from records.codec import DecodeError, unpack


class StateSyncError(Exception):
    """State sync could not give the node a state it can trust."""


class OfferRefused(StateSyncError):
    """A peer's offer does not prove its snapshot is the chain's."""

    def __init__(self, height: int, reason: str) -> None:
        super().__init__(f"the offer of the snapshot of height {height} is refused: {reason}")
        self.height = height
        self.reason = reason


class SnapshotRefused(StateSyncError):
    """The snapshot's bytes are not the state the trusted offer names."""

    def __init__(self, height: int, reason: str) -> None:
        super().__init__(f"the snapshot of height {height} is refused: {reason}")
        self.height = height
        self.reason = reason


class OfferBeforeCheckpoint(StateSyncError):
    """The offered snapshot is older than the checkpoint the walk starts from: it cannot
    be checked from there (the peer's honest newest; a later one will be)."""

    def __init__(self, height: int, checkpoint: int) -> None:
        super().__init__(
            f"the snapshot of height {height} is older than the checkpoint's block "
            f"{checkpoint}, where the walk that trusts it starts: waiting for a later one"
        )
        self.height = height
        self.checkpoint = checkpoint


class BlockRefused(StateSyncError):
    """A peer's block below the snapshot is not the one the chain committed there."""

    def __init__(self, height: int, reason: str) -> None:
        super().__init__(f"block {height} is refused: {reason}")
        self.height = height
        self.reason = reason


@dataclass(frozen=True)
class TrustedOffer:
    """An offer whose anchor, block and certificate checked out: the state root after
    `offer.height` is `root`, and `history` the validator sets the walk found."""

    offer: SnapshotOffer
    anchor: StateAnchor
    root: bytes
    block: Block
    history: ValidatorHistory


def check_offer(
    offer: SnapshotOffer, genesis: Genesis, genesis_hash: bytes, trust: Trust
) -> TrustedOffer:
    """The offer, trusted from `trust`'s start (its trusting period checked by the
    caller); OfferRefused saying why not, OfferBeforeCheckpoint for an honest offer the
    walk cannot reach."""
    height = offer.height
    if trust.checkpoint is not None and height + 1 < trust.checkpoint.height:
        raise OfferBeforeCheckpoint(height, trust.checkpoint.height)
    if len(offer.chunk_hashes) != offer.chunks:
        raise OfferRefused(height, f"it hashes {len(offer.chunk_hashes)} chunks of its "
                                   f"{offer.chunks}")  # fmt: skip
    chain = get_consensus_chain_id(genesis.chain_id, genesis_hash)
    try:
        anchor = StateAnchor.from_wire(unpack(offer.anchor, "anchor", MAX_OFFER_BYTES))
        block = Block.decode(offer.block)
        certificate = CommitCertificate.decode(offer.certificate)
    except (DecodeError, AnchorError) as exc:
        raise OfferRefused(height, f"it does not decode: {exc}") from None
    if anchor.engine != OUR_ENGINE or not isinstance(anchor.header, BlockHeader):
        raise OfferRefused(height, f"its anchor follows a {anchor.engine} chain")
    powers = ENGINE_RECORDS[OUR_ENGINE].powers((v.pubkey, v.power) for v in genesis.validators)
    root = anchor.header.prev_state_root
    try:
        history = follow_set_changes(anchor.set_changes, chain, powers, trust.checkpoint)
        check_anchor(anchor, chain, height, root, history.get_set_at(height + 1))
    except AnchorError as exc:
        raise OfferRefused(height, f"its anchor does not verify: {exc}") from None
    check_resume_block(height, block, certificate, anchor.header, chain, history)
    return TrustedOffer(offer, anchor, root, block, history)


def check_resume_block(
    height: int,
    block: Block,
    certificate: CommitCertificate,
    next_header: BlockHeader,
    chain: str,
    history: ValidatorHistory,
) -> None:
    """Block `height` is the one the trusted next header names, and committed."""
    if block.header.height != height or block.hash != next_header.prev_block_hash:
        raise OfferRefused(
            height,
            f"its block (height {block.header.height}, 0x{block.hash.hex()}) is not the one "
            f"block {height + 1} follows (0x{next_header.prev_block_hash.hex()})",
        )
    if certificate.height != height or certificate.block_hash != block.hash:
        raise OfferRefused(height, "its certificate commits another block")
    try:
        certificate.verify(chain, history.get_set_at(height))
    except InvalidCommit as exc:
        raise OfferRefused(height, f"its block's certificate does not verify: {exc}") from None


def check_snapshot(data: bytes, trusted: TrustedOffer, genesis: Genesis) -> ClearingState:
    """The state the snapshot holds, if it is the one the trusted offer names."""
    offer = trusted.offer
    if len(data) != offer.size or hash_chunks(data) != offer.chunk_hashes:
        raise SnapshotRefused(offer.height, "its bytes are not the ones offered (size or hashes)")
    state = check_snapshot_state(genesis, offer.height, data, trusted.root)
    check_snapshot_time(state, offer.height, trusted.block.header.time_ms)
    return state


def hash_chunks(data: bytes) -> tuple[bytes, ...]:
    """Each CHUNK_BYTES chunk's SHA-256, as an offer lists them."""
    return tuple(
        hashlib.sha256(data[offset : offset + CHUNK_BYTES]).digest()
        for offset in range(0, len(data), CHUNK_BYTES)
    )


def check_snapshot_state(genesis: Genesis, height: int, data: bytes, root: bytes) -> ClearingState:
    """The state a snapshot's bytes hold, if it is the state after block `height` whose root
    a light client verified (`root`: the one block H + 1 commits); SnapshotRefused if not.
    Our engine's state sync and CometBFT's (node/cometbft/snapshots.py) both check this."""
    try:
        state = decode_snapshot(genesis, data)
    except SNAPSHOT_REJECTS as exc:
        raise SnapshotRefused(height, f"it does not decode: {exc}") from None
    if state.height != height:
        raise SnapshotRefused(height, f"it holds the state at height {state.height}")
    if compute_state_root(state) != root:
        raise SnapshotRefused(height, "its state root is not the one block H + 1 commits")
    return state


def check_snapshot_time(state: ClearingState, height: int, time_ms: int) -> None:
    """The state's block time is `time_ms`, the time of block `height` as its trusted
    header says: the state root commits to no time, so the root does not check it."""
    if state.time_ms != time_ms:
        raise SnapshotRefused(height, f"it holds the block time {state.time_ms} ms, not "
                                      f"{time_ms}, block {height}'s")  # fmt: skip


def check_certified(
    height: int, block_data: bytes, certificate_data: bytes, state: ClearingState, chain: str
) -> Block:
    """Block `height`, decoded, if its certificate proves more than 2/3 of the set that
    `state` (trusted, of a later height) says signed it; BlockRefused if not. What ties a
    block below a snapshot to the chain when no header above it is at hand."""
    try:
        block = Block.decode(block_data)
        certificate = CommitCertificate.decode(certificate_data)
    except DecodeError as exc:
        raise BlockRefused(height, f"it does not decode: {exc}") from None
    if block.header.height != height:
        raise BlockRefused(height, f"it is of height {block.header.height}")
    if certificate.height != height or certificate.block_hash != block.hash:
        raise BlockRefused(height, "its certificate commits another block")
    signers = get_block_signers(state, height)
    powers = ENGINE_RECORDS[OUR_ENGINE].powers((v.pubkey, v.power) for v in signers)
    try:
        certificate.verify(chain, powers)
    except InvalidCommit as exc:
        raise BlockRefused(height, f"its certificate does not verify: {exc}") from None
    return block
