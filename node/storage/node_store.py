"""The node's on-disk store: one SQLite file (WAL journal) of committed blocks,
their commit certificates, clearing-state snapshots, members' history, the outcomes
of the recent blocks' transactions, the transactions the mempool admitted but no
block has included yet, and on CometBFT the bodies of the proposals a validator accepted
whose block is not stored yet (node/cometbft/bodies.py).

Every write is one SQLite transaction, so a crash leaves either all of a block
(block + certificate + state root, and the snapshot taken with it) or none of it.
Heights are contiguous from the store's first height (1 until it is pruned) to its
latest: `save_block` refuses gaps and rewrites, which keeps "latest height" and "blocks
after a snapshot" meaningful after any crash. `prune` moves the first heights of the
blocks and of the history up (node/retention.py says how far), keeping the few older
blocks a light client's walk needs.
The consensus WAL is deliberately not here: it is its own append-only file.

The store is synchronous and fast (one fsync per block); a trio caller that cannot
afford the blocking should wrap calls in `trio.to_thread.run_sync` — the connection
is opened with `check_same_thread=False` for that, and a lock serialises use.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from node.storage.errors import (
    HeightGapError,
    OtherGenesisStore,
    PruneBelowSnapshot,
    SnapshotHeightError,
    StorageError,
)
from node.storage.history_store import (
    SCHEMA as HISTORY_SCHEMA,
)
from node.storage.history_store import (
    BlockHistory,
    HistoryRow,
    get_history_height,
    read_history_page,
    write_block_history,
    write_history_rows,
)
from node.storage.outcomes import (
    SCHEMA as OUTCOMES_SCHEMA,
)
from node.storage.outcomes import (
    TX_WINDOW_BLOCKS,
    TxOutcome,
    read_tx_outcome,
    write_tx_outcomes,
)

SCHEMA_VERSION = 6
log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    height INTEGER PRIMARY KEY,
    block BLOB NOT NULL,
    cert BLOB NOT NULL,
    state_root BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (
    height INTEGER PRIMARY KEY,
    state BLOB NOT NULL,
    state_root BLOB NOT NULL
);
"""

_MIGRATIONS = {
    # version 1 -> 2: admitted transactions survive a restart (node.txpool)
    1: """
CREATE TABLE pending_txs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tx_hash BLOB NOT NULL UNIQUE,
    tx BLOB NOT NULL
);
""",
    # version 2 -> 3: each member's history (node.storage.history_store)
    2: HISTORY_SCHEMA,
    # version 3 -> 4: what happened to each recent transaction (node.storage.outcomes)
    3: OUTCOMES_SCHEMA,
    # version 4 -> 5: pruning the history by height (node.retention)
    4: "CREATE INDEX history_by_height ON history (height);",
    # version 5 -> 6: the bodies of the CometBFT proposals a validator accepted
    # (node/cometbft/bodies.py), until their height is committed
    5: """
CREATE TABLE proposal_txs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    height INTEGER NOT NULL,
    txs BLOB NOT NULL
);
""",
}
"""From each version, the statements that make the next one."""


@dataclass(frozen=True)
class Pruned:
    """What one `prune` removed, and the first heights the store holds after it."""

    blocks: int
    history_rows: int
    blocks_from: int
    history_from: int


@dataclass(frozen=True)
class StoredBlock:
    height: int
    block: bytes
    cert: bytes
    state_root: bytes


@dataclass(frozen=True)
class Snapshot:
    height: int
    state: bytes
    state_root: bytes


class NodeStore:
    """Blocks, certificates, snapshots, history, transaction outcomes and pending
    transactions in one SQLite file. The outcomes of the last `tx_window_blocks` blocks
    are kept."""

    def __init__(self, path: Path, tx_window_blocks: int = TX_WINDOW_BLOCKS) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed block survives power loss, not only a process crash
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._check_schema_version()
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"{path}: not a usable node database ({exc})") from exc
        self.path = path
        self.tx_window_blocks = tx_window_blocks
        self._lock = threading.Lock()

    def _check_schema_version(self) -> None:
        """Brings a file of an older schema to this one (each step one transaction)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema', 1)")
        version = 1 if row is None else row[0]
        if not isinstance(version, int) or not 1 <= version <= SCHEMA_VERSION:
            raise StorageError(f"schema version {version}, this node reads {SCHEMA_VERSION}")
        for step in range(version, SCHEMA_VERSION):
            with self._transaction():
                for statement in _MIGRATIONS[step].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (step + 1,))

    def bind_genesis(self, genesis_hash: bytes, genesis_file: Path) -> None:
        """Records the hash of the genesis (`genesis_file`'s) this store's chain starts from,
        at its first start; OtherGenesisStore if it recorded another. A store of an older
        release, which recorded none, records the one it next starts with."""
        with self._lock, self._transaction():
            row = self._db.execute("SELECT value FROM meta WHERE key = 'genesis_hash'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('genesis_hash', ?)", (genesis_hash,))
            elif bytes(row[0]) != genesis_hash:
                raise OtherGenesisStore(self.path, bytes(row[0]), genesis_file, genesis_hash)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> NodeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def latest_height(self) -> int:
        """Height of the newest stored block; 0 when none is stored."""
        with self._lock:
            return self._get_latest_height()

    def save_block(
        self,
        height: int,
        block_bytes: bytes,
        cert_bytes: bytes,
        state_root: bytes,
        snapshot: bytes | None = None,
        snapshots_kept: int | None = None,
        included: Sequence[bytes] = (),
        history: BlockHistory | None = None,
        snapshots_held: Collection[int] = (),
    ) -> None:
        """Store block `height` (= latest + 1) with its certificate and resulting state root,
        and optionally the state snapshot after it (pruned to the `snapshots_kept` newest
        and those of heights `snapshots_held`: peers are fetching them),
        in one transaction: a snapshot never exists without its block, and the pending
        transactions the block includes (hashes `included`) and the kept bodies of the
        proposals of its height and below are forgotten with it, and the members'
        `history` rows of the block are written with it (when the history has
        reached the block before; else the start-up catch-up writes them)."""
        with self._lock, self._transaction():
            latest = self._get_latest_height()
            if height != latest + 1:
                raise HeightGapError(height, latest)
            self._db.execute(
                "INSERT INTO blocks VALUES (?, ?, ?, ?)",
                (height, block_bytes, cert_bytes, state_root),
            )
            if snapshot is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?)",
                    (height, snapshot, state_root),
                )
                if snapshots_kept is not None:
                    self._prune_snapshots(snapshots_kept, snapshots_held)
            self._db.executemany(
                "DELETE FROM pending_txs WHERE tx_hash = ?", ((h,) for h in included)
            )
            self._db.execute("DELETE FROM proposal_txs WHERE height <= ?", (height,))
            if history is not None:
                reached = get_history_height(self._db)
                if reached == height - 1:
                    self._write_history(history)
                else:
                    log.warning(
                        "history of block %d not written: the history reaches block %d "
                        "(it is indexed from the blocks at the next start)",
                        height,
                        reached,
                    )

    def first_height(self) -> int:
        """The first of the contiguous heights of blocks held (1 until pruned). Below it
        only the blocks pruning keeps for light clients' walks are held."""
        with self._lock:
            return self._get_meta_int("blocks_from", 1)

    def history_first_height(self) -> int:
        """The first height whose history rows are all held (1 until pruned)."""
        with self._lock:
            return self._get_meta_int("history_from", 1)

    def prune(self, blocks_below: int, history_below: int, pinned: Collection[int]) -> Pruned:
        """Removes the blocks below `blocks_below` but those of heights `pinned` (a block
        pinned before and no longer goes too) and the history rows below `history_below`,
        in one transaction. Each first height only moves up; blocks after the oldest
        snapshot kept stay (PruneBelowSnapshot), and the latest block always does."""
        with self._lock, self._transaction():
            blocks_from = self._get_meta_int("blocks_from", 1)
            history_from = self._get_meta_int("history_from", 1)
            latest = self._get_latest_height()
            blocks_below = min(max(blocks_below, blocks_from), max(latest, 1))
            history_below = min(max(history_below, history_from), get_history_height(self._db) + 1)
            oldest = self._get_oldest_snapshot_height()
            if blocks_below > blocks_from and (oldest is None or blocks_below > oldest):
                raise PruneBelowSnapshot(blocks_below, 0 if oldest is None else oldest)
            below = self._db.execute("SELECT height FROM blocks WHERE height < ?", (blocks_below,))
            blocks = self._db.executemany(
                "DELETE FROM blocks WHERE height = ?",
                [(h,) for (h,) in below.fetchall() if h not in pinned],
            ).rowcount
            rows = self._db.execute(
                "DELETE FROM history WHERE height >= ? AND height < ?",
                (history_from, history_below),
            ).rowcount
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('blocks_from', ?), ('history_from', ?)",
                (blocks_below, history_below),
            )
        return Pruned(blocks, rows, blocks_below, history_below)

    def _get_latest_height(self) -> int:
        return int(self._db.execute("SELECT MAX(height) FROM blocks").fetchone()[0] or 0)

    def _get_oldest_snapshot_height(self) -> int | None:
        row = self._db.execute("SELECT MIN(height) FROM snapshots").fetchone()
        return None if row[0] is None else int(row[0])

    def load_validator_checkpoint(self) -> bytes | None:
        """Our engine's last validator-set checkpoint (consensus/validator_sets.py)."""
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM meta WHERE key = 'validator_checkpoint'"
            ).fetchone()
        return None if row is None else bytes(row[0])

    def save_validator_checkpoint(self, checkpoint: bytes) -> None:
        """Replaces the checkpoint kept (one statement: atomic, and derived data, so not
        bound to a block's transaction: a lost one only makes a restart walk further)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('validator_checkpoint', ?)", (checkpoint,)
            )

    def _get_meta_int(self, key: str, default: int) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else int(row[0])

    def history_height(self) -> int:
        """The last block whose history rows are written (0: none)."""
        with self._lock:
            return get_history_height(self._db)

    def save_history(self, blocks: Sequence[BlockHistory]) -> None:
        """The history of stored blocks the history had not reached, in one transaction;
        a block it already holds is skipped, so a repeated catch-up duplicates nothing."""
        with self._lock, self._transaction():
            for history in blocks:
                if history.height == get_history_height(self._db) + 1:
                    self._write_history(history)

    def save_history_below(
        self, blocks: Sequence[BlockHistory], below: int, held_from: int | None
    ) -> bool:
        """The history of blocks below `below`, the first height whose history is held,
        rebuilt by replaying the chain (node/history/replay.py), in one transaction; with
        `held_from` the rebuild is whole from there, and the first height held moves down
        to it. False, with every row below the first height held dropped, if pruning
        moved that height up meanwhile: the rows rebuilt are outside what it keeps."""
        with self._lock, self._transaction():
            history_from = self._get_meta_int("history_from", 1)
            if history_from != below:
                self._db.execute("DELETE FROM history WHERE height < ?", (history_from,))
                return False
            above = [b.height for b in blocks if b.height >= below]
            if above or (held_from is not None and held_from > below):
                raise StorageError(
                    f"rebuilt history of heights {above} (held from {held_from}) is not below "
                    f"the first height whose history is held, {below}"
                )
            for history in blocks:
                write_history_rows(self._db, history.rows, replace=True)
            if held_from is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('history_from', ?)", (held_from,)
                )
            return True

    def _write_history(self, history: BlockHistory) -> None:
        write_block_history(self._db, history)
        write_tx_outcomes(self._db, history.height, history.outcomes, self.tx_window_blocks)

    def read_tx_outcome(self, tx_hash: bytes) -> TxOutcome | None:
        """The latest outcome of `tx_hash` among the last `tx_window_blocks` blocks."""
        with self._lock:
            return read_tx_outcome(self._db, tx_hash)

    def read_history(
        self, member: bytes, after: tuple[int, int] | None, limit: int
    ) -> list[HistoryRow]:
        """`member`'s history rows after cursor (height, seq) `after`, oldest first."""
        with self._lock:
            return read_history_page(self._db, member, after, limit)

    def load_block(self, height: int) -> StoredBlock | None:
        with self._lock:
            row = self._db.execute(
                "SELECT height, block, cert, state_root FROM blocks WHERE height = ?", (height,)
            ).fetchone()
        return None if row is None else StoredBlock(*row)

    def iter_blocks(self, after: int, up_to: int | None = None) -> Iterator[StoredBlock]:
        """Blocks with height > `after` (and <= `up_to`), in height order, read in pages."""
        last = up_to if up_to is not None else self.latest_height()
        return iter_stored_blocks(self._db, after, last, self._lock)

    def save_snapshot(self, height: int, state: bytes, state_root: bytes) -> None:
        """Store the clearing state after block `height`, which must already be stored."""
        with self._lock, self._transaction():
            latest = self._get_latest_height()
            if not 0 <= height <= latest:
                raise SnapshotHeightError(height, latest)
            self._db.execute(
                "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?)", (height, state, state_root)
            )

    def latest_snapshot(self) -> Snapshot | None:
        return next(self.iter_snapshots(), None)

    def iter_snapshots(self) -> Iterator[Snapshot]:
        """Stored snapshots, newest first, each read only when reached."""
        for height in self.get_snapshot_heights():
            with self._lock:
                row = self._db.execute(
                    "SELECT height, state, state_root FROM snapshots WHERE height = ?", (height,)
                ).fetchone()
            if row is not None:
                yield Snapshot(*row)

    def get_snapshot_heights(self) -> list[int]:
        """The heights of the stored snapshots, newest first."""
        with self._lock:
            rows = self._db.execute("SELECT height FROM snapshots ORDER BY height DESC")
            return [int(row[0]) for row in rows]

    def get_snapshot_size(self, height: int) -> int | None:
        with self._lock:
            row = self._db.execute(
                "SELECT length(state) FROM snapshots WHERE height = ?", (height,)
            ).fetchone()
        return None if row is None else int(row[0])

    def read_snapshot_part(self, height: int, offset: int, length: int) -> bytes | None:
        """`length` bytes of the snapshot of `height` from `offset` (fewer at its end),
        read alone from the blob; None when no snapshot of `height` is stored."""
        with self._lock:
            try:
                blob = self._db.blobopen("snapshots", "state", height, readonly=True)
            except sqlite3.OperationalError:  # no such row: pruned, or never taken
                return None
            with blob:
                blob.seek(min(offset, len(blob)))
                return blob.read(length)

    def save_restored(
        self, snapshot: Snapshot, block: StoredBlock, pinned: Sequence[StoredBlock]
    ) -> None:
        """Makes an empty store hold a state-synced node's start, in one transaction: the
        snapshot of `block`'s height, that block, and the older `pinned` blocks (those
        pruning keeps: node/retention.py). The blocks and the history are then held from
        `block`'s height on (its history from the next height: no block before it was
        applied here). A store holding only an earlier restore (`get_restored_height`) is
        emptied first: CometBFT, which bootstraps its own stores after the app's, offers
        snapshots again when it never took that one up."""
        if snapshot.height != block.height:
            raise SnapshotHeightError(snapshot.height, block.height)
        with self._lock, self._transaction():
            latest = self._get_latest_height()
            if latest and self._get_restored_height() is None:
                raise StorageError(
                    f"{self.path} holds blocks up to {latest}: state sync restores into an "
                    "empty store only"
                )
            self._db.execute("DELETE FROM blocks")
            self._db.execute("DELETE FROM snapshots")
            rows = [*pinned, block]
            self._db.executemany(
                "INSERT INTO blocks VALUES (?, ?, ?, ?)",
                ((b.height, b.block, b.cert, b.state_root) for b in rows),
            )
            self._db.execute(
                "INSERT INTO snapshots VALUES (?, ?, ?)",
                (snapshot.height, snapshot.state, snapshot.state_root),
            )
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('blocks_from', ?), ('history_from', ?), "
                "('history_height', ?), ('restored_at', ?)",
                (block.height, block.height + 1, block.height, block.height),
            )

    def save_backfilled(self, blocks: Sequence[StoredBlock]) -> None:
        """Blocks below the first height held, consecutive up to the one before it, in one
        transaction (node/statesync/backfill.py); the first height moves down to theirs.
        A block already held (one a snapshot carried) keeps its bytes and gains the state
        root it lacked."""
        with self._lock, self._transaction():
            first = self._get_meta_int("blocks_from", 1)
            heights = [b.height for b in blocks]
            if not blocks or heights != list(range(heights[0], first)):
                raise StorageError(
                    f"backfilled blocks {heights[:1]}..{heights[-1:]} do not end right below "
                    f"the first height held, {first}"
                )
            self._db.executemany(
                "INSERT INTO blocks VALUES (?, ?, ?, ?) ON CONFLICT(height) DO UPDATE SET "
                "state_root = excluded.state_root WHERE blocks.state_root = x''",
                ((b.height, b.block, b.cert, b.state_root) for b in blocks),
            )
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('blocks_from', ?)", (heights[0],))

    def get_restored_height(self) -> int | None:
        """The height state sync restored this store to, while no block has been applied
        after it; None for any other store."""
        with self._lock:
            return self._get_restored_height()

    def _get_restored_height(self) -> int | None:
        latest = self._get_latest_height()
        return latest if latest and self._get_meta_int("restored_at", 0) == latest else None

    def oldest_snapshot_height(self) -> int | None:
        with self._lock:
            return self._get_oldest_snapshot_height()

    def prune_snapshots(self, keep: int, held: Collection[int] = ()) -> None:
        """Keep only the `keep` newest snapshots (at least one) and those of heights `held`."""
        with self._lock, self._transaction():
            self._prune_snapshots(keep, held)

    def _prune_snapshots(self, keep: int, held: Collection[int]) -> None:
        spared = ", ".join("?" * len(held))
        self._db.execute(
            "DELETE FROM snapshots WHERE height NOT IN "
            "(SELECT height FROM snapshots ORDER BY height DESC LIMIT ?)"
            + (f" AND height NOT IN ({spared})" if held else ""),
            (max(keep, 1), *held),
        )

    def save_cert(self, height: int, cert: bytes) -> None:
        """The certificate of a stored block that had none (a CometBFT block's signed
        header, which CometBFT has only after the app stored the block)."""
        with self._lock, self._transaction():
            self._db.execute(
                "UPDATE blocks SET cert = ? WHERE height = ? AND cert = x''", (cert, height)
            )

    def get_latest_certified_height(self) -> int:
        """The newest block stored with its certificate (0: none). On CometBFT a block's
        signed header is stored once the next block is and the keeper has fetched it
        (node/cometbft/signed_headers.py), so the newest blocks may lack one."""
        with self._lock:
            row = self._db.execute(
                "SELECT height FROM blocks WHERE cert != x'' ORDER BY height DESC LIMIT 1"
            ).fetchone()
        return 0 if row is None else int(row[0])

    def get_heights_without_cert(self, after: int = 0) -> list[int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT height FROM blocks WHERE height > ? AND cert = x'' ORDER BY height",
                (after,),
            ).fetchall()
        return [int(row[0]) for row in rows]

    def write_pending_txs(self, changes: Sequence[tuple[bytes, bytes | None]]) -> None:
        """Apply `changes` in order, in one transaction (one fsync): `(hash, tx)` records an
        admitted transaction, `(hash, None)` forgets one (included in a block, or invalid)."""
        with self._lock, self._transaction():
            for tx_hash, tx in changes:
                if tx is None:
                    self._db.execute("DELETE FROM pending_txs WHERE tx_hash = ?", (tx_hash,))
                else:
                    self._db.execute(
                        "INSERT OR IGNORE INTO pending_txs (tx_hash, tx) VALUES (?, ?)",
                        (tx_hash, tx),
                    )

    def save_proposal_txs(self, height: int, txs: bytes) -> None:
        """Keeps `txs` (the encoded bodies of a proposal at `height`: one row, one fsync)
        until the block of that height is saved."""
        with self._lock, self._transaction():
            self._db.execute("INSERT INTO proposal_txs (height, txs) VALUES (?, ?)", (height, txs))

    def load_proposal_txs(self) -> list[tuple[int, bytes]]:
        """The kept proposals' bodies, `(height, txs)`, in the order they were kept."""
        with self._lock:
            rows = self._db.execute("SELECT height, txs FROM proposal_txs ORDER BY seq")
            return [(int(height), bytes(txs)) for height, txs in rows]

    def load_pending_txs(self) -> list[bytes]:
        """The recorded pending transactions, in the order they were admitted."""
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT tx FROM pending_txs ORDER BY seq")]

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK if the body raises."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")


def iter_stored_blocks(
    db: sqlite3.Connection, after: int, last: int, lock: AbstractContextManager[object]
) -> Iterator[StoredBlock]:
    """The blocks of `db` with height > `after` and <= `last`, in height order, read in
    pages of 256, each page under `lock`: a node's store, or another process's read-only
    connection to its file (node/history/replay.py)."""
    cursor = after
    while cursor < last:
        with lock:
            rows = db.execute(
                "SELECT height, block, cert, state_root FROM blocks "
                "WHERE height > ? AND height <= ? ORDER BY height LIMIT 256",
                (cursor, last),
            ).fetchall()
        if not rows:
            return
        for row in rows:
            yield StoredBlock(*row)
        cursor = rows[-1][0]
