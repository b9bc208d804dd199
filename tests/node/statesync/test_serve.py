"""What a node offers for state sync: its newest snapshot whose anchor it holds, with
the snapshot's digest, and each chunk read alone from the store."""

from __future__ import annotations

import hashlib
from pathlib import Path

from node.clearing_app import ClearingApp
from node.served_snapshots import ServedSnapshots
from node.statesync.records import NO_OFFER, ChunkRequest
from node.statesync.serve import SnapshotServer
from node.storage import NodeStore
from tests.node.netsupport import example_genesis, write_trading_chain


async def test_the_newest_anchored_snapshot_is_offered_and_served_in_chunks(
    tmp_path: Path,
) -> None:
    path = tmp_path / "node.sqlite3"
    write_trading_chain(path, 8, snapshot_interval=4)  # no block 9 yet: 8 has no anchor
    with NodeStore(path) as store:
        server = SnapshotServer(
            store, lambda: ClearingApp(example_genesis()).state, ServedSnapshots()
        )
        offer = await server.get_offer()
        snapshot = next(s for s in store.iter_snapshots() if s.height == 4)
        assert (offer.height, offer.size, offer.chunks) == (4, len(snapshot.state), 1)
        assert offer.chunk_hashes == (hashlib.sha256(snapshot.state).digest(),)
        assert offer.block == store.load_block(4).block  # type: ignore[union-attr]
        assert server.served.get_held() == frozenset()
        chunk = server.get_chunk(ChunkRequest(4, 0))
        assert chunk.data == snapshot.state
        assert server.served.get_held() == {4}  # pruning spares it while its lease runs
        assert store.read_snapshot_part(4, 10, 5) == snapshot.state[10:15]
        assert server.get_chunk(ChunkRequest(4, 1)).data == b""  # past its end
        assert server.get_chunk(ChunkRequest(8 + 4, 0)).data == b""  # never taken
        store.prune_snapshots(1)  # only 8 left, whose anchor is not stored
        assert await server.get_offer() == NO_OFFER
