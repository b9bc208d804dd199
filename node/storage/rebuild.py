"""A state rebuilt from a node's store: the newest snapshot that decodes and its block's
root commits to, then the blocks after it, each re-applied and checked against the root
stored with it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from node.storage.errors import StorageError, UnusableSnapshot
from node.storage.node_store import NodeStore, Snapshot, StoredBlock

log = logging.getLogger(__name__)

S = TypeVar("S")


@dataclass(frozen=True)
class Rebuilt(Generic[S]):
    """A state rebuilt at `height` from the snapshot at `snapshot_height` (0: genesis);
    `rejected` lists the newer snapshots that were skipped, with why."""

    height: int
    state: S
    snapshot_height: int
    rejected: tuple[tuple[int, str], ...]


def rebuild_state(
    store: NodeStore,
    genesis_state: Callable[[], S],
    decode_state: Callable[[bytes], S],
    apply_block: Callable[[S, StoredBlock], tuple[S, bytes]],
    is_committed: Callable[[S, bytes], bool],
    rejects: tuple[type[Exception], ...] = (ValueError,),
) -> Rebuilt[S]:
    """Restart path: the newest usable snapshot (or genesis) + every stored block after it.

    A snapshot is usable when it decodes (else one of `rejects`) and its state is the one
    committed with the block of its height (`is_committed(state, that block's root)`); an
    unusable one is logged and the next older one tried, down to genesis. Each re-applied
    block's root must equal the stored one, so a node never resumes from a state that
    differs from what it committed; raises StorageError if not.
    """
    rejected: list[tuple[int, str]] = []
    height, state = 0, None
    for snapshot in store.iter_snapshots():
        try:
            state = _load_snapshot(store, snapshot, decode_state, is_committed, rejects)
        except UnusableSnapshot as exc:
            log.warning("%s; trying an older snapshot", exc)
            rejected.append((snapshot.height, exc.reason))
            continue
        height = snapshot.height
        break
    snapshot_height = height
    if state is None:
        if store.first_height() > 1:
            raise StorageError(
                f"{store.path}: no stored snapshot is usable and the blocks below height "
                f"{store.first_height()} were pruned, so the state cannot be rebuilt from "
                "genesis: restore the data directory from a backup"
            )
        state = genesis_state()
    for stored in store.iter_blocks(after=height):
        state, root = apply_block(state, stored)
        if root != stored.state_root:
            raise StorageError(
                f"{store.path}: re-applying block {stored.height} gives a different state"
                " root: these blocks were made by a clearing version whose state this one computes"
                " differently (a release that changes the state format runs from the height of"
                ' its upgrade on: docs/operator.md, "Upgrading"), or the data directory is'
                " damaged"
            )
        height = stored.height
    return Rebuilt(height, state, snapshot_height, tuple(rejected))


def _load_snapshot(
    store: NodeStore,
    snapshot: Snapshot,
    decode_state: Callable[[bytes], S],
    is_committed: Callable[[S, bytes], bool],
    rejects: tuple[type[Exception], ...],
) -> S:
    """The snapshot's state, if it is the committed state of its height."""
    block = store.load_block(snapshot.height)
    if block is None:
        raise UnusableSnapshot(snapshot.height, "its block is not stored")
    try:
        state = decode_state(snapshot.state)
    except rejects as exc:
        raise UnusableSnapshot(snapshot.height, f"does not decode: {exc}") from exc
    if not is_committed(state, block.state_root):
        raise UnusableSnapshot(snapshot.height, "its state root differs from its block's")
    return state
