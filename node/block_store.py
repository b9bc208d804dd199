"""The node's blocks for consensus: `consensus.engine.BlockStore` over its SQLite store, with
the state snapshots and members' history rows saved in each block's own transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from consensus.compact import compute_tx_hash
from consensus.types import Block, CommitCertificate
from node.storage import NodeStore
from node.storage.history_store import BlockHistory
from node.worktime import BLOCK_STORE, WorkTime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SnapshotSchedule:
    """Every `interval` heights, and at each height `is_boundary` names (the last before
    an upgrade in place: the next release starts from that state), the block is stored
    with `encode_state()` (the state after it); only the `kept` newest snapshots stay,
    and those `get_held()` names (peers are fetching them: node/served_snapshots.py)."""

    interval: int
    kept: int
    encode_state: Callable[[], bytes]
    is_boundary: Callable[[int], bool] = lambda height: False
    get_held: Callable[[], Collection[int]] = frozenset

    def get_snapshot(self, height: int) -> bytes | None:
        due = height % self.interval == 0 or self.is_boundary(height)
        return self.encode_state() if due else None


class SqliteBlockStore:
    """consensus.engine.BlockStore over the node's SQLite store (bytes as committed).

    With a `SnapshotSchedule`, `save_block` (called right after the app finalized the
    block) stores the state snapshot in the block's own transaction, then calls `prune`
    (node/retention.py); with `get_history`, the members' history rows of the block too
    (node/history/), and hands them to `on_history` once stored (the members' own event
    streams).
    """

    def __init__(
        self,
        store: NodeStore,
        genesis_root: bytes,
        snapshots: SnapshotSchedule | None = None,
        get_history: Callable[[int, Sequence[bytes]], BlockHistory] | None = None,
        work: WorkTime | None = None,
        prune: Callable[[NodeStore], object] | None = None,
    ) -> None:
        self.store = store
        self.prune = prune
        self.work = WorkTime() if work is None else work
        self.genesis_root = genesis_root
        self.snapshots = snapshots
        self.get_history = get_history
        self.on_history: Callable[[BlockHistory], None] | None = None

    def get_height(self) -> int:
        return self.store.latest_height()

    def get_block(self, height: int) -> tuple[Block, CommitCertificate] | None:
        stored = self.store.load_block(height)
        if stored is None:
            return None
        return Block.decode(stored.block), CommitCertificate.decode(stored.cert)

    def get_state_root(self, height: int) -> bytes:
        if height == 0:
            return self.genesis_root
        stored = self.store.load_block(height)
        if stored is None:
            raise KeyError(f"no stored block at height {height}")
        return stored.state_root

    def save_block(self, block: Block, certificate: CommitCertificate, state_root: bytes) -> None:
        self.save(block.height, block.encode(), certificate.encode(), state_root, block.txs)

    def save(
        self, height: int, block: bytes, cert: bytes, state_root: bytes, txs: Sequence[bytes]
    ) -> None:
        """Stores a committed block in the engine's own form (`block`, `cert`: our engine's
        block and certificate, or a CometBFT block record and no certificate), `txs` its
        transactions, with what the schedule and the history add."""
        with self.work.measure(BLOCK_STORE):
            self._save(height, block, cert, state_root, txs)

    def _save(
        self, height: int, block: bytes, cert: bytes, state_root: bytes, txs: Sequence[bytes]
    ) -> None:
        schedule = self.snapshots
        history = None if self.get_history is None else self.get_history(height, txs)
        snapshot = None if schedule is None else schedule.get_snapshot(height)
        self.store.save_block(
            height,
            block,
            cert,
            state_root,
            snapshot,
            None if schedule is None else schedule.kept,
            [compute_tx_hash(tx) for tx in txs],
            history,
            () if snapshot is None or schedule is None else schedule.get_held(),
        )
        if snapshot is not None and self.prune is not None:
            self.prune(self.store)
        if history is not None and self.on_history is not None:
            self.on_history(history)

    def load_validator_checkpoint(self) -> bytes | None:
        return self.store.load_validator_checkpoint()

    def save_validator_checkpoint(self, checkpoint: bytes) -> None:
        self.store.save_validator_checkpoint(checkpoint)
