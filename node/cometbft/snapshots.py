"""CometBFT's state sync, the app's side: the snapshots a node offers its CometBFT peers
(ABCI ListSnapshots, LoadSnapshotChunk) and an empty node's restore from one
(OfferSnapshot, ApplySnapshotChunk).

A snapshot of height H is the node's stored snapshot of the state after block H (the
bytes our engine's state sync sends, clearing/transition/snapshot.py) in CHUNK_BYTES chunks, then a
chunk for each older block it carries (node/retention.py:get_carried_heights: each that
named a new validator set, and the first of each of the newest report epochs), then one
last chunk with block H: each block as the node stored it with its signed header
(`SnapshotBlock`). So the restored node holds the block its state is of, the set changes
reports' anchors walk and the blocks the newest reports are anchored on
(node/reports/anchor.py), as every node's store does (node/retention.py pins them). The
metadata (`SnapshotMetadata`) is the state's size, those blocks' heights and each chunk's
SHA-256; the snapshot's hash is the metadata's SHA-256.

What the restoring app trusts: the app hash CometBFT offers with the snapshot, which its
light client verified (header H + 1's: the state root after H). Each chunk must hash to
its metadata entry (else it is fetched again, from another peer, and its sender
rejected), the state must have that root (node/statesync/verify.py, as for our engine),
the blocks it carries must be exactly the ones that state says a snapshot of H carries,
each block must be the one its signed header names, committed by the validators the
restored state says signed it, and the state's block time must be block H's header's (the
root commits to no time). A peer can waste the node's time, never hand it a state
or a block the chain did not commit.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Annotated

import trio
from tendermint.abci import types_pb2 as abci

from lightclient.anchor import MAX_SET_CHANGES
from node.clearing_app import ClearingApp
from node.cometbft.committed_block import check_committed_block
from node.retention import SNAPSHOT_REPORT_ANCHORS, get_carried_heights
from node.served_snapshots import ServedSnapshots
from node.statesync.records import CHUNK_BYTES, DIGEST_BYTES, MAX_SNAPSHOT_BYTES
from node.statesync.verify import (
    BlockRefused,
    SnapshotRefused,
    check_snapshot_state,
    check_snapshot_time,
)
from node.storage import NodeStore, Snapshot, StoredBlock
from node.storage.comet_block import MAX_RECORD_BYTES, CometBlockRecord, SignedHeader
from records.codec import WIRE_VERSION, DecodeError, unpack
from records.declared import Bytes, Declared, Int, Items, declare_record

log = logging.getLogger(__name__)

SNAPSHOT_FORMAT = 1
"""The chunking this module describes; CometBFT offers another format's snapshots to an
app that refuses them with REJECT_FORMAT."""
MAX_STATE_CHUNKS = MAX_SNAPSHOT_BYTES // CHUNK_BYTES
MAX_CARRIED = MAX_SET_CHANGES + SNAPSHOT_REPORT_ANCHORS
MAX_CHUNKS = MAX_STATE_CHUNKS + MAX_CARRIED + 1
MAX_METADATA_BYTES = MAX_CHUNKS * (DIGEST_BYTES + 2) + MAX_CARRIED * 9 + 64
"""Under CometBFT's 4 MB bound on a snapshot message (statesync's snapshotMsgSize)."""
MAX_TRAILER_BYTES = 2 * MAX_RECORD_BYTES


@declare_record(head=WIRE_VERSION)
@dataclass(frozen=True)
class SnapshotMetadata(Declared):
    """The state's size, the heights of the blocks before H it carries, and the SHA-256
    of each chunk: the state's, those blocks', then block H's."""

    state_size: Annotated[int, Int(1, MAX_SNAPSHOT_BYTES)]
    pinned_heights: Annotated[tuple[int, ...], Items(0, MAX_CARRIED, Int(1))]
    chunk_hashes: Annotated[tuple[bytes, ...], Items(2, MAX_CHUNKS, Bytes(length=DIGEST_BYTES))]

    @property
    def state_chunks(self) -> int:
        return -(-self.state_size // CHUNK_BYTES)

    @property
    def pinned_chunks(self) -> range:
        """The indexes of the older blocks' chunks."""
        return range(self.state_chunks, self.state_chunks + len(self.pinned_heights))

    @staticmethod
    def decode(data: bytes) -> SnapshotMetadata:
        fields = unpack(data, "snapshot metadata", MAX_METADATA_BYTES)
        return SnapshotMetadata.from_fields(fields)


@declare_record(head=WIRE_VERSION)
@dataclass(frozen=True)
class SnapshotBlock(Declared):
    """A block's chunk: the block as stored (`CometBlockRecord`) and its `SignedHeader`."""

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
    blocks: tuple[bytes, ...]
    """The encoded `SnapshotBlock` chunks after the state's."""


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
    pinned = metadata.pinned_heights
    if snapshot.chunks != len(metadata.chunk_hashes) or snapshot.chunks != (
        metadata.state_chunks + len(pinned) + 1
    ):
        raise ValueError(
            f"{snapshot.chunks} chunks, its metadata hashes {len(metadata.chunk_hashes)} for "
            f"a state of {metadata.state_size} bytes and {len(pinned)} older blocks"
        )
    if list(pinned) != sorted(set(pinned)) or (pinned and pinned[-1] >= snapshot.height):
        raise ValueError(f"its older blocks' heights {pinned} are not ascending below its own")
    return metadata


def decode_snapshot_block(
    height: int, chunk: bytes
) -> tuple[SnapshotBlock, CometBlockRecord, SignedHeader]:
    """A carried block's chunk, decoded; SnapshotRefused (of `height`) if it does not."""
    try:
        carried = SnapshotBlock.decode(chunk)
        record = CometBlockRecord.decode(carried.block)
        return carried, record, SignedHeader.decode(carried.signed_header)
    except DecodeError as exc:
        raise SnapshotRefused(height, f"a block it carries does not decode: {exc}") from None


class AppSnapshots:
    """The app's side of CometBFT's state sync: the snapshots this node's store holds whose
    block's signed header it has fetched, described once per snapshot (hashing reads the
    whole state), and the restore of an empty node from the chunks CometBFT hands it."""

    def __init__(
        self, app: ClearingApp, store: NodeStore, chain: str, served: ServedSnapshots
    ) -> None:
        self.app = app
        self.store = store
        self.chain = chain
        self.served = served
        """Each chunk served renews its snapshot's lease: pruning spares it meanwhile."""
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
        size = self.store.get_snapshot_size(height)
        pinned = get_carried_heights(self.app.state, height)
        blocks = [self.load_snapshot_block(h) for h in (*pinned, height)]
        if not size or None in blocks:
            return None  # block H's signed header comes with the next height
        hashes = []
        for offset in range(0, size, CHUNK_BYTES):
            part = self.store.read_snapshot_part(height, offset, CHUNK_BYTES)
            if part is None:  # pruned meanwhile
                return None
            hashes.append(hash_chunk(part))
        carried = tuple(b for b in blocks if b is not None)
        metadata = SnapshotMetadata(
            size, pinned, (*hashes, *(hash_chunk(b) for b in carried))
        ).encode()
        snapshot = abci.Snapshot(
            height=height, format=SNAPSHOT_FORMAT, chunks=len(hashes) + len(carried),
            hash=hash_chunk(metadata), metadata=metadata,
        )  # fmt: skip
        return Offered(snapshot, carried)

    def load_snapshot_block(self, height: int) -> bytes | None:
        """Block `height`'s chunk; None until its signed header is stored."""
        stored = self.store.load_block(height)
        if stored is None or not stored.cert:
            return None
        return SnapshotBlock(stored.block, stored.cert).encode()

    def load_chunk(self, height: int, snapshot_format: int, index: int) -> bytes:
        """Chunk `index` of the snapshot of `height`; empty when it is not held (pruned)."""
        offered = self.describe(height) if snapshot_format == SNAPSHOT_FORMAT else None
        if offered is None or not 0 <= index < offered.snapshot.chunks:
            return b""
        self.served.record(height)
        state_chunks: int = offered.snapshot.chunks - len(offered.blocks)
        if index >= state_chunks:
            return offered.blocks[index - state_chunks]
        return self.store.read_snapshot_part(height, index * CHUNK_BYTES, CHUNK_BYTES) or b""

    # -- restoring --------------------------------------------------------------

    def offer(self, request: abci.RequestOfferSnapshot) -> abci.ResponseOfferSnapshot:
        answer, snapshot = abci.ResponseOfferSnapshot, request.snapshot
        held, restored = self.store.latest_height(), self.store.get_restored_height()
        if held and restored is None:
            log.error("state sync offered a snapshot of height %d to a node at height %d: "
                      "aborted", snapshot.height, held)  # fmt: skip
            return answer(result=answer.ABORT)
        if snapshot.format != SNAPSHOT_FORMAT:
            return answer(result=answer.REJECT_FORMAT)
        try:
            metadata = check_offered_metadata(snapshot)
        except (DecodeError, ValueError) as exc:
            log.warning("state sync: the snapshot of height %d is refused: %s",
                        snapshot.height, exc)  # fmt: skip
            return answer(result=answer.REJECT)
        if restored is not None:
            log.warning("state sync: CometBFT did not take up this node's restore of height "
                        "%d (stopped before it stored its own state): restoring afresh, the "
                        "earlier restore kept until this one is checked", restored)  # fmt: skip
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
        """The restored state, block H and the older blocks it carries into the store and
        the app, once checked."""
        height, root, metadata = restore.height, restore.app_hash, restore.metadata
        data = b"".join(restore.chunks[i] for i in range(metadata.state_chunks))
        if len(data) != metadata.state_size:
            raise SnapshotRefused(
                height, f"its state is {len(data)} bytes, not {metadata.state_size}"
            )
        state = check_snapshot_state(self.app.genesis, height, data, root)
        expected = get_carried_heights(state, height)
        if metadata.pinned_heights != expected:
            raise SnapshotRefused(height, f"it carries blocks {metadata.pinned_heights}, not "
                                  f"{expected}: the set changes and reports' anchors its state "
                                  "records")  # fmt: skip
        last = len(metadata.chunk_hashes) - 1
        stored = []
        for block_height, index in [
            *zip(expected, metadata.pinned_chunks, strict=True),
            (height, last),
        ]:
            carried, record, signed = decode_snapshot_block(height, restore.chunks[index])
            try:
                check_committed_block(block_height, state, record, signed, self.chain)
            except BlockRefused as exc:
                raise SnapshotRefused(height, f"its block {exc.height}: {exc.reason}") from None
            block_root = b""  # a pinned block's root is not known here (h + 1's header has it)
            if block_height == height:
                check_snapshot_time(state, height, record.time_ms)
                block_root = root
            stored.append(
                StoredBlock(block_height, carried.block, carried.signed_header, block_root)
            )
        *pinned, block = stored
        self.store.save_restored(Snapshot(height, data, root), block, pinned)
        self.app.state, self.app.last_root = state, root
        self.restored.set()
        log.info("state synced to height %d: a snapshot of %d bytes and %d older blocks (set "
                 "changes, reports' anchors); blocks and history are held from there on",
                 height, len(data), len(pinned))  # fmt: skip
