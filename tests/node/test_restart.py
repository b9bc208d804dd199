"""Restart from a real SQLite store: newest good snapshot + later blocks, corrupt ones skipped."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import msgpack
import pytest

from clearing.replay_protection import record_trade_id
from clearing.transition.root import compute_state_root
from clearing.transition.snapshot import SNAPSHOT_VERSION, decode_snapshot, encode_snapshot
from consensus.types import Block, CommitCertificate
from node.block_store import SnapshotSchedule, SqliteBlockStore
from node.clearing_app import ClearingApp
from node.mempool import Mempool, TxRejected
from node.restore import restore_state
from node.storage import NodeStore, StorageError
from node.txcheck import make_clearing_check
from tests.node.netsupport import (
    example_genesis,
    iter_trading_blocks,
    make_block,
    write_trading_chain,
)

BLOCKS = 230
INTERVAL = 50


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    """A trading chain of BLOCKS blocks, snapshots every INTERVAL, three kept."""
    path = tmp_path_factory.mktemp("chain") / "node.sqlite3"
    return path, write_trading_chain(path, BLOCKS, INTERVAL, snapshots_kept=3)


def copy_of(chain: tuple[Path, list[bytes]], tmp_path: Path) -> Path:
    path = tmp_path / "node.sqlite3"
    with NodeStore(chain[0]) as source:
        source._db.execute("VACUUM INTO ?", (str(path),))
    return path


def test_restart_loads_the_newest_snapshot_and_replays_only_later_blocks(
    chain: tuple[Path, list[bytes]], tmp_path: Path
) -> None:
    path, roots = chain[0], chain[1]
    with NodeStore(path) as store:
        assert [s.height for s in store.iter_snapshots()] == [200, 150, 100]
        app = ClearingApp(example_genesis())
        rebuilt = restore_state(app, store)
    assert (rebuilt.height, rebuilt.snapshot_height, rebuilt.rejected) == (230, 200, ())
    assert app.last_root == roots[-1]


def test_restored_state_goes_on_exactly_like_a_full_replay(
    chain: tuple[Path, list[bytes]], tmp_path: Path
) -> None:
    """Anything a snapshot forgot would show as a different root in the next blocks."""
    path = copy_of(chain, tmp_path)
    full = ClearingApp(example_genesis())
    with NodeStore(path) as store:
        store._db.execute("DELETE FROM blocks WHERE height > 200")
        restored = ClearingApp(example_genesis())
        assert restore_state(restored, store).snapshot_height == 200
        store._db.execute("DELETE FROM snapshots")
        assert restore_state(full, store).snapshot_height == 0
    bodies = itertools.islice(iter_trading_blocks(), 200, BLOCKS)
    for height, txs in zip(range(201, BLOCKS + 1), bodies, strict=True):
        block = make_block(full.genesis, height, txs)
        assert restored.finalize_block(block) == full.finalize_block(block) == chain[1][height - 1]


def test_a_state_synced_state_at_the_tip_is_taken_without_decoding_its_snapshot_again(
    chain: tuple[Path, list[bytes]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copy_of(chain, tmp_path)
    with NodeStore(path) as store:
        store._db.execute("DELETE FROM blocks WHERE height > 200")
        synced = decode_snapshot(example_genesis(), next(store.iter_snapshots()).state)
        monkeypatch.setattr("node.restore.decode_snapshot", None)  # called: a TypeError
        app = ClearingApp(example_genesis())
        rebuilt = restore_state(app, store, synced)
    assert (rebuilt.height, rebuilt.snapshot_height, rebuilt.rejected) == (200, 200, ())
    assert app.state is synced and app.last_root == chain[1][199]


def test_a_state_synced_state_the_store_does_not_commit_at_its_tip_is_not_taken(
    chain: tuple[Path, list[bytes]], tmp_path: Path
) -> None:
    path = copy_of(chain, tmp_path)
    with NodeStore(path) as store:
        behind = decode_snapshot(example_genesis(), next(store.iter_snapshots()).state)
        app = ClearingApp(example_genesis())
        assert restore_state(app, store, behind).height == 230  # blocks after it are held
        assert app.state is not behind and app.last_root == chain[1][-1]
        store._db.execute("DELETE FROM blocks WHERE height > 200")
        changed = decode_snapshot(example_genesis(), next(store.iter_snapshots()).state)
        changed.fee_pool += 1
        app = ClearingApp(example_genesis())
        assert restore_state(app, store, changed).snapshot_height == 200
    assert app.state is not changed and app.last_root == chain[1][199]


def test_corrupt_snapshot_falls_back_to_the_previous_one(
    chain: tuple[Path, list[bytes]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = copy_of(chain, tmp_path)
    with NodeStore(path) as store:
        state = next(store.iter_snapshots()).state
        flipped = state[:100] + bytes([state[100] ^ 0xFF]) + state[101:]
        store._db.execute("UPDATE snapshots SET state = ? WHERE height = 200", (flipped,))
        older = store._db.execute("SELECT state FROM snapshots WHERE height = 100").fetchone()[0]
        store._db.execute("UPDATE snapshots SET state = ? WHERE height = 150", (older,))
        app = ClearingApp(example_genesis())
        rebuilt = restore_state(app, store)
    assert (rebuilt.height, rebuilt.snapshot_height) == (230, 100)
    assert [height for height, _ in rebuilt.rejected] == [200, 150]
    assert "state root differs" in rebuilt.rejected[1][1]
    assert app.last_root == chain[1][-1]
    assert "snapshot at height 200 is unusable" in caplog.text


def test_every_snapshot_corrupt_means_a_replay_from_genesis(
    chain: tuple[Path, list[bytes]], tmp_path: Path
) -> None:
    path = copy_of(chain, tmp_path)
    with NodeStore(path) as store:
        store._db.execute("UPDATE snapshots SET state = x'93010203'")
        app = ClearingApp(example_genesis())
        rebuilt = restore_state(app, store)
    assert (rebuilt.height, rebuilt.snapshot_height, len(rebuilt.rejected)) == (230, 0, 3)
    assert app.last_root == chain[1][-1]


def test_a_tampered_block_after_the_snapshot_stops_the_restart(
    chain: tuple[Path, list[bytes]], tmp_path: Path
) -> None:
    path = copy_of(chain, tmp_path)
    with NodeStore(path) as store:
        store._db.execute("UPDATE blocks SET state_root = ? WHERE height = 210", (bytes(32),))
        with pytest.raises(StorageError, match="block 210"):
            restore_state(ClearingApp(example_genesis()), store)


def test_block_store_snapshots_on_schedule(tmp_path: Path) -> None:
    app = ClearingApp(example_genesis())
    taken: list[int] = []

    def encode() -> bytes:
        taken.append(app.state.height)
        return encode_snapshot(app.state)

    with NodeStore(tmp_path / "node.sqlite3") as store:
        blocks = SqliteBlockStore(store, app.last_root, SnapshotSchedule(3, 2, encode))
        for height, txs in zip(range(1, 11), iter_trading_blocks(), strict=False):
            block = make_block(app.genesis, height, txs)
            root = app.finalize_block(block)
            blocks.save_block(block, CommitCertificate(height, 0, block.hash, ()), root)
        assert taken == [3, 6, 9]
        assert [s.height for s in store.iter_snapshots()] == [9, 6]
        assert next(store.iter_snapshots()).state_root == blocks.get_state_root(9)


def test_a_snapshot_beyond_the_message_caps_restores(tmp_path: Path) -> None:
    """A 2^27-id trade window: a 16 MiB bitmap, more bytes than a wire message may hold."""
    genesis = dataclasses.replace(example_genesis(), trade_id_window=1 << 27)
    app = ClearingApp(genesis)
    with NodeStore(tmp_path / "node.sqlite3") as store:
        blocks = SqliteBlockStore(store, app.last_root)
        block = make_block(app.genesis, 1, [])
        app.finalize_block(block)
        record_trade_id(app.state.trade_windows, genesis.trade_id_window, "alpha", 150_000)
        root = compute_state_root(app.state)  # as if block 1 had cleared it
        blocks.save_block(block, CommitCertificate(1, 0, block.hash, ()), root)
        store.save_snapshot(1, encode_snapshot(app.state), root)
        restored = ClearingApp(genesis)
        assert restore_state(restored, store).snapshot_height == 1
    assert restored.state.trade_windows["alpha"].high == 150_000


def test_snapshots_of_an_older_format_are_skipped_for_a_replay(
    chain: tuple[Path, list[bytes]], tmp_path: Path
) -> None:
    """A node upgraded across a SNAPSHOT_VERSION bump rebuilds its state from the blocks."""
    path = copy_of(chain, tmp_path)
    with NodeStore(path) as store:
        for snap in list(store.iter_snapshots()):
            fields = msgpack.unpackb(snap.state)
            fields[0] = SNAPSHOT_VERSION - 1
            store._db.execute(
                "UPDATE snapshots SET state = ? WHERE height = ?",
                (msgpack.packb(fields), snap.height),
            )
        app = ClearingApp(example_genesis())
        rebuilt = restore_state(app, store)
    assert (rebuilt.height, rebuilt.snapshot_height, len(rebuilt.rejected)) == (230, 0, 3)
    assert all(f"version {SNAPSHOT_VERSION - 1}" in reason for _, reason in rebuilt.rejected)
    assert app.last_root == chain[1][-1]


def test_a_restarted_node_refuses_every_committed_transaction_by_its_state(
    chain: tuple[Path, list[bytes]],
) -> None:
    """A copy still in flight (gossip, a client's retry) after a restart: the restored
    state refuses it (the mempool keeps no memory of committed hashes)."""
    with NodeStore(chain[0]) as store:
        app = ClearingApp(example_genesis())
        restore_state(app, store)
        committed = [tx for s in store.iter_blocks(0) for tx in Block.decode(s.block).txs]
    mempool = Mempool(make_clearing_check(lambda: app.state))
    assert committed
    for tx in committed:
        with pytest.raises(TxRejected):
            mempool.add(tx)
