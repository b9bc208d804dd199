"""State sync's wire: what a node offers of its newest snapshot, and the snapshot's chunks.

Two request/response protocols over libp2p (msgpack lists, the format version first):

  /clearnode/snapshots/1       [1]                   -> SnapshotOffer (or [1, 0, ...]: none)
  /clearnode/snapshot-chunk/1  [1, height, index]    -> SnapshotChunk

An offer is everything a node with only the genesis needs to trust a snapshot of height
H: the anchor of the state root after H (block H + 1's header and commit certificate,
and every change of the validator set since genesis: lightclient/anchor.py), block H
and its certificate (where consensus resumes), and the snapshot's size and each chunk's
SHA-256. The chunks are the snapshot's bytes, CHUNK_BYTES each, the last one shorter: a
peer that offered those hashes and serves another chunk is scored down, as CometBFT's
state sync rejects such a sender (node/cometbft/snapshots.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from node.limits import MAX_SYNC_RESPONSE_BYTES
from records.codec import WIRE_VERSION, unpack
from records.declared import Bytes, Declared, Int, Items, Uint, declare_record

OFFER_PROTOCOL = "/clearnode/snapshots/1"
CHUNK_PROTOCOL = "/clearnode/snapshot-chunk/1"
CHUNK_BYTES = 4 * 1024 * 1024
"""Snapshot bytes per chunk: a few round trips for a state of tens of MB."""
MAX_SNAPSHOT_BYTES = 4 * 1024 * 1024 * 1024
"""The largest snapshot a node fetches (1,024 chunks)."""
MAX_CHUNKS = MAX_SNAPSHOT_BYTES // CHUNK_BYTES
MAX_REQUEST_BYTES = 64
MAX_OFFER_BYTES = MAX_SYNC_RESPONSE_BYTES
"""An offer carries two blocks' worth (H and H + 1's header), the set changes and the
chunks' hashes (34 KiB for the largest snapshot)."""
MAX_CHUNK_RESPONSE_BYTES = CHUNK_BYTES + 1024
DIGEST_BYTES = 32


@declare_record(head=WIRE_VERSION)
@dataclass(frozen=True)
class OfferRequest(Declared):
    @staticmethod
    def decode(data: bytes) -> OfferRequest:
        return OfferRequest.from_fields(unpack(data, "OfferRequest", MAX_REQUEST_BYTES))


@declare_record(head=WIRE_VERSION)
@dataclass(frozen=True)
class SnapshotOffer(Declared):
    """The snapshot of the state after block `height` (0: the node offers none)."""

    height: Uint
    size: Annotated[int, Int(0, MAX_SNAPSHOT_BYTES)]
    chunk_hashes: Annotated[tuple[bytes, ...], Items(0, MAX_CHUNKS, Bytes(length=DIGEST_BYTES))]
    block: Annotated[bytes, Bytes()]
    certificate: Annotated[bytes, Bytes()]
    anchor: Annotated[bytes, Bytes()]
    """`StateAnchor.to_wire()`, packed."""

    @property
    def chunks(self) -> int:
        return -(-self.size // CHUNK_BYTES)

    @staticmethod
    def decode(data: bytes) -> SnapshotOffer:
        return SnapshotOffer.from_fields(unpack(data, "SnapshotOffer", MAX_OFFER_BYTES))


NO_OFFER = SnapshotOffer(0, 0, (), b"", b"", b"")


@declare_record(head=WIRE_VERSION)
@dataclass(frozen=True)
class ChunkRequest(Declared):
    height: Annotated[int, Int(1)]
    index: Annotated[int, Int(0, MAX_CHUNKS)]

    @staticmethod
    def decode(data: bytes) -> ChunkRequest:
        return ChunkRequest.from_fields(unpack(data, "ChunkRequest", MAX_REQUEST_BYTES))


@declare_record(head=WIRE_VERSION)
@dataclass(frozen=True)
class SnapshotChunk(Declared):
    """Chunk `index` of the snapshot of `height`; empty when the node no longer holds it."""

    height: Uint
    index: Uint
    data: Annotated[bytes, Bytes(max_length=CHUNK_BYTES)]

    @staticmethod
    def decode(data: bytes) -> SnapshotChunk:
        return SnapshotChunk.from_fields(unpack(data, "SnapshotChunk", MAX_CHUNK_RESPONSE_BYTES))
