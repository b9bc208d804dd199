"""Backfill (node/statesync/backfill.py): a node restored at height H fetches the blocks
below it from a peer over real libp2p hosts, each the one the block above names and
committed by the genesis's set, and stores them with the state roots the chain above
commits to; a peer sending another block is scored down and nothing is stored."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest

from clearing.transition.snapshot import encode_snapshot
from consensus.types import Block
from lightclient.anchor import get_consensus_chain_id
from node.p2p.blocksync import PROTOCOL, SyncRequest, SyncResponse, serve_blocks
from node.statesync.backfill import OUR_BLOCKS, backfill_blocks, check_backfilled, fetch_batch
from node.statesync.verify import BlockRefused
from node.storage import NodeStore, Snapshot, StoredBlock
from tests.lightclient.support import GENESIS_HASH
from tests.node.p2p.support import line
from tests.node.statesync.support import GENESIS, Chain, build_chain, serve_chain

CHAIN = get_consensus_chain_id(GENESIS.chain_id, GENESIS_HASH)
HEIGHT = 40
"""The restored node's snapshot height: 39 blocks below it, two batches and a bit."""


CHAIN_BLOCKS = build_chain(HEIGHT)
HALF_SIGNED = build_chain(HEIGHT, signers=2)
CHECK = partial(OUR_BLOCKS.check_committed, CHAIN_BLOCKS.state, CHAIN)


def restored_store(path: Path, chain: Chain) -> NodeStore:
    """A store as state sync leaves it at HEIGHT."""
    store = NodeStore(path)
    top = chain.blocks[-1]
    root = chain.roots[-1]
    block = StoredBlock(HEIGHT, top.block, top.certificate, root)
    store.save_restored(Snapshot(HEIGHT, encode_snapshot(chain.state), root), block, ())
    return store


def above(store: NodeStore) -> Block:
    held = store.load_block(store.first_height())
    assert held is not None
    return Block.decode(held.block)


async def test_a_restored_node_backfills_the_chain_below_its_snapshot(tmp_path: Path) -> None:
    with restored_store(tmp_path / "b.sqlite3", CHAIN_BLOCKS) as store:
        async with line("a", "b") as (a, b):
            serve_chain(a, CHAIN_BLOCKS.blocks, per_response=5)  # fewer than asked for
            await backfill_blocks(b, store, lambda: CHAIN_BLOCKS.state, CHAIN, lambda: 1)
        assert store.first_height() == 1
        for height in range(1, HEIGHT):
            held = store.load_block(height)
            synced = CHAIN_BLOCKS.blocks[height - 1]
            assert held == StoredBlock(
                height, synced.block, synced.certificate, CHAIN_BLOCKS.roots[height - 1]
            )
        assert b.scores.get_score(a.peer_id) >= 0


async def test_backfill_stops_at_what_retention_keeps(tmp_path: Path) -> None:
    with restored_store(tmp_path / "b.sqlite3", CHAIN_BLOCKS) as store:
        async with line("a", "b") as (a, b):
            serve_blocks(a, lambda h: CHAIN_BLOCKS.blocks[h - 1] if h <= HEIGHT else None,
                         lambda: HEIGHT)  # fmt: skip
            await backfill_blocks(b, store, lambda: CHAIN_BLOCKS.state, CHAIN, lambda: 30)
        assert store.first_height() == 30 and store.load_block(29) is None


async def test_a_peer_sending_another_chain_is_scored_down_and_nothing_stored(
    tmp_path: Path,
) -> None:
    forged = HALF_SIGNED  # the same blocks, half the power committed
    with restored_store(tmp_path / "b.sqlite3", CHAIN_BLOCKS) as store:
        async with line("c", "b") as (c, b):
            serve_chain(c, forged.blocks[:-1] + CHAIN_BLOCKS.blocks[-1:], per_response=64)
            top = above(store).header
            found = await fetch_batch(b, HEIGHT, 32, top, CHECK)
            assert found == [] and b.scores.get_score(c.peer_id) < 0
        assert store.first_height() == HEIGHT


async def test_a_peer_sending_more_blocks_than_asked_is_scored_down(tmp_path: Path) -> None:
    async def answer(peer: str, data: bytes) -> bytes:
        request = SyncRequest.decode(data)
        first = request.from_height - 2  # one block more, below
        return SyncResponse(
            HEIGHT, tuple(CHAIN_BLOCKS.blocks[first : first + request.max_count + 1])
        ).encode()

    with restored_store(tmp_path / "b.sqlite3", CHAIN_BLOCKS) as store:
        async with line("c", "b") as (c, b):
            c.set_request_handler(PROTOCOL, answer, 64)
            top = above(store).header
            assert await fetch_batch(b, HEIGHT, 8, top, CHECK) == []
            assert b.scores.get_score(c.peer_id) < 0


async def test_a_batch_pruning_overtook_is_dropped_and_backfill_goes_on(tmp_path: Path) -> None:
    """The chain moves on while a batch is fetched, and pruning lifts the first height
    past it: the batch no longer ends below the first height, and backfill asks again
    from there."""
    longer = build_chain(HEIGHT + 10)  # CHAIN_BLOCKS, then ten blocks more
    with restored_store(tmp_path / "b.sqlite3", CHAIN_BLOCKS) as store:

        async def answer_as_the_chain_moves_on(peer: str, data: bytes) -> bytes:
            if store.latest_height() == HEIGHT:
                for synced, root in zip(longer.blocks[HEIGHT:], longer.roots[HEIGHT:], strict=True):
                    snapshot = b"state" if synced.height == HEIGHT + 10 else None
                    store.save_block(
                        synced.height, synced.block, synced.certificate, root, snapshot
                    )
                store.prune_snapshots(1)
                store.prune(HEIGHT + 5, 1, pinned=())
            request = SyncRequest.decode(data)
            first = request.from_height - 1
            held = longer.blocks[first : first + request.max_count]
            return SyncResponse(HEIGHT + 10, tuple(held)).encode()

        async with line("a", "b") as (a, b):
            a.set_request_handler(PROTOCOL, answer_as_the_chain_moves_on, 64)
            kept = lambda: store.latest_height() - 8 + 1  # noqa: E731 (blocks_kept = 8)
            await backfill_blocks(b, store, lambda: longer.state, CHAIN, kept)
        assert store.first_height() == HEIGHT + 3  # 33 to 39 asked, then 43 and 44
        held = [h for h in range(HEIGHT - 8, HEIGHT + 5) if store.load_block(h) is not None]
        assert held == [HEIGHT + 3, HEIGHT + 4]


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("another parent", "is not the block"),
        ("another height", "it is of height 1"),
        ("a certificate of another block", "its certificate commits another block"),
        ("half the power", "its certificate does not verify"),
        ("undecodable", "it does not decode"),
    ],
)
def test_a_block_that_is_not_the_one_above_names_is_refused(case: str, reason: str) -> None:
    blocks = list(CHAIN_BLOCKS.blocks[HEIGHT - 5 : HEIGHT - 1])
    top = Block.decode(CHAIN_BLOCKS.blocks[-1].block).header
    low = blocks[0]
    header_above = top
    if case == "another parent":
        header_above = replace(top, prev_block_hash=bytes(32))
    if case == "another height":
        low = replace(CHAIN_BLOCKS.blocks[0], height=HEIGHT - 5)
    if case == "a certificate of another block":
        low = replace(low, certificate=CHAIN_BLOCKS.blocks[0].certificate)
    if case == "half the power":
        low = replace(low, certificate=HALF_SIGNED.blocks[HEIGHT - 5].certificate)
    if case == "undecodable":
        low = replace(low, block=b"\x90")
    with pytest.raises(BlockRefused, match=reason):
        check_backfilled((low, *blocks[1:]), header_above, CHECK)
    assert len(check_backfilled(tuple(blocks), top, CHECK)) == 4
