"""Block sync: verify a block fetched from a peer before applying it.

A lagging node's host fetches committed blocks with their commit certificates
(the node over request streams, `node/blocksync.py`; the simulator over its
network, `consensus/sim/blocksync.py`). A block is accepted only if it extends
our last block and more than 2/3 of the validator set signed precommits for it.
"""

from __future__ import annotations

from consensus.types import Block, CommitCertificate, InvalidCommit, ValidatorSet


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
