"""Whether a block as a CometBFT node stores it (its `CometBlockRecord` and its
`SignedHeader`) is the one the chain committed at its height, read with nothing but a
trusted state: what a restore checks of the blocks a snapshot carries
(node/cometbft/snapshots.py) and backfill of each block a peer sends
(node/statesync/backfill.py).

The record must be the block its header names (hash, time, proposer, and transactions
whose Merkle root is the header's `data_hash`), and the commit must carry more than 2/3
of the power of the set the state records signing that height.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from clearing.state import ClearingState
from clearing.validator_set import get_block_signers
from lightclient.anchor import AnchorHeader
from lightclient.cometbft import CometValidatorPowers, compute_merkle_root
from lightclient.commit import InvalidCommit
from node.p2p.blocksync import SyncedBlock
from node.statesync.backfill import EngineBlocks
from node.statesync.verify import BlockRefused
from node.storage import StoredBlock
from node.storage.comet_block import CometBlockRecord, SignedHeader
from records.codec import DecodeError


def check_committed_block(
    height: int, state: ClearingState, record: CometBlockRecord, signed: SignedHeader, chain: str
) -> None:
    """Block `height` is the one its signed header names, committed by the set that signed
    it as `state` (trusted, of that height or later) records; BlockRefused if not."""
    header = signed.header
    if (record.height, header.height) != (height, height):
        raise BlockRefused(height, f"its record and header are of heights {record.height} "
                                   f"and {header.height}")  # fmt: skip
    if record.block_hash != header.hash or signed.commit.block_hash != header.hash:
        raise BlockRefused(height, "its record, header and commit name different blocks")
    if (record.time_ms, record.proposer_address) != (header.time_ms, header.proposer_address):
        raise BlockRefused(height, "its time or proposer is not its header's")
    if compute_data_hash(record.get_items()) != header.data_hash:
        raise BlockRefused(height, "its transactions are not the ones its header names")
    signers = get_block_signers(state, height)
    powers = CometValidatorPowers.of((v.pubkey, v.power) for v in signers)
    try:
        signed.commit.verify(chain, powers)
    except InvalidCommit as exc:
        raise BlockRefused(height, f"its commit does not verify: {exc}") from None


def compute_data_hash(items: Sequence[bytes]) -> bytes:
    """A CometBFT header's `data_hash`: the Merkle root of its transactions' SHA-256 (a
    referenced transaction's: its reference's)."""
    return compute_merkle_root([hashlib.sha256(item).digest() for item in items])


def check_synced_block(state: ClearingState, chain: str, synced: SyncedBlock) -> AnchorHeader:
    """A peer's block sync answer on CometBFT (the record, and the signed header as its
    certificate), checked as committed: its header."""
    try:
        record = CometBlockRecord.decode(synced.block)
        signed = SignedHeader.decode(synced.certificate)
    except DecodeError as exc:
        raise BlockRefused(synced.height, f"it does not decode: {exc}") from None
    check_committed_block(synced.height, state, record, signed, chain)
    return signed.header


def read_header(held: StoredBlock) -> AnchorHeader:
    return SignedHeader.decode(held.cert).header


COMET_BLOCKS = EngineBlocks(read_header, check_synced_block)
