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
from clearing.state import ClearingState
from clearing.transition.root import compute_state_root
from clearing.transition.snapshot import decode_snapshot
from clearing.upgrade import is_release_start
from node.clearing_app import ClearingApp
from node.committed import decode_stored_block
from node.storage import NodeStore, Rebuilt, StoredBlock, rebuild_state

log = logging.getLogger(__name__)

SNAPSHOT_REJECTS = (ClearingError, ValueError, TypeError, LookupError)
"""What decoding an untrusted (corrupt) snapshot may raise; such a snapshot is skipped."""


def restore_state(
    app: ClearingApp, store: NodeStore, synced: ClearingState | None = None
) -> Rebuilt[ClearingState]:
    """Puts the app at the store's tip: the newest snapshot whose root is its block's
    root (older ones, or genesis, if not), then the later blocks, each root checked.
    `synced`: the state state sync has just checked and stored (node/statesync/fetch.py),
    taken as it is when it is the store's tip (`adopt_synced_state`) rather than decoded
    again from its snapshot: at 100,000 members that decoding is some 6 s."""
    if synced is not None and (adopted := adopt_synced_state(app, store, synced)):
        return adopted

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


def adopt_synced_state(
    app: ClearingApp, store: NodeStore, synced: ClearingState
) -> Rebuilt[ClearingState] | None:
    """Puts the app at `synced` if the store's tip is its height and the block stored there
    commits its root (what a restore from the stored snapshot would check); None, the app
    untouched, if not."""
    stored = store.load_block(synced.height)
    if (
        stored is None
        or store.latest_height() != synced.height
        or compute_state_root(synced) != stored.state_root
    ):
        log.warning(
            "the state-synced state is not the one the store commits at its tip: "
            "restoring from the store"
        )
        return None
    app.state = synced
    app.last_root = stored.state_root
    log.info("state at height %d: the state-synced snapshot, checked once", synced.height)
    return Rebuilt(synced.height, synced, synced.height, ())
