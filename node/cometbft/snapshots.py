"""CometBFT's state sync, the app's side: the snapshots a node offers its CometBFT peers
(ABCI ListSnapshots, LoadSnapshotChunk) and an empty node's restore from one
(OfferSnapshot, ApplySnapshotChunk).

A snapshot of height H is the node's stored snapshot of the state after block H (the
bytes our engine's state sync sends, clearing/snapshot.py) in CHUNK_BYTES chunks, then
one last chunk with block H as the node stored it and its signed header (`SnapshotBlock`),
so the restored node holds the block its state is of, as every node's store does. The
metadata (`SnapshotMetadata`) is each chunk's SHA-256 and the state's size; the
snapshot's hash is the metadata's SHA-256.

What the restoring app trusts: the app hash CometBFT offers with the snapshot, which its
light client verified (header H + 1's: the state root after H). Each chunk must hash to
its metadata entry (else it is fetched again, from another peer, and its sender
rejected), the state must have that root (node/statesync/verify.py, as for our engine),
and block H must be the one its signed header names, committed by the validators the
restored state says signed it. A peer can waste the node's time, never hand it a state
or a block the chain did not commit.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Annotated

import trio
from tendermint.abci import types_pb2 as abci

from clearing.state import ClearingState
from clearing.validator_set import get_active_set_at
from lightclient.codec import WIRE_VERSION, DecodeError, unpack
from lightclient.cometbft import CometValidatorPowers, compute_merkle_root
from lightclient.commit import InvalidCommit
from lightclient.records import Bytes, Declared, Int, Items, declare_record
from node.clearing_app import ClearingApp
from node.cometbft.record import MAX_RECORD_BYTES, CometBlockRecord, SignedHeader
from node.statesync.records import CHUNK_BYTES, DIGEST_BYTES, MAX_SNAPSHOT_BYTES
from node.statesync.verify import SnapshotRefused, check_snapshot_state
from node.storage import NodeStore, Snapshot, StoredBlock

log = logging.getLogger(__name__)

SNAPSHOT_FORMAT = 1
"""The chunking this module describes; CometBFT offers another format's snapshots to an
app that refuses them with REJECT_FORMAT."""
MAX_STATE_CHUNKS = MAX_SNAPSHOT_BYTES // CHUNK_BYTES
MAX_METADATA_BYTES = (MAX_STATE_CHUNKS + 1) * (DIGEST_BYTES + 2) + 64
"""Under CometBFT's 4 MB bound on a snapshot message (statesync's snapshotMsgSize)."""
MAX_TRAILER_BYTES = 2 * MAX_RECORD_BYTES


@declare_record(head=WIRE_VERSION)
@dataclass(frozen=True)
class SnapshotMetadata(Declared):
    """The state's size and the SHA-256 of each chunk: the state's, then the block's."""

    state_size: Annotated[int, Int(1, MAX_SNAPSHOT_BYTES)]
    chunk_hashes: Annotated[
        tuple[bytes, ...], Items(2, MAX_STATE_CHUNKS + 1, Bytes(length=DIGEST_BYTES))
    ]

    @property
    def state_chunks(self) -> int:
        return -(-self.state_size // CHUNK_BYTES)

    @staticmethod
    def decode(data: bytes) -> SnapshotMetadata:
        fields = unpack(data, "snapshot metadata", MAX_METADATA_BYTES)
        return SnapshotMetadata.from_fields(fields)


@declare_record(head=WIRE_VERSION)
@dataclass(frozen=True)
class SnapshotBlock(Declared):
    """The last chunk: block H as stored (`CometBlockRecord`) and its `SignedHeader`."""

    block: Annotated[bytes, Bytes(max_length=MAX_RECORD_BYTES)]
    signed_header: Annotated[bytes, Bytes()]

    @staticmethod
    def decode(data: bytes) -> SnapshotBlock:
        return SnapshotBlock.from_fields(unpack(data, "snapshot block", MAX_TRAILER_BYTES))


def hash_chunk(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


@dataclass(frozen=True)
class Offered:
    """One stored snapshot as this node offers it."""

    snapshot: abci.Snapshot
    trailer: bytes


@dataclass
class Restore:
    """A snapshot CometBFT offered and the app accepted, its chunks as they arrive."""

    height: int
    app_hash: bytes
    metadata: SnapshotMetadata
    chunks: dict[int, bytes] = field(default_factory=dict)

    @property
    def is_complete(self) -> bool:
        return len(self.chunks) == len(self.metadata.chunk_hashes)


def check_offered_metadata(snapshot: abci.Snapshot) -> SnapshotMetadata:
    """The snapshot's metadata, if the snapshot is one this app restores from; DecodeError
    or ValueError saying why not."""
    metadata = SnapshotMetadata.decode(snapshot.metadata)
    if hash_chunk(snapshot.metadata) != snapshot.hash:
        raise ValueError("its hash is not its metadata's")
    if snapshot.chunks != len(metadata.chunk_hashes) or snapshot.chunks != (
        metadata.state_chunks + 1
    ):
        raise ValueError(
            f"{snapshot.chunks} chunks, its metadata hashes {len(metadata.chunk_hashes)} for "
            f"a state of {metadata.state_size} bytes"
        )
    return metadata


def check_restored_block(
    restore: Restore,
    state: ClearingState,
    record: CometBlockRecord,
    signed: SignedHeader,
    chain: str,
) -> None:
    """Block H is the one its signed header names, committed by the set that signed H."""
    height, header = restore.height, signed.header
    if (record.height, header.height) != (height, height):
        raise SnapshotRefused(height, f"its block is of height {record.height}")
    if record.block_hash != header.hash or signed.commit.block_hash != header.hash:
        raise SnapshotRefused(height, "its block, header and commit name different blocks")
    if (record.time_ms, record.proposer_address) != (header.time_ms, header.proposer_address):
        raise SnapshotRefused(height, "its block's time or proposer is not its header's")
    if compute_merkle_root([hash_chunk(tx) for tx in record.txs]) != header.data_hash:
        raise SnapshotRefused(height, "its block's transactions are not the ones its header names")
    # Consensus runs height h + 2 with the set recorded after block h.
    signers = get_active_set_at(state, height - 1)
    powers = CometValidatorPowers.of((v.pubkey, v.power) for v in signers)
    try:
        signed.commit.verify(chain, powers)
    except InvalidCommit as exc:
        raise SnapshotRefused(height, f"its block's commit does not verify: {exc}") from None


class AppSnapshots:
    """The app's side of CometBFT's state sync: the snapshots this node's store holds whose
    block's signed header it has fetched, described once per snapshot (hashing reads the
    whole state), and the restore of an empty node from the chunks CometBFT hands it."""

    def __init__(self, app: ClearingApp, store: NodeStore, chain: str) -> None:
        self.app = app
        self.store = store
        self.chain = chain
        """The consensus chain id, which block H's commit signs."""
        self.described: dict[int, Offered] = {}
        self.restore: Restore | None = None
        self.restored = trio.Event()
        """Set once a snapshot is installed (node/cometbft/runtime.py watches it)."""

    # -- serving ----------------------------------------------------------------

    def list_snapshots(self) -> list[abci.Snapshot]:
        offered = [o for h in self.store.get_snapshot_heights() if (o := self.describe(h))]
        self.described = {o.snapshot.height: o for o in offered}
        return [o.snapshot for o in offered]

    def describe(self, height: int) -> Offered | None:
        if height in self.described:
            return self.described[height]
        stored, size = self.store.load_block(height), self.store.get_snapshot_size(height)
        if stored is None or not stored.cert or not size:
            return None  # the signed header comes with the next height
        hashes = []
        for offset in range(0, size, CHUNK_BYTES):
            part = self.store.read_snapshot_part(height, offset, CHUNK_BYTES)
            if part is None:  # pruned meanwhile
                return None
            hashes.append(hash_chunk(part))
        trailer = SnapshotBlock(stored.block, stored.cert).encode()
        metadata = SnapshotMetadata(size, (*hashes, hash_chunk(trailer))).encode()
        snapshot = abci.Snapshot(
            height=height, format=SNAPSHOT_FORMAT, chunks=len(hashes) + 1,
            hash=hash_chunk(metadata), metadata=metadata,
        )  # fmt: skip
        return Offered(snapshot, trailer)

    def load_chunk(self, height: int, snapshot_format: int, index: int) -> bytes:
        """Chunk `index` of the snapshot of `height`; empty when it is not held (pruned)."""
        offered = self.describe(height) if snapshot_format == SNAPSHOT_FORMAT else None
        if offered is None or not 0 <= index < offered.snapshot.chunks:
            return b""
        if index == offered.snapshot.chunks - 1:
            return offered.trailer
        return self.store.read_snapshot_part(height, index * CHUNK_BYTES, CHUNK_BYTES) or b""

    # -- restoring --------------------------------------------------------------

    def offer(self, request: abci.RequestOfferSnapshot) -> abci.ResponseOfferSnapshot:
        answer, snapshot = abci.ResponseOfferSnapshot, request.snapshot
        if self.app.height or self.store.latest_height():
            log.error("state sync offered a snapshot of height %d to a node at height %d: "
                      "aborted", snapshot.height, self.app.height)  # fmt: skip
            return answer(result=answer.ABORT)
        if snapshot.format != SNAPSHOT_FORMAT:
            return answer(result=answer.REJECT_FORMAT)
        try:
            metadata = check_offered_metadata(snapshot)
        except (DecodeError, ValueError) as exc:
            log.warning("state sync: the snapshot of height %d is refused: %s",
                        snapshot.height, exc)  # fmt: skip
            return answer(result=answer.REJECT)
        self.restore = Restore(snapshot.height, request.app_hash, metadata)
        log.info("state sync: restoring the snapshot of height %d (%d chunks)",
                 snapshot.height, snapshot.chunks)  # fmt: skip
        return answer(result=answer.ACCEPT)

    def apply_chunk(
        self, request: abci.RequestApplySnapshotChunk
    ) -> abci.ResponseApplySnapshotChunk:
        result = abci.ResponseApplySnapshotChunk
        restore = self.restore
        if restore is None or not 0 <= request.index < len(restore.metadata.chunk_hashes):
            return result(result=result.ABORT)
        if hash_chunk(request.chunk) != restore.metadata.chunk_hashes[request.index]:
            log.warning("state sync: chunk %d of height %d from %s is not the snapshot's: "
                        "fetched again", request.index, restore.height, request.sender)  # fmt: skip
            return result(
                result=result.RETRY, refetch_chunks=[request.index], reject_senders=[request.sender]
            )
        restore.chunks[request.index] = request.chunk
        if not restore.is_complete:
            return result(result=result.ACCEPT)
        self.restore = None
        try:
            self.install(restore)
        except SnapshotRefused as exc:
            log.warning("state sync: %s", exc)
            return result(result=result.REJECT_SNAPSHOT)
        return result(result=result.ACCEPT)

    def install(self, restore: Restore) -> None:
        """The restored state and block H into the store and the app, once checked."""
        height, root = restore.height, restore.app_hash
        last = len(restore.metadata.chunk_hashes) - 1
        data = b"".join(restore.chunks[i] for i in range(last))
        size = restore.metadata.state_size
        if len(data) != size:
            raise SnapshotRefused(height, f"its state is {len(data)} bytes, not {size}")
        state = check_snapshot_state(self.app.genesis, height, data, root)
        try:
            trailer = SnapshotBlock.decode(restore.chunks[last])
            record = CometBlockRecord.decode(trailer.block)
            signed = SignedHeader.decode(trailer.signed_header)
        except DecodeError as exc:
            raise SnapshotRefused(height, f"its block does not decode: {exc}") from None
        check_restored_block(restore, state, record, signed, self.chain)
        block = StoredBlock(height, trailer.block, trailer.signed_header, root)
        self.store.save_restored(Snapshot(height, data, root), block, ())
        self.app.state, self.app.last_root = state, root
        self.restored.set()
        log.info("state synced to height %d: a snapshot of %d bytes; blocks and history are "
                 "held from there on", height, len(data))  # fmt: skip
