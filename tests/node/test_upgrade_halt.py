"""A node at an upgrade in place, in process: the block store keeps the state of the
height before the upgrade's (the next release starts from it); this release refuses to
start the upgrade's height, before consensus logs or signs anything of it; the release
that starts at the upgrade restores from that snapshot, whose root it does not compute
(the previous release's format), and nothing earlier."""

from __future__ import annotations

from pathlib import Path

import pytest

from clearing.context import BlockContext
from clearing.state import ClearingState
from clearing.transition.block import process_block
from clearing.transition.root import compute_state_root
from clearing.transition.snapshot import encode_snapshot
from clearing.upgrade import Migration, ReleaseTooNew, UpgradeRequired
from clearing.upgrade_plan import UpgradePlan
from consensus.types import CommitCertificate
from node import restore
from node.block_store import SnapshotSchedule, SqliteBlockStore
from node.clearing_app import ClearingApp
from node.restore import restore_state
from node.storage import NodeStore, StorageError
from tests.node.netsupport import example_genesis, make_block

PLAN = UpgradePlan("v0.3.0", 5, "0.3.0")
PREVIOUS_FORMAT_ROOT = b"\x11" * 32
"""The root a release of another state format committed: not what this one computes."""


def mark(state: ClearingState) -> None:
    state.fee_pool += 1


def commit_blocks(app: ClearingApp, blocks: SqliteBlockStore, upto: int) -> None:
    for height in range(app.height + 1, upto + 1):
        block = make_block(app.genesis, height, [])
        root = app.finalize_block(block)
        blocks.save_block(block, CommitCertificate(height, 0, block.hash, ()), root)


def test_the_state_before_the_upgrade_is_kept_and_its_height_is_refused(tmp_path: Path) -> None:
    app = ClearingApp(example_genesis())
    app.state.upgrade_plan = PLAN
    with NodeStore(tmp_path / "node.sqlite3") as store:
        schedule = SnapshotSchedule(
            100, 3, lambda: encode_snapshot(app.state),
            lambda height: height + 1 == PLAN.height,
        )  # fmt: skip
        blocks = SqliteBlockStore(store, app.last_root, schedule)
        commit_blocks(app, blocks, PLAN.height - 1)
        assert [s.height for s in store.iter_snapshots()] == [PLAN.height - 1]
        with pytest.raises(UpgradeRequired) as info:
            app.check_height(PLAN.height)
        assert info.value.plan == PLAN
        with pytest.raises(UpgradeRequired):
            app.finalize_block(make_block(app.genesis, PLAN.height, []))
        assert app.height == PLAN.height - 1


def store_previous_release(path: Path, snapshot_at: int) -> None:
    """Blocks 1 to 4 as a release of another root format committed them (their roots
    that format's), with a snapshot of the state of `snapshot_at`; block 5 is the upgrade's."""
    app = ClearingApp(example_genesis())
    app.state.upgrade_plan = PLAN
    with NodeStore(path) as store:
        for height in range(1, PLAN.height):
            block = make_block(app.genesis, height, [])
            app.finalize_block(block)
            snapshot = encode_snapshot(app.state) if height == snapshot_at else None
            certificate = CommitCertificate(height, 0, block.hash, ()).encode()
            store.save_block(height, block.encode(), certificate, PREVIOUS_FORMAT_ROOT,
                             snapshot)  # fmt: skip


def test_the_release_of_the_upgrade_starts_from_the_previous_releases_last_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "node.sqlite3"
    store_previous_release(path, snapshot_at=PLAN.height - 1)
    migrations = (Migration(PLAN.name, mark),)
    monkeypatch.setattr(restore, "MIGRATIONS", migrations)
    with NodeStore(path) as store:
        app = ClearingApp(example_genesis())
        rebuilt = restore_state(app, store)
    assert (rebuilt.height, rebuilt.snapshot_height) == (PLAN.height - 1, PLAN.height - 1)
    assert app.last_root == PREVIOUS_FORMAT_ROOT  # as committed, not recomputed
    fee_pool = app.state.fee_pool
    result = process_block(app.state, next_context(app), [], migrations)
    assert app.state.fee_pool == fee_pool + 1 and not app.state.upgrade_plan
    assert result.state_root == compute_state_root(app.state)


def next_context(app: ClearingApp) -> BlockContext:
    return BlockContext(app.height + 1, app.state.time_ms + 1_000, app.genesis.chain_id, ())


def test_nothing_but_the_previous_releases_last_state_starts_the_upgrades_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "node.sqlite3"
    store_previous_release(path, snapshot_at=PLAN.height - 2)  # a node down at the halt
    monkeypatch.setattr(restore, "MIGRATIONS", (Migration(PLAN.name, mark),))
    with NodeStore(path) as store, pytest.raises((StorageError, ReleaseTooNew)):
        restore_state(ClearingApp(example_genesis()), store)
