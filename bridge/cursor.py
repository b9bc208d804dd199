"""Durable watcher state in one SQLite file: the scan cursor and outboxes of deposits and payouts.

Each finalized block range is committed in ONE transaction: its deposits and payouts
enter the outboxes (unique by chain id, tx hash, log index) and the cursor moves past it.
A watcher killed at any instant therefore restarts at the first unprocessed block
with every deposit before it stored exactly once: nothing lost, nothing doubled.
Consumers read the outbox by sequence number (`get_deposits_since`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.deposits import DepositEvent
from bridge.wire import FORMAT_VERSION, Versioned
from clearing.transition.withdrawal import PayoutObservation
from records.declared import declare_record

OUTBOX_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    chain_id INTEGER NOT NULL,
    tx_hash BLOB NOT NULL,
    log_index INTEGER NOT NULL,
    record BLOB NOT NULL,
    UNIQUE (chain_id, tx_hash, log_index)
);
"""
SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS cursor (
    chain_id INTEGER NOT NULL,
    vault BLOB NOT NULL,
    next_block INTEGER NOT NULL,
    PRIMARY KEY (chain_id, vault)
);
"""
    + OUTBOX_TABLE.format(name="deposits")
    + OUTBOX_TABLE.format(name="payouts")
)


@declare_record(head=FORMAT_VERSION)
@dataclass(frozen=True)
class StoredPayout(Versioned):
    """A final vault payout as the outbox keeps it."""

    payout: PayoutObservation


class CursorStore:
    """One SQLite file; safe to reopen after a crash (WAL journal, synchronous FULL).

    Watchers of several chains may share one store from worker threads; a lock
    serialises use of the one connection, whose transaction state is shared, so
    no reader sees another thread's uncommitted range and no BEGIN nests.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self.db.close()

    def get_next_block(self, chain_id: int, vault: bytes, default: int) -> int:
        row = self._fetch_one(
            "SELECT next_block FROM cursor WHERE chain_id = ? AND vault = ?", (chain_id, vault)
        )
        return default if row is None else int(row[0])

    def commit_range(
        self,
        chain_id: int,
        vault: bytes,
        next_block: int,
        deposits: Iterable[DepositEvent],
        payouts: Iterable[PayoutObservation] = (),
    ) -> list[DepositEvent]:
        """Store `deposits` and `payouts` and move the cursor to `next_block` atomically.

        Returns the deposits that were new (a re-scanned range returns none twice).
        """
        fresh = []
        with self._transaction():
            for deposit in deposits:
                if self._insert(
                    "deposits", chain_id, deposit.tx_hash, deposit.log_index, deposit.encode()
                ):
                    fresh.append(deposit)
            for payout in payouts:
                record = StoredPayout(payout).encode()
                self._insert("payouts", chain_id, payout.tx_hash, payout.log_index, record)
            self.db.execute(
                "INSERT INTO cursor (chain_id, vault, next_block) VALUES (?, ?, ?)"
                " ON CONFLICT (chain_id, vault) DO UPDATE SET next_block = excluded.next_block",
                (chain_id, vault, next_block),
            )
        return fresh

    def add_deposit(self, deposit: DepositEvent) -> bool:
        """Store one deposit found out of band (a re-observation); False if known."""
        with self._transaction():
            return self._insert(
                "deposits", deposit.chain_id, deposit.tx_hash, deposit.log_index, deposit.encode()
            )

    def _insert(
        self, table: str, chain_id: int, tx_hash: bytes, log_index: int, record: bytes
    ) -> bool:
        """Add one outbox row unless its (chain id, tx hash, log index) is there; True if added."""
        cursor = self.db.execute(
            f"INSERT OR IGNORE INTO {table} (chain_id, tx_hash, log_index, record)"
            " VALUES (?, ?, ?, ?)",
            (chain_id, tx_hash, log_index, record),
        )
        return bool(cursor.rowcount)

    def get_deposit(self, chain_id: int, tx_hash: bytes, log_index: int) -> DepositEvent | None:
        row = self._fetch_one(
            "SELECT record FROM deposits WHERE chain_id = ? AND tx_hash = ? AND log_index = ?",
            (chain_id, tx_hash, log_index),
        )
        return None if row is None else DepositEvent.decode(row[0])

    def get_deposits_since(self, seq: int, limit: int = 1000) -> list[tuple[int, DepositEvent]]:
        """Outbox entries with sequence number > `seq`, oldest first."""
        rows = self._fetch_all(
            "SELECT seq, record FROM deposits WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        )
        return [(int(s), DepositEvent.decode(r)) for s, r in rows]

    def get_payouts_since(self, seq: int, limit: int = 1000) -> list[tuple[int, PayoutObservation]]:
        """Final vault payouts with sequence number > `seq`, oldest first."""
        rows = self._fetch_all(
            "SELECT seq, record FROM payouts WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        )
        return [(int(s), StoredPayout.decode(r).payout) for s, r in rows]

    def count_deposits(self, chain_id: int) -> int:
        row = self._fetch_one("SELECT COUNT(*) FROM deposits WHERE chain_id = ?", (chain_id,))
        assert row is not None  # COUNT always yields a row
        return int(row[0])

    def _fetch_one(self, sql: str, params: tuple[object, ...]) -> tuple[Any, ...] | None:
        with self._lock:
            row: tuple[Any, ...] | None = self.db.execute(sql, params).fetchone()
            return row

    def _fetch_all(self, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self.db.execute(sql, params).fetchall()

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db, self._lock)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT under the store's lock, rolled back on any exception."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self.db = db
        self.lock = lock

    def __enter__(self) -> None:
        self.lock.acquire()
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()
            raise

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            self.db.execute("ROLLBACK" if exc_type is not None else "COMMIT")
        finally:
            self.lock.release()
