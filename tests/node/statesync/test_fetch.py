"""State sync refuses to start where it could not trust what it fetched: a genesis older
than the trusting period without a checkpoint, before opening anything. Over real
libp2p hosts, a chunk is taken only as the offer hashed it: a peer serving another is
scored down and the next peer asked; one that no longer serves it is nobody's offence.
The restore brings the first block of each recent report epoch, each only with a
certificate of the set the restored state says signed it, so the restored node serves
those reports with their anchors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import trio

from clearing.transition.snapshot import encode_snapshot
from consensus.types import Block
from lightclient.anchor import TRUSTING_PERIOD_MS, SetChange, Trust, get_consensus_chain_id
from lightclient.commit import CommitCertificate
from node.clock import wall_clock_ms
from node.config import load_config
from node.p2p import P2PNode
from node.reports.anchor import get_state_anchor
from node.retention import get_carried_heights
from node.statesync.fetch import StartNotTrusted, fetch_chunk, fetch_trusted, sync_state
from node.statesync.records import (
    CHUNK_PROTOCOL,
    MAX_REQUEST_BYTES,
    ChunkRequest,
    SnapshotChunk,
    SnapshotOffer,
)
from node.statesync.verify import SnapshotRefused, TrustedOffer, check_offer, hash_chunks
from node.storage import NodeStore
from tests.lightclient.support import GENESIS_HASH, get_powers
from tests.node.netproc import GENESIS_DOC, NodeHome, add_validators
from tests.node.p2p.support import line
from tests.node.statesync.support import (
    GENESIS,
    KEYS,
    build_chain,
    make_next_header,
    make_offer,
    serve_chain,
)


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


SHORT_EPOCHS = replace(GENESIS, epoch_length_blocks=2)
SYNCED_AT = 6
CONSENSUS_CHAIN = get_consensus_chain_id(GENESIS.chain_id, GENESIS_HASH)
CHAIN = build_chain(SYNCED_AT, genesis=SHORT_EPOCHS)
FORGED = build_chain(SYNCED_AT, signers=2, genesis=SHORT_EPOCHS)
"""The same blocks, committed by half the power."""
STATE = encode_snapshot(CHAIN.state)


def trust_offer() -> TrustedOffer:
    """The offer of the snapshot at SYNCED_AT, checked as state sync checks it."""
    block = Block.decode(CHAIN.blocks[-1].block)
    offer = make_offer(STATE, block, make_next_header(SHORT_EPOCHS, CHAIN.state, block))
    trust = Trust(GENESIS.genesis_time_ms + 60_000, GENESIS.genesis_time_ms)
    return check_offer(offer, SHORT_EPOCHS, GENESIS_HASH, trust)


async def test_a_restore_brings_the_first_block_of_each_recent_report_epoch(
    tmp_path: Path,
) -> None:
    """Epochs of 2 blocks, a snapshot of height 6: the reports of epochs 1 to 3 may still
    come, anchored on blocks 3, 5 and 7 (which the node applies). Peer a serves 3 and 5
    committed by half the power, c by the set: a is scored down, c's are stored, and the
    anchor of epoch 1's root is served from the restored store."""
    assert get_carried_heights(CHAIN.state, SYNCED_AT) == (3, 5)
    with NodeStore(tmp_path / "b.sqlite3") as store:
        async with line("a", "b", "c") as (a, b, c):
            for peer, chain in ((a, FORGED), (c, CHAIN)):
                serve_chunk(peer, STATE)
                serve_chain(peer, chain.blocks, per_response=64)
            peers = [a.peer_id, c.peer_id]
            await fetch_trusted(b, store, SHORT_EPOCHS, CONSENSUS_CHAIN, trust_offer(), peers)
            assert b.scores.get_score(a.peer_id) < 0 == b.scores.get_score(c.peer_id)
        for height in (3, 5):
            held, served = store.load_block(height), CHAIN.blocks[height - 1]
            assert held is not None
            assert (held.block, held.cert) == (served.block, served.certificate)
        assert [store.load_block(h) for h in (1, 2, 4)] == [None] * 3
        assert store.first_height() == SYNCED_AT
        anchor = get_state_anchor(store, CHAIN.state, 2, None)
        assert anchor is not None and anchor.header.height == 3


async def test_a_snapshot_whose_recent_epochs_blocks_no_peer_serves_is_refused(
    tmp_path: Path,
) -> None:
    with NodeStore(tmp_path / "b.sqlite3") as store:
        async with line("a", "b") as (a, b):
            serve_chunk(a, STATE)
            serve_chain(a, FORGED.blocks, per_response=64)
            with pytest.raises(SnapshotRefused, match="no peer served its block 3 with a"):
                await fetch_trusted(
                    b, store, SHORT_EPOCHS, CONSENSUS_CHAIN, trust_offer(), [a.peer_id]
                )
        assert store.latest_height() == 0  # nothing written


async def test_a_set_change_block_the_walk_did_not_check_needs_the_states_set(
    tmp_path: Path,
) -> None:
    """A walk from a checkpoint checks none of the anchor's set changes before it: each of
    their blocks must still carry a certificate of the set the restored state names."""
    trusted = trust_offer()
    block = Block.decode(CHAIN.blocks[2].block)
    half_signed = CommitCertificate.decode(FORGED.blocks[2].certificate)
    change = SetChange(block.header, half_signed, get_powers(KEYS))
    forged = replace(trusted, anchor=replace(trusted.anchor, set_changes=(change,)))
    with NodeStore(tmp_path / "b.sqlite3") as store:
        async with line("a", "b") as (a, b):
            serve_chunk(a, STATE)
            serve_chain(a, CHAIN.blocks, per_response=64)
            refused = "its anchor's block 3 is refused: its certificate does not verify"
            with pytest.raises(SnapshotRefused, match=refused):
                await fetch_trusted(b, store, SHORT_EPOCHS, CONSENSUS_CHAIN, forged, [a.peer_id])
        assert store.latest_height() == 0  # nothing written
