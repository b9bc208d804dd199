"""Block sync: when a node must catch up, and the check of each block fetched.

A lagging node's host fetches committed blocks with their commit certificates
(the node over request streams, `node/p2p/blocksync.py`; the simulator over its
network, `consensus/sim/blocksync.py`). A block is accepted only if it extends
our last block and more than 2/3 of the validator set signed precommits for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.transport import PeerId
from consensus.types import Block, CommitCertificate, InvalidCommit, ValidatorSet


@dataclass
class BehindWatch:
    """Whether a node is stuck behind a peer that is not far enough ahead for the engine's
    `on_behind`: the peer's messages show it committed a height this node lacks, and
    still do after `patience_ms` without a commit here.

    Peers commit a height within a network delay of each other, and a node short of a
    height's votes gets them re-sent (regossip) while its peers are still at that height.
    Once they moved on nobody sends that height again: a node one height behind, whose
    vote the others may be waiting for, finishes it only by block sync.
    """

    patience_ms: int
    behind_since_ms: int | None = None
    """Since when a peer has been ahead with no commit here; None while not behind."""
    _best_peer: tuple[int, PeerId] = (0, "")
    """The highest height a peer showed it committed, and the latest peer to show it."""

    def observe(self, peer: PeerId, message_height: int) -> None:
        """`peer` sent a message of `message_height`: it committed the height before."""
        if message_height - 1 >= self._best_peer[0]:
            self._best_peer = (message_height - 1, peer)

    def record_commit(self) -> None:
        self.behind_since_ms = None

    def get_peer_to_sync(self, own_height: int, now_ms: int) -> PeerId | None:
        """The peer to sync from once we have been behind it for `patience_ms`, our last
        block being `own_height`; the wait starts at the first look that finds us behind."""
        best_height, best_peer = self._best_peer
        if best_height <= own_height:
            self.behind_since_ms = None
            return None
        if self.behind_since_ms is None:
            self.behind_since_ms = now_ms
        return best_peer if now_ms - self.behind_since_ms >= self.patience_ms else None


class SyncRejected(ValueError):
    def __init__(self, height: int, reason: str) -> None:
        super().__init__(f"synced block at height {height} rejected: {reason}")
        self.height = height
        self.reason = reason


def verify_synced_block(
    chain_id: str,
    validators: ValidatorSet,
    height: int,
    prev_block_hash: bytes,
    block: Block,
    certificate: CommitCertificate,
) -> None:
    """Raise SyncRejected unless `block` is a certified child of `prev_block_hash` at `height`."""
    header = block.header
    if header.chain_id != chain_id:
        raise SyncRejected(header.height, f"chain id {header.chain_id!r} != {chain_id!r}")
    if header.height != height:
        raise SyncRejected(header.height, f"expected height {height}")
    if header.prev_block_hash != prev_block_hash:
        raise SyncRejected(height, "does not extend our last block")
    if certificate.height != height or certificate.block_hash != block.hash:
        raise SyncRejected(height, "certificate is for another block")
    if not block.is_body_consistent:
        raise SyncRejected(height, "header hashes do not match the body")
    if header.validators_hash != validators.hash:
        raise SyncRejected(height, "header commits to another validator set")
    try:
        certificate.verify(chain_id, validators)
    except InvalidCommit as exc:
        raise SyncRejected(height, str(exc)) from exc
