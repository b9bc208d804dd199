"""The mempool with a durable copy: what it admits is on disk before anyone is told.

Every admitted transaction (from the API, gossip or a node service) is recorded in
the node's SQLite store (`pending_txs`) and forgotten again when a block includes
it (in the block's own SQLite transaction, see `NodeStore.save_block`, and again
here, after any record of it still being written) or a re-check drops it, so a
node that dies with transactions pending finds them again at restart (`restore`),
re-checked against its restored state.

Writes are grouped: `run` (a task of the node's nursery) takes every change queued
since its last write and commits them in one SQLite transaction (one fsync) in a
worker thread; `add` returns only after the write holding its transaction is
committed. Removals are queued in the same order, never awaited: an included
transaction is already forgotten with its block, and a dropped one fails
`restore`'s re-check again if its removal is lost in a crash. A failed write ends `run`
(and so the node): a node that cannot persist must not keep admitting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import trio

from consensus.compact import compute_tx_hash
from node.mempool import DuplicateTx, Mempool, MempoolError
from node.storage import NodeStore

log = logging.getLogger(__name__)


class TxPool:
    """`Mempool` admission and block updates, each recorded in `store`."""

    def __init__(self, mempool: Mempool, store: NodeStore) -> None:
        self.mempool = mempool
        self.store = store
        self._changes: list[tuple[bytes, bytes | None]] = []
        self._written = trio.Event()
        """Set once the queued changes are committed (then replaced for the next ones)."""
        self._unwritten: dict[bytes, trio.Event] = {}
        """Hash of each admitted transaction whose record is not committed yet."""
        self._queued = trio.Event()
        self.on_added: Callable[[], None] | None = None
        """Called at each admission (the consensus driver's `notice_txs`)."""

    async def add(self, tx: bytes) -> bytes:
        """Admit `tx` and return its hash once it is on disk; raise MempoolError if refused.
        A transaction already pending answers its hash too, once it is on disk."""
        try:
            tx_hash = self.add_nowait(tx)
        except DuplicateTx as exc:
            tx_hash = exc.tx_hash
        await self.wait_written(tx_hash)
        return tx_hash

    def add_nowait(self, tx: bytes) -> bytes:
        """Admit `tx` and queue its record (gossip: nobody waits for an answer)."""
        tx_hash = self.mempool.add(tx)
        self._queue(tx_hash, tx)
        self._unwritten[tx_hash] = self._written
        if self.on_added is not None:
            self.on_added()
        return tx_hash

    async def wait_written(self, tx_hash: bytes) -> None:
        written = self._unwritten.get(tx_hash)
        if written is not None:
            await written.wait()

    def reap(self, max_bytes: int) -> list[bytes]:
        return self.mempool.reap(max_bytes)

    def get_tx(self, tx_hash: bytes) -> bytes | None:
        return self.mempool.get_tx(tx_hash)

    def update(self, included: Sequence[bytes]) -> list[bytes]:
        """After a block: the mempool's update, and the included and dropped ones forgotten."""
        hashes = [compute_tx_hash(tx) for tx in included]
        pending = [h for h in hashes if h in self.mempool]
        dropped = self.mempool.update(included)
        for tx_hash in (*pending, *dropped):
            self._queue(tx_hash, None)
        return dropped

    def restore(self) -> list[bytes]:
        """At start-up (state restored, before `run`): admit the recorded transactions again,
        forget those the state now refuses (committed, or invalid); the admitted ones."""
        admitted, refused = [], []
        for tx in self.store.load_pending_txs():
            try:
                self.mempool.add(tx)
            except MempoolError as exc:
                log.info("recorded tx 0x%s dropped: %s", compute_tx_hash(tx).hex()[:16], exc)
                refused.append((compute_tx_hash(tx), None))
            else:
                admitted.append(tx)
        self.store.write_pending_txs(refused)
        log.info("mempool restored: %d pending txs, %d dropped", len(admitted), len(refused))
        return admitted

    def _queue(self, tx_hash: bytes, tx: bytes | None) -> None:
        self._changes.append((tx_hash, tx))
        self._queued.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Writes queued changes until cancelled; a write in progress always completes."""
        task_status.started()
        while True:
            await self._queued.wait()
            self._queued = trio.Event()
            changes, self._changes = self._changes, []
            written, self._written = self._written, trio.Event()
            await trio.to_thread.run_sync(self.store.write_pending_txs, changes)
            for tx_hash, tx in changes:
                if tx is not None and self._unwritten.get(tx_hash) is written:
                    del self._unwritten[tx_hash]
            written.set()
