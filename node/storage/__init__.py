"""What a node keeps on disk: one SQLite file of blocks, certificates, snapshots, members'
history and transaction outcomes (node_store.py, with the history's and the outcomes'
tables, history_store.py and outcomes.py, and what it refuses, errors.py), the state
rebuilt from it (rebuild.py), and CometBFT's blocks as stored (comet_block.py,
comet_compact.py). The bottom of node/: it imports nothing of it."""

from node.storage.errors import HeightGapError, OtherGenesisStore, StorageError
from node.storage.node_store import (
    SCHEMA_VERSION,
    NodeStore,
    Pruned,
    Snapshot,
    StoredBlock,
    iter_stored_blocks,
)
from node.storage.rebuild import Rebuilt, rebuild_state

__all__ = [
    "SCHEMA_VERSION",
    "HeightGapError",
    "NodeStore",
    "OtherGenesisStore",
    "Pruned",
    "Rebuilt",
    "Snapshot",
    "StorageError",
    "StoredBlock",
    "iter_stored_blocks",
    "rebuild_state",
]
