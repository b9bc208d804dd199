"""Backfill on CometBFT (node/cometbft/committed_block.py): a node restored by state sync
fetches the blocks below its snapshot over real libp2p hosts from a peer's block sync,
each the record and signed header the block above names, committed by the set its
state records, stored with the state root the header above commits to; a peer sending
blocks another set did not commit is scored down and nothing is stored."""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path

import pytest
from tendermint.abci import types_pb2 as abci

from clearing.state import ClearingState
from node.cometbft.committed_block import COMET_BLOCKS
from node.p2p.blocksync import SyncedBlock, get_stored_block, serve_blocks
from node.statesync.backfill import backfill_blocks, check_backfilled, fetch_batch
from node.statesync.verify import BlockRefused
from node.storage import NodeStore
from node.storage.comet_block import CometBlockRecord
from tests.node.cometbft.test_snapshots import ANCHORED, CHAIN, Served, empty_node, restore, serve
from tests.node.p2p.support import line


def restored(tmp_path: Path) -> tuple[Served, NodeStore, ClearingState]:
    """A node restored at ANCHORED from a served chain (holding blocks 3, which the
    snapshot carries, and 4): its store and state."""
    served = serve(tmp_path / "a.sqlite3", up_to=ANCHORED)
    node, store = empty_node(tmp_path / "b.sqlite3")
    assert restore(node, served) == abci.ResponseApplySnapshotChunk.ACCEPT
    return served, store, node.app.state


async def test_a_restored_node_backfills_the_blocks_below_its_snapshot(tmp_path: Path) -> None:
    served, store, state = restored(tmp_path)
    async with line("a", "b") as (a, b):
        serve_blocks(a, partial(get_stored_block, served.store), served.store.latest_height)
        await backfill_blocks(b, store, lambda: state, CHAIN, lambda: 1, COMET_BLOCKS)
        assert b.scores.get_score(a.peer_id) >= 0
    assert store.first_height() == 1
    for height in range(1, ANCHORED):
        assert store.load_block(height) == served.store.load_block(height)  # roots too


async def test_a_peer_sending_blocks_the_set_did_not_commit_is_scored_down(tmp_path: Path) -> None:
    _, store, state = restored(tmp_path)
    check = partial(COMET_BLOCKS.check_committed, state, CHAIN)
    forged = serve(tmp_path / "c.sqlite3", up_to=ANCHORED, signers=2)  # half the power
    held = store.load_block(ANCHORED)
    assert held is not None
    async with line("c", "b") as (c, b):
        serve_blocks(c, partial(get_stored_block, forged.store), forged.store.latest_height)
        above = COMET_BLOCKS.read_header(held)
        assert await fetch_batch(b, ANCHORED, 3, above, check) == []
        assert b.scores.get_score(c.peer_id) < 0
    assert store.first_height() == ANCHORED


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("another parent", "is not the block 0x00"),
        ("a block of another height", "its record and header are of heights 1 and 1"),
        ("another block's signed header", "its record and header are of heights 3 and 1"),
        ("a record naming another block", "record, header and commit name different blocks"),
        ("undecodable", "it does not decode"),
    ],
)
def test_a_block_that_is_not_the_one_above_names_is_refused(
    tmp_path: Path, case: str, reason: str
) -> None:
    served, store, state = restored(tmp_path)
    check = partial(COMET_BLOCKS.check_committed, state, CHAIN)
    held = store.load_block(ANCHORED)
    assert held is not None
    above = COMET_BLOCKS.read_header(held)
    blocks = [get_stored_block(served.store, h) for h in range(1, ANCHORED)]
    assert all(blocks)
    synced: list[SyncedBlock] = [b for b in blocks if b is not None]
    low, header_above = synced[-1], above
    if case == "another parent":
        header_above = dataclasses.replace(
            above, last_block_id=dataclasses.replace(above.last_block_id, hash=bytes(32))
        )
    if case == "a block of another height":
        low = dataclasses.replace(synced[0], height=ANCHORED - 1)
    if case == "another block's signed header":
        low = dataclasses.replace(low, certificate=synced[0].certificate)
    if case == "a record naming another block":
        record = dataclasses.replace(CometBlockRecord.decode(low.block), block_hash=bytes(32))
        low = dataclasses.replace(low, block=record.encode())
    if case == "undecodable":
        low = dataclasses.replace(low, block=b"\x90")
    with pytest.raises(BlockRefused, match=reason):
        check_backfilled((*synced[:-1], low), header_above, check)
    assert len(check_backfilled(tuple(synced), above, check)) == ANCHORED - 1
