"""A node's clearing state at start-up, from its store: the newest snapshot whose root is
its block's root (an older one, or genesis, if not), then the blocks after it, each root
checked. Whichever engine committed the blocks, they are applied as `CommittedBlock`s.

A release that starts at an upgrade in place cannot compute the root of the previous
release's state (another format): it starts from the snapshot the previous release made
at the height before the upgrade (node/block_store.py), whose root is its block's, as
that release committed it, and applies the blocks from the upgrade's height on."""

from __future__ import annotations

import functools
import logging

from clearing.errors import ClearingError
from clearing.release import MIGRATIONS
from clearing.root import compute_state_root
from clearing.snapshot import decode_snapshot
from clearing.state import ClearingState
from clearing.upgrade import is_release_start
from node.clearing_app import ClearingApp
from node.committed import decode_stored_block
from node.storage import NodeStore, Rebuilt, StoredBlock, rebuild_state

log = logging.getLogger(__name__)

SNAPSHOT_REJECTS = (ClearingError, ValueError, TypeError, LookupError)
"""What decoding an untrusted (corrupt) snapshot may raise; such a snapshot is skipped."""


def restore_state(app: ClearingApp, store: NodeStore) -> Rebuilt[ClearingState]:
    """Puts the app at the store's tip: the newest snapshot whose root is its block's
    root (older ones, or genesis, if not), then the later blocks, each root checked."""

    def apply(state: ClearingState, stored: StoredBlock) -> tuple[ClearingState, bytes]:
        app.state = state
        block = decode_stored_block(app.genesis.engine, stored)
        return state, app.apply_block(block.get_context(app.genesis.chain_id), block.txs).state_root

    def is_committed(state: ClearingState, root: bytes) -> bool:
        return is_release_start(state, MIGRATIONS) or compute_state_root(state) == root

    rebuilt = rebuild_state(
        store,
        lambda: app.state,
        functools.partial(decode_snapshot, app.genesis),
        apply,
        is_committed,
        SNAPSHOT_REJECTS,
    )
    app.state = rebuilt.state
    stored = store.load_block(rebuilt.height) if rebuilt.height else None
    app.last_root = compute_state_root(rebuilt.state) if stored is None else stored.state_root
    log.info(
        "state at height %d: snapshot of height %d + %d blocks",
        rebuilt.height,
        rebuilt.snapshot_height,
        rebuilt.height - rebuilt.snapshot_height,
    )
    return rebuilt
