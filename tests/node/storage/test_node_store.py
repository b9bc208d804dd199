"""NodeStore on real SQLite files: atomic blocks, crash safety, snapshots, rebuild."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from node.storage.errors import (
    HeightGapError,
    OtherGenesisStore,
    PruneBelowSnapshot,
    SnapshotHeightError,
    StorageError,
)
from node.storage.node_store import NodeStore, Pruned, Snapshot, StoredBlock
from node.storage.rebuild import Rebuilt, rebuild_state

ROOT = Path(__file__).resolve().parents[3]


def root_of(state: int) -> bytes:
    return hashlib.sha256(state.to_bytes(8, "big")).digest()


def fill(store: NodeStore, heights: range, snapshot_every: int = 0) -> None:
    """Toy chain: state is an int, block h adds h; snapshot every `snapshot_every` blocks."""
    state = sum(range(1, heights.start))
    for h in heights:
        state += h
        snap = state.to_bytes(8, "big") if snapshot_every and h % snapshot_every == 0 else None
        store.save_block(h, f"block{h}".encode(), f"cert{h}".encode(), root_of(state), snap)


def test_blocks_round_trip_and_heights_are_contiguous(tmp_path: Path) -> None:
    with NodeStore(tmp_path / "db.sqlite3") as store:
        assert store.latest_height() == 0
        fill(store, range(1, 4))
        assert store.latest_height() == 3
        assert store.load_block(2) == StoredBlock(2, b"block2", b"cert2", root_of(3))
        assert store.load_block(9) is None
        with pytest.raises(HeightGapError) as info:
            store.save_block(5, b"b", b"c", b"r")
        assert (info.value.height, info.value.latest) == (5, 3)
        with pytest.raises(HeightGapError):
            store.save_block(3, b"other", b"c", b"r")
        assert store.load_block(3) == StoredBlock(3, b"block3", b"cert3", root_of(6))
        assert [b.height for b in store.iter_blocks(after=1)] == [2, 3]


def test_data_survives_reopen_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with NodeStore(path) as store:
        fill(store, range(1, 3))
        store.save_snapshot(2, b"state", b"root")
    with NodeStore(path) as store:
        assert store.latest_height() == 2
        assert store.latest_snapshot().height == 2  # type: ignore[union-attr]
        mode = store._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_the_validator_checkpoint_is_replaced_and_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with NodeStore(path) as store:
        assert store.load_validator_checkpoint() is None
        store.save_validator_checkpoint(b"first")
        store.save_validator_checkpoint(b"second")
    with NodeStore(path) as store:
        assert store.load_validator_checkpoint() == b"second"


def test_snapshot_needs_its_block_and_prune_keeps_newest(tmp_path: Path) -> None:
    with NodeStore(tmp_path / "db.sqlite3") as store:
        fill(store, range(1, 7), snapshot_every=2)
        with pytest.raises(SnapshotHeightError):
            store.save_snapshot(7, b"s", b"r")
        store.prune_snapshots(keep=1)
        assert store.latest_snapshot().height == 6  # type: ignore[union-attr]
        assert store._db.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0] == 1


CRASHER = """
import os, sys
from pathlib import Path
from node.storage import NodeStore
store = NodeStore(Path(sys.argv[1]))
store.save_block(1, b"b1", b"c1", b"r1")
db = store._db
db.execute("BEGIN IMMEDIATE")
db.execute("INSERT INTO blocks VALUES (2, x'00', x'00', x'00')")
db.execute("INSERT INTO snapshots VALUES (2, x'00', x'00')")
print("in-transaction", flush=True)
sys.stdin.read()
"""

SNAPSHOT_CRASHER = """
import sys
from pathlib import Path
from node.storage import NodeStore
store = NodeStore(Path(sys.argv[1]))
store.save_block(1, b"b1", b"c1", b"r1", b"s1")
def stop(keep, held):  # runs after the block and snapshot rows are written, before COMMIT
    print("in-transaction", flush=True)
    sys.stdin.read()
store._prune_snapshots = stop
store.save_block(2, b"b2", b"c2", b"r2", b"s2", snapshots_kept=1)
"""


def kill_in_transaction(script: str, path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"in-transaction\n"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()


def test_process_killed_mid_transaction_leaves_nothing_half_written(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    kill_in_transaction(CRASHER, path)
    with NodeStore(path) as store:
        assert store.latest_height() == 1
        assert store.load_block(1) == StoredBlock(1, b"b1", b"c1", b"r1")
        assert store.latest_snapshot() is None
        store.save_block(2, b"b2", b"c2", b"r2")
        assert store.latest_height() == 2


def test_killed_between_block_and_snapshot_keeps_neither(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    kill_in_transaction(SNAPSHOT_CRASHER, path)
    with NodeStore(path) as store:
        assert store.latest_height() == 1
        assert [(s.height, s.state) for s in store.iter_snapshots()] == [(1, b"s1")]


def test_failed_transaction_rolls_back_block_and_snapshot(tmp_path: Path) -> None:
    with NodeStore(tmp_path / "db.sqlite3") as store:
        fill(store, range(1, 2))
        with pytest.raises(HeightGapError):
            store.save_block(3, b"b", b"c", b"r", snapshot=b"s")
        assert store.latest_snapshot() is None


def decode_toy(data: bytes) -> int:
    if len(data) != 8:
        raise ValueError(f"a toy state is 8 bytes, not {len(data)}")
    return int.from_bytes(data, "big")


def rebuild_toy(store: NodeStore, step: int = 1) -> tuple[Rebuilt[int], list[int]]:
    applied: list[int] = []

    def apply(state: int, block: StoredBlock) -> tuple[int, bytes]:
        applied.append(block.height)
        state += step * block.height
        return state, root_of(state)

    def is_committed(state: int, root: bytes) -> bool:
        return root_of(state) == root

    return rebuild_state(store, lambda: 0, decode_toy, apply, is_committed), applied


def test_rebuild_from_snapshot_plus_later_blocks(tmp_path: Path) -> None:
    with NodeStore(tmp_path / "db.sqlite3") as store:
        fill(store, range(1, 11), snapshot_every=4)
        rebuilt, applied = rebuild_toy(store)
        assert (rebuilt.height, rebuilt.state, rebuilt.snapshot_height) == (10, 55, 8)
        assert applied == [9, 10]
        assert rebuilt.rejected == ()


def test_rebuild_from_genesis_and_detects_divergence(tmp_path: Path) -> None:
    with NodeStore(tmp_path / "db.sqlite3") as store:
        fill(store, range(1, 4))
        rebuilt, _ = rebuild_toy(store)
        assert (rebuilt.height, rebuilt.state, rebuilt.snapshot_height) == (3, 6, 0)
        with pytest.raises(StorageError, match="block 1"):
            rebuild_toy(store, step=2)


def test_corrupt_snapshots_fall_back_to_older_ones_then_genesis(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "db.sqlite3"
    with NodeStore(path) as store:
        fill(store, range(1, 11), snapshot_every=3)
    with NodeStore(path) as store:  # newest: garbage; next: decodes to a wrong state
        store._db.execute("UPDATE snapshots SET state = x'0102' WHERE height = 9")
        store._db.execute(
            "UPDATE snapshots SET state = ? WHERE height = 6", ((7).to_bytes(8, "big"),)
        )
        rebuilt, applied = rebuild_toy(store)
        assert (rebuilt.height, rebuilt.state, rebuilt.snapshot_height) == (10, 55, 3)
        assert applied == list(range(4, 11))
        assert [h for h, _ in rebuilt.rejected] == [9, 6]
        assert "does not decode" in rebuilt.rejected[0][1]
        assert "state root differs" in rebuilt.rejected[1][1]
        assert "snapshot at height 9 is unusable" in caplog.text
        store._db.execute("UPDATE snapshots SET state = x'00' WHERE height = 3")
        rebuilt, applied = rebuild_toy(store)
        assert (rebuilt.height, rebuilt.state, rebuilt.snapshot_height) == (10, 55, 0)
        assert applied == list(range(1, 11))


def test_snapshots_are_pruned_in_the_block_transaction(tmp_path: Path) -> None:
    with NodeStore(tmp_path / "db.sqlite3") as store:
        for h in range(1, 11):
            snap = h.to_bytes(8, "big") if h % 2 == 0 else None
            store.save_block(h, b"b", b"c", root_of(h), snap, snapshots_kept=3)
        assert [s.height for s in store.iter_snapshots()] == [10, 8, 6]
        # a snapshot a peer is fetching is spared (node/served_snapshots.py)
        for h in range(11, 15):
            snap = h.to_bytes(8, "big") if h % 2 == 0 else None
            store.save_block(h, b"b", b"c", root_of(h), snap, snapshots_kept=2,
                             snapshots_held={6})  # fmt: skip
        assert [s.height for s in store.iter_snapshots()] == [14, 12, 6]
        store.prune_snapshots(1, held={12})
        assert [s.height for s in store.iter_snapshots()] == [14, 12]


def test_prune_keeps_the_pinned_blocks_and_moves_the_first_height_up(tmp_path: Path) -> None:
    with NodeStore(tmp_path / "db.sqlite3") as store:
        fill(store, range(1, 21), snapshot_every=5)
        store.prune_snapshots(2)
        assert store.prune(12, 1, pinned={3, 11, 15}) == Pruned(9, 0, 12, 1)
        held = [b.height for b in store.iter_blocks(after=0)]
        assert held == [3, 11, *range(12, 21)]
        assert store.first_height() == 12
        # the first height only moves up: an older target prunes nothing more
        assert store.prune(4, 1, pinned={3, 11}) == Pruned(0, 0, 12, 1)
        assert store.load_block(11) == StoredBlock(11, b"block11", b"cert11", root_of(66))
        # a block no longer pinned goes at the next prune
        assert store.prune(4, 1, pinned={11}) == Pruned(1, 0, 12, 1)
        assert store.load_block(3) is None and store.load_block(11) is not None
    with NodeStore(tmp_path / "db.sqlite3") as reopened:
        assert reopened.first_height() == 12
        fill(reopened, range(21, 23))
        assert reopened.latest_height() == 22


def test_prune_refuses_the_blocks_a_restart_re_applies(tmp_path: Path) -> None:
    with NodeStore(tmp_path / "db.sqlite3") as store:
        fill(store, range(1, 21), snapshot_every=8)
        with pytest.raises(PruneBelowSnapshot) as info:
            store.prune(10, 1, pinned=set())
        assert (info.value.below, info.value.oldest_snapshot) == (10, 8)
        assert store.first_height() == 1 and store.load_block(1) is not None
        store.prune_snapshots(0)  # none left but the newest, of height 16
        assert store.prune(16, 1, pinned=set()).blocks_from == 16


def test_a_pruned_store_rebuilds_from_a_snapshot_never_from_genesis(tmp_path: Path) -> None:
    with NodeStore(tmp_path / "db.sqlite3") as store:
        fill(store, range(1, 21), snapshot_every=5)
        store.prune_snapshots(2)
        store.prune(10, 1, pinned=set())
        store._db.execute("UPDATE snapshots SET state = x'00' WHERE height = 20")
        rebuilt, applied = rebuild_toy(store)
        assert (rebuilt.height, rebuilt.state, rebuilt.snapshot_height) == (20, 210, 15)
        assert applied == list(range(16, 21))
        store._db.execute("UPDATE snapshots SET state = x'00'")
        with pytest.raises(StorageError, match="below height 10 were pruned"):
            rebuild_toy(store)


def test_a_state_synced_store_holds_from_its_snapshot_on(tmp_path: Path) -> None:
    snapshot = Snapshot(20, (210).to_bytes(8, "big"), root_of(210))
    block = StoredBlock(20, b"block20", b"cert20", root_of(210))
    with NodeStore(tmp_path / "db.sqlite3") as store:
        with pytest.raises(SnapshotHeightError):
            store.save_restored(replace(snapshot, height=19), block, [])
        store.save_restored(snapshot, block, [StoredBlock(7, b"block7", b"cert7", b"")])
        assert (store.first_height(), store.latest_height()) == (20, 20)
        assert (store.history_first_height(), store.history_height()) == (21, 20)
        assert [b.height for b in store.iter_blocks(after=0)] == [7, 20]
        rebuilt, applied = rebuild_toy(store)
        assert (rebuilt.height, rebuilt.state, applied) == (20, 210, [])
        assert store.get_restored_height() == 20
        fill(store, range(21, 23))
        assert store.latest_height() == 22 and store.get_restored_height() is None
        with pytest.raises(StorageError, match="empty store only"):
            store.save_restored(snapshot, block, [])


def test_backfilled_blocks_end_below_the_first_height_and_move_it_down(tmp_path: Path) -> None:
    with NodeStore(tmp_path / "db.sqlite3") as store:
        store.save_restored(Snapshot(20, b"s20", root_of(210)),
                            StoredBlock(20, b"block20", b"cert20", root_of(210)),
                            [StoredBlock(17, b"block17", b"cert17", b"")])  # fmt: skip
        below = [StoredBlock(h, b"block%d" % h, b"peer's cert", root_of(h)) for h in range(15, 20)]
        with pytest.raises(StorageError, match="do not end right below the first height held"):
            store.save_backfilled(below[:-1])
        with pytest.raises(StorageError, match="do not end right below"):
            store.save_backfilled([*below[:2], *below[3:]])  # a gap
        store.save_backfilled(below)
        assert (store.first_height(), store.history_first_height()) == (15, 21)
        # the set change's block keeps the certificate its walk checked, gains its root
        assert store.load_block(17) == StoredBlock(17, b"block17", b"cert17", root_of(17))
        assert store.load_block(16) == below[1]
        store.save_backfilled([StoredBlock(14, b"block14", b"c", root_of(14))])
        assert store.first_height() == 14


def test_a_restore_nothing_was_applied_after_is_replaced_by_the_next(tmp_path: Path) -> None:
    """CometBFT offers snapshots again when it never took up the app's restore (killed
    between the two): the later restore replaces the earlier, whole."""
    with NodeStore(tmp_path / "db.sqlite3") as store:
        store.save_restored(Snapshot(20, b"s20", root_of(210)),
                            StoredBlock(20, b"block20", b"cert20", root_of(210)),
                            [StoredBlock(7, b"block7", b"cert7", b"")])  # fmt: skip
        store.save_restored(Snapshot(24, b"s24", root_of(250)),
                            StoredBlock(24, b"block24", b"cert24", root_of(250)),
                            [StoredBlock(9, b"block9", b"cert9", b"")])  # fmt: skip
        assert [b.height for b in store.iter_blocks(after=0)] == [9, 24]
        assert store.get_snapshot_heights() == [24]
        assert (store.first_height(), store.history_first_height()) == (24, 25)
        assert store.get_restored_height() == 24
    with NodeStore(tmp_path / "db.sqlite3") as store:  # and says so after a restart
        assert store.get_restored_height() == 24


def test_garbage_file_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(StorageError, match="not a usable node database"):
        NodeStore(path)


def test_a_store_is_bound_to_the_genesis_it_was_made_with(tmp_path: Path) -> None:
    """Its first start records the genesis; a start on another (one byte apart: another
    hash) is refused, naming both hashes, the store and the genesis file, and records
    nothing; the same genesis starts again."""
    ours, theirs = hashlib.sha256(b"ours").digest(), hashlib.sha256(b"theirs").digest()
    path, genesis = tmp_path / "db.sqlite3", tmp_path / "genesis.json"
    with NodeStore(path) as store:
        store.bind_genesis(ours, genesis)
        fill(store, range(1, 3))
    with NodeStore(path) as store, pytest.raises(OtherGenesisStore) as info:
        store.bind_genesis(theirs, genesis)
    assert (info.value.stored, info.value.found) == (ours, theirs)
    assert str(info.value) == (
        f"{path} holds the chain of genesis 0x{ours.hex()}, and {genesis} is genesis "
        f"0x{theirs.hex()}: start with the genesis the store was made with, or move the data "
        "aside to join the network of this one"
    )
    with NodeStore(path) as store:
        store.bind_genesis(ours, genesis)
        assert store.latest_height() == 2
