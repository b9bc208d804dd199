"""The history tables: one row per (member, height, seq), the event as that member may
read it. `seq` numbers a block's events in order (each transaction's events by index,
then the end-of-block events), so (height, seq) is a cursor that never moves.

`history_height` in `meta` is the last block whose rows are written; it is set in the
same SQLite transaction as the rows (and, on the commit path, as the block itself), so a
crash leaves a block's history whole or absent, never half, and the catch-up writes it
once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from clearing.events import Event
from lightclient.codec import expect_int, expect_list, expect_str, pack, unpack
from node.history.outcomes import TxOutcome

SCHEMA = """
CREATE TABLE history (
    member BLOB NOT NULL,
    height INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    event BLOB NOT NULL,
    PRIMARY KEY (member, height, seq)
) WITHOUT ROWID;
INSERT OR REPLACE INTO meta VALUES ('history_height', 0);
"""
"""Statements of the schema step that adds the history (a migration of node/storage.py)."""


@dataclass(frozen=True)
class HistoryRow:
    member: bytes
    height: int
    seq: int
    source: str  # "tx" (a transaction's result) or "block" (end-of-block and epoch steps)
    index: int  # the transaction's index in its block; -1 for end-of-block events
    event: Event

    @property
    def cursor(self) -> tuple[int, int]:
        return (self.height, self.seq)


@dataclass(frozen=True)
class BlockHistory:
    """The rows one committed block adds (possibly none) and its transactions' outcomes:
    written with the block."""

    height: int
    rows: Sequence[HistoryRow]
    outcomes: Sequence[TxOutcome] = ()


def encode_row_event(row: HistoryRow) -> bytes:
    """`[source, index, event.to_fields()]`. The event's pairs pack as they are (msgpack
    writes a tuple as a list), which is its fields' encoding unless an int is beyond
    msgpack's range, which only `to_fields` writes (tagged big-endian bytes)."""
    try:
        return pack([row.source, row.index, [row.event.kind, row.event.data]])
    except OverflowError:
        return pack([row.source, row.index, row.event.to_fields()])


def decode_row(member: bytes, height: int, seq: int, data: bytes) -> HistoryRow:
    source, index, event = expect_list(unpack(data, "HistoryRow"), "HistoryRow", 3)
    return HistoryRow(
        member,
        height,
        seq,
        expect_str(source, "HistoryRow.source"),
        expect_int(index, "HistoryRow.index", lo=-1),
        Event.from_fields(event),
    )


def get_history_height(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT value FROM meta WHERE key = 'history_height'").fetchone()
    return 0 if row is None else int(row[0])


def write_block_history(db: sqlite3.Connection, history: BlockHistory) -> None:
    """Inside the caller's transaction: the block's rows, and its height as written."""
    db.executemany(
        "INSERT INTO history VALUES (?, ?, ?, ?)",
        ((r.member, r.height, r.seq, encode_row_event(r)) for r in history.rows),
    )
    db.execute("UPDATE meta SET value = ? WHERE key = 'history_height'", (history.height,))


def read_history_page(
    db: sqlite3.Connection, member: bytes, after: tuple[int, int] | None, limit: int
) -> list[HistoryRow]:
    """`member`'s rows strictly after cursor `after` (all when None), oldest first."""
    height, seq = after if after is not None else (-1, -1)
    rows = db.execute(
        "SELECT height, seq, event FROM history WHERE member = ? AND "
        "(height > ? OR (height = ? AND seq > ?)) ORDER BY height, seq LIMIT ?",
        (member, height, height, seq, limit),
    ).fetchall()
    return [decode_row(member, h, s, data) for h, s, data in rows]
