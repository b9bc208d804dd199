"""The node's block store (node/block_store.py): a snapshot on schedule in the block's
transaction, the older ones pruned but those peers are fetching."""

from __future__ import annotations

from pathlib import Path

from node.block_store import SnapshotSchedule, SqliteBlockStore
from node.storage import NodeStore


def test_snapshots_on_schedule_are_pruned_but_those_peers_are_fetching(tmp_path: Path) -> None:
    held: set[int] = set()
    with NodeStore(tmp_path / "node.sqlite3") as store:
        schedule = SnapshotSchedule(2, 1, lambda: b"state", get_held=lambda: held)
        blocks = SqliteBlockStore(store, bytes(32), schedule)
        for height in range(1, 5):
            blocks.save(height, b"block", b"cert", bytes(32), ())
            held = {2} if height == 2 else held  # a peer starts fetching the snapshot of 2
        assert store.get_snapshot_heights() == [4, 2]
        held = set()  # its lease ran out
        for height in range(5, 7):
            blocks.save(height, b"block", b"cert", bytes(32), ())
        assert store.get_snapshot_heights() == [6]
