"""The members' history below a restored snapshot, rebuilt (node/history/replay.py): a
child process replays the stored chain from genesis and the node writes the rows it
sends; the first height whose history is held moves down only once the rows are whole,
and a block that gives another state root, or blocks not held from genesis, leave the
history as it was."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from clearnode.client.sandbox_keys import derive_member_key
from node.history.indexer import catch_up_history
from node.history.replay import HistoryNotRebuilt, rebuild_history
from node.storage import NodeStore, StorageError
from node.storage.history_store import BlockHistory, HistoryRow
from tests.node.netsupport import example_genesis, write_trading_chain

BLOCKS = 12
RESTORED_AT = 7
"""The history is held from RESTORED_AT + 1, as state sync leaves it."""
MEMBERS = [derive_member_key(f"m{i}").address for i in range(4)]


def read_all(store: NodeStore) -> dict[bytes, list[HistoryRow]]:
    return {m: store.read_history(m, None, 10_000) for m in MEMBERS}


@pytest.fixture
def chain(tmp_path: Path) -> tuple[Path, Path]:
    """A whole store (the reference), and a copy whose history below RESTORED_AT + 1 is
    gone, as a restored node's is once backfill holds its blocks from genesis."""
    whole, restored = tmp_path / "whole.sqlite3", tmp_path / "restored.sqlite3"
    write_trading_chain(whole, BLOCKS, snapshot_interval=None)
    with NodeStore(whole) as store:
        catch_up_history(store, example_genesis())
    shutil.copy(whole, restored)
    with NodeStore(restored) as store:
        store.prune(1, RESTORED_AT + 1, pinned=())
        assert store.history_first_height() == RESTORED_AT + 1
    return whole, restored


async def test_the_history_below_a_restore_is_rebuilt_by_replaying_from_genesis(
    chain: tuple[Path, Path],
) -> None:
    whole, restored = chain
    with NodeStore(whole) as reference, NodeStore(restored) as store:
        assert read_all(store) != read_all(reference)
        await rebuild_history(store, example_genesis(), 1)
        assert store.history_first_height() == 1
        assert read_all(store) == read_all(reference)
        assert store.history_height() == BLOCKS  # the node's own indexing goes on from there
        await rebuild_history(store, example_genesis(), 1)  # nothing left to do


async def test_a_rebuild_within_the_history_retention_window_starts_at_its_floor(
    chain: tuple[Path, Path],
) -> None:
    whole, restored = chain
    with NodeStore(whole) as reference, NodeStore(restored) as store:
        await rebuild_history(store, example_genesis(), 4)
        assert store.history_first_height() == 4
        for member, rows in read_all(reference).items():
            held = store.read_history(member, None, 10_000)
            assert held == [r for r in rows if r.height >= 4]


async def test_a_block_that_gives_another_root_leaves_the_history_as_it_was(
    chain: tuple[Path, Path],
) -> None:
    _, restored = chain
    with NodeStore(restored) as store:
        store._db.execute("UPDATE blocks SET state_root = ? WHERE height = 3", (bytes(32),))
        before = read_all(store)
        with pytest.raises(HistoryNotRebuilt, match="block 3 gives a different state root"):
            await rebuild_history(store, example_genesis(), 1)
        assert store.history_first_height() == RESTORED_AT + 1
        assert read_all(store) == before


async def test_no_history_is_rebuilt_while_blocks_from_genesis_are_not_held(
    chain: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    _, restored = chain
    caplog.set_level(logging.INFO)
    with NodeStore(restored) as store:
        store._db.execute("INSERT OR REPLACE INTO meta VALUES ('blocks_from', 5)")
        await rebuild_history(store, example_genesis(), 1)
        assert store.history_first_height() == RESTORED_AT + 1
    assert "blocks are held from 5" in caplog.text


def test_rebuilt_history_is_written_below_the_first_height_held_only(
    chain: tuple[Path, Path],
) -> None:
    whole, restored = chain
    below = RESTORED_AT + 1
    with NodeStore(whole) as reference, NodeStore(restored) as store:
        with pytest.raises(StorageError, match=r"heights \[8\]"):
            store.save_history_below([BlockHistory(below, ())], below, None)
        with pytest.raises(StorageError, match="held from 9"):
            store.save_history_below([], below, below + 1)
        assert store.history_first_height() == below
        # pruning moves the first height held up while the rows below are rebuilt: they
        # are dropped, and the first height held stays where pruning put it
        rows = [r for rows in read_all(reference).values() for r in rows]
        assert store.save_history_below([BlockHistory(3, rows_at(rows, 3))], below, None)
        store.prune(1, below + 2, pinned=())
        assert not store.save_history_below([BlockHistory(4, rows_at(rows, 4))], below, 1)
        assert store.history_first_height() == below + 2
        assert all(r.height >= below + 2 for rows in read_all(store).values() for r in rows)


def rows_at(rows: list[HistoryRow], height: int) -> list[HistoryRow]:
    return [r for r in rows if r.height == height]
