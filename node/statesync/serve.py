"""Serving state sync: a node offers its newest snapshot that a light client can trust
(one whose next block and certificate it holds, for the anchor) and serves its chunks,
each read alone from the stored snapshot."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import trio

from clearing.state import ClearingState
from node.p2p import P2PNode
from node.reports.anchor import get_state_anchor
from node.served_snapshots import ServedSnapshots
from node.statesync.records import (
    CHUNK_BYTES,
    CHUNK_PROTOCOL,
    MAX_REQUEST_BYTES,
    NO_OFFER,
    OFFER_PROTOCOL,
    ChunkRequest,
    OfferRequest,
    SnapshotChunk,
    SnapshotOffer,
)
from node.storage import NodeStore
from records.codec import pack


class SnapshotServer:
    """What this node offers of its store (`get_state`: its committed state, whose set
    changes the anchor carries); each chunk served renews its snapshot's lease (`served`)."""

    def __init__(
        self, store: NodeStore, get_state: Callable[[], ClearingState], served: ServedSnapshots
    ) -> None:
        self.store = store
        self.get_state = get_state
        self.served = served
        self.chunk_hashes: dict[int, tuple[bytes, ...]] = {}
        """Each chunk's SHA-256 of the snapshot offered: hashed once, not at every ask."""

    async def get_offer(self) -> SnapshotOffer:
        """The newest snapshot whose anchor is stored (NO_OFFER when none is). The anchor is
        read on the event loop, beside the state it walks; the hashing off it."""
        store, state = self.store, self.get_state()
        for height in store.get_snapshot_heights():
            anchor = get_state_anchor(store, state, height, None)
            block = store.load_block(height)
            size = store.get_snapshot_size(height)
            if anchor is None or block is None or size is None:
                continue
            hashes = self.chunk_hashes.get(height)
            if hashes is None:
                hashes = await trio.to_thread.run_sync(self._hash, height, size)
            if hashes is None:  # pruned meanwhile
                continue
            self.chunk_hashes = {height: hashes}
            return SnapshotOffer(
                height, size, hashes, block.block, block.cert, pack(anchor.to_wire())
            )
        return NO_OFFER

    def _hash(self, height: int, size: int) -> tuple[bytes, ...] | None:
        hashes = []
        for offset in range(0, size, CHUNK_BYTES):
            part = self.store.read_snapshot_part(height, offset, CHUNK_BYTES)
            if part is None:
                return None
            hashes.append(hashlib.sha256(part).digest())
        return tuple(hashes)

    def get_chunk(self, request: ChunkRequest) -> SnapshotChunk:
        """The chunk asked for; empty when the snapshot is no longer held."""
        offset = request.index * CHUNK_BYTES
        data = self.store.read_snapshot_part(request.height, offset, CHUNK_BYTES)
        if data:
            self.served.record(request.height)
        return SnapshotChunk(request.height, request.index, data or b"")


def serve_snapshots(p2p: P2PNode, server: SnapshotServer) -> None:
    """Answers offer and chunk requests, reading the store off the event loop."""

    async def offer(peer: str, data: bytes) -> bytes:
        OfferRequest.decode(data)
        return (await server.get_offer()).encode()

    async def chunk(peer: str, data: bytes) -> bytes:
        request = ChunkRequest.decode(data)
        return (await trio.to_thread.run_sync(server.get_chunk, request)).encode()

    p2p.set_request_handler(OFFER_PROTOCOL, offer, MAX_REQUEST_BYTES)
    p2p.set_request_handler(CHUNK_PROTOCOL, chunk, MAX_REQUEST_BYTES)
