"""State sync refuses to start where it could not trust what it fetched: a genesis older
than the trusting period without a checkpoint, before opening anything. Over real
libp2p hosts, a chunk is taken only as the offer hashed it: a peer serving another is
scored down and the next peer asked; one that no longer serves it is nobody's offence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio

from lightclient.anchor import TRUSTING_PERIOD_MS
from node.clock import wall_clock_ms
from node.config import load_config
from node.p2p import P2PNode
from node.statesync.fetch import StartNotTrusted, fetch_chunk, sync_state
from node.statesync.records import (
    CHUNK_PROTOCOL,
    MAX_REQUEST_BYTES,
    ChunkRequest,
    SnapshotChunk,
    SnapshotOffer,
)
from node.statesync.verify import SnapshotRefused, hash_chunks
from tests.node.netproc import GENESIS_DOC, NodeHome, add_validators
from tests.node.p2p.support import line


def test_a_genesis_past_the_trusting_period_needs_a_checkpoint(tmp_path: Path) -> None:
    genesis = json.loads(GENESIS_DOC.read_text())
    add_validators(genesis, 4)
    genesis["genesis_time_ms"] = wall_clock_ms() - TRUSTING_PERIOD_MS - 60_000
    home = NodeHome(tmp_path / "new", "new", None)
    home.extra_config += "[state_sync]\nenabled = true\n"
    home.write(genesis, [])
    with pytest.raises(StartNotTrusted, match=r"set state_sync\.checkpoint"):
        trio.run(sync_state, load_config(home.path))
    assert not home.db.exists()  # nothing opened, nothing written


SNAPSHOT = bytes(range(256)) * 40
OFFER = SnapshotOffer(8, len(SNAPSHOT), hash_chunks(SNAPSHOT), b"", b"", b"")


def serve_chunk(node: P2PNode, data: bytes) -> None:
    """`node` answers every chunk request with `data`."""

    async def answer(peer: str, request: bytes) -> bytes:
        asked = ChunkRequest.decode(request)
        return SnapshotChunk(asked.height, asked.index, data).encode()

    node.set_request_handler(CHUNK_PROTOCOL, answer, MAX_REQUEST_BYTES)


async def test_a_chunk_not_the_offered_one_is_asked_of_the_next_peer_its_sender_scored_down() -> (
    None
):
    async with line("a", "b", "c") as (a, b, c):
        serve_chunk(a, bytes(len(SNAPSHOT)))  # as long as the chunk, another one
        serve_chunk(c, b"")  # pruned meanwhile
        with pytest.raises(SnapshotRefused, match="no peer served its chunk 0"):
            await fetch_chunk(b, [a.peer_id, c.peer_id], OFFER, 0)
        assert b.scores.get_score(a.peer_id) < 0 == b.scores.get_score(c.peer_id)
        serve_chunk(c, SNAPSHOT)
        assert await fetch_chunk(b, [a.peer_id, c.peer_id], OFFER, 0) == SNAPSHOT
        assert b.scores.get_score(c.peer_id) == 0
