"""What a pruned node keeps: the newest blocks and history it is told to, never the
blocks a restart re-applies, and whatever their age the blocks a light client's walk
and a report's anchor read."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from clearing.state import ClearingState
from node.retention import (
    EPOCHS_TRACKED,
    MAX_PRUNE_STEP,
    SNAPSHOT_REPORT_ANCHORS,
    Retention,
    get_carried_heights,
    get_pinned_heights,
)
from node.storage import NodeStore
from node.storage.history_store import BlockHistory
from tests.clearing.support import new_sandbox

LENGTH = 100  # the sandbox genesis's epoch length


def state_at(
    height: int, changes: tuple[int, ...] = (), reported: tuple[int, ...] = ()
) -> ClearingState:
    state = new_sandbox().state
    assert state.genesis.epoch_length_blocks == LENGTH
    return replace(
        state,
        height=height,
        validator_sets={c: () for c in changes},
        report_hashes={e: bytes(32) for e in reported},
    )


def fill(store: NodeStore, up_to: int, snapshots: tuple[int, ...]) -> None:
    for h in range(store.latest_height() + 1, up_to + 1):
        snapshot = b"s" if h in snapshots else None
        store.save_block(h, b"b", b"c", bytes(32), snapshot, history=BlockHistory(h, ()))


def test_pinned_are_the_set_changes_and_the_anchors_of_reports_kept_or_to_come() -> None:
    state = state_at(1_650, changes=(0, 420), reported=(2, 5))
    # epochs 2 and 5 committed; 6..16 ended since, of which the newest EPOCHS_TRACKED wait
    to_come = {e * LENGTH + 1 for e in range(16 - EPOCHS_TRACKED + 1, 17)}
    assert get_pinned_heights(state, reports_kept=10) == {1, 421, 201, 501, *to_come}
    # only the newest committed reports a node keeps hold their anchors
    assert get_pinned_heights(state, reports_kept=1) == {1, 421, 501, *to_come}
    # with nothing committed yet, only the newest epochs wait for a report too
    assert get_pinned_heights(state_at(250), reports_kept=10) == {101, 201}


def test_a_snapshot_carries_the_set_changes_and_the_newest_report_epochs_anchors() -> None:
    # epochs 1 to 30 committed, 31 and 32 ended since: the newest 16 are 17 to 32
    state = state_at(3_250, changes=(0, 420), reported=tuple(range(1, 31)))
    newest = range(32 - SNAPSHOT_REPORT_ANCHORS + 1, 33)
    assert get_carried_heights(state, 3_250) == (1, 421, *(e * LENGTH + 1 for e in newest))
    assert set(get_carried_heights(state, 3_250)) < get_pinned_heights(state, 30)
    # epoch 32 ends at the snapshot's height: its anchor comes after, with the blocks
    state = state_at(3_200, changes=(0, 420), reported=tuple(range(1, 31)))
    assert get_carried_heights(state, 3_200)[-1] == 3_101


def test_blocks_are_kept_from_the_oldest_snapshot_or_blocks_kept_back(tmp_path: Path) -> None:
    with NodeStore(tmp_path / "node.db") as store:
        fill(store, 60, snapshots=(30, 50))
        assert Retention(10, 0, 10).get_blocks_below(store, 60) == 30  # the snapshot bounds it
        assert Retention(40, 0, 10).get_blocks_below(store, 60) == 21
        assert Retention(0, 0, 10).get_blocks_below(store, 60) == 1  # an archive node
        assert Retention(0, 0, 10).keeps_everything  # whose snapshots run no prune at all
        assert not Retention(0, 10, 10).keeps_everything
        store.prune_snapshots(1)
        assert Retention(10, 0, 10).get_blocks_below(store, 60) == 50


def test_a_long_backlog_is_pruned_in_steps(tmp_path: Path) -> None:
    with NodeStore(tmp_path / "node.db") as store:
        store.save_block(1, b"b", b"c", bytes(32))
        store._db.execute("INSERT INTO meta VALUES ('blocks_from', 1)")
        latest = 3 * MAX_PRUNE_STEP
        store._db.executemany(
            "INSERT INTO blocks VALUES (?, x'', x'', x'')", ((h,) for h in range(2, latest + 1))
        )
        store.save_snapshot(latest, b"s", bytes(32))
        retention = Retention(10, 0, 10)
        first = retention.prune(store, state_at(latest)).blocks_from
        assert first == 1 + MAX_PRUNE_STEP
        assert retention.prune(store, state_at(latest)).blocks_from == first + MAX_PRUNE_STEP


def test_prune_keeps_the_window_the_pins_and_the_history_asked_for(tmp_path: Path) -> None:
    with NodeStore(tmp_path / "node.db") as store:
        fill(store, 250, snapshots=(200, 250))
        store.prune_snapshots(2)
        pruned = Retention(20, 100, 10).prune(store, state_at(250, changes=(0, 7)))
        assert (pruned.blocks_from, pruned.history_from) == (200, 151)
        held = [b.height for b in store.iter_blocks(after=0)]
        assert held == [1, 8, 101, *range(200, 251)]
        assert Retention(0, 0, 10).prune(store, state_at(250)).blocks == 0


def test_an_anchor_whose_report_is_no_longer_kept_is_pruned(tmp_path: Path) -> None:
    """However long the chain, a pruned store holds its window, the set changes and the
    anchors of the reports it keeps: an older epoch's anchor goes at the next prune."""
    with NodeStore(tmp_path / "node.db") as store:
        fill(store, 450, snapshots=(400, 450))
        store.prune_snapshots(1)
        retention = Retention(20, 0, reports_kept=2)
        retention.prune(store, state_at(450, changes=(0,), reported=(1, 2)))
        assert [b.height for b in store.iter_blocks(after=0)][:4] == [1, 101, 201, 301]
        retention.prune(store, state_at(450, changes=(0,), reported=(1, 2, 3)))
        held = [b.height for b in store.iter_blocks(after=0)]
        assert held == [1, 201, 301, 401, *range(431, 451)]
