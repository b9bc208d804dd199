"""The history tables: one row per (member, height, seq), the event as that member may
read it. `seq` numbers a block's events in order (each transaction's events by index,
then the end-of-block events), so (height, seq) is a cursor that never moves.

A row's event is written compact (`encode_row_event`): the names that recur in every
row as small ints, the row's own member left out; rows written before stay readable.
A fill took 138 bytes, 60 of them field names and 20 the member the row's key repeats.

`history_height` in `meta` is the last block whose rows are written; it is set in the
same SQLite transaction as the rows (and, on the commit path, as the block itself), so a
crash leaves a block's history whole or absent, never half, and the catch-up writes it
once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from clearing.events import Event, EventValue
from node.storage.outcomes import TxOutcome
from records.codec import (
    DecodeError,
    encode_big_int,
    expect_big_int,
    expect_int,
    expect_list,
    expect_str,
    pack,
    unpack,
)

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
"""Statements of the schema step that adds the history (a migration of
node/storage/node_store.py)."""


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


WORDS = (
    "fill", "instrument", "member", "price", "quantity", "side", "sub_account", "trade_id",
    "venue", "variation_margin", "amount", "token", "chain_id", "quanta", "counterparty",
    "counterparty_sub_account", "mark_price", "nonce", "reason", "detail", "code", "fee",
    "rate", "paid", "amount_due", "recipient", "tx_hash", "deadline_height", "premium",
    "to_sub_account",
)  # fmt: skip
"""The event kinds and field names a row writes as their index here: only ever appended
to, since rows on disk hold the indexes. Any other is written as its string."""
WORD_CODES = {word: code for code, word in enumerate(WORDS)}
OWN_MEMBER = None
"""Written for a `member` field that is the row's member (no event value is nil)."""


def encode_row_event(row: HistoryRow) -> bytes:
    """`[index, kind, name, value, name, value, ...]`: the transaction's index (-1: an
    end-of-block event, which is the row's source), a kind or name in `WORDS` as its
    code, the row's own member as OWN_MEMBER, an int past msgpack's range as
    `[encode_big_int(value)]`."""
    if (row.source == "block") != (row.index == -1):
        raise ValueError(f"a {row.source!r} row at transaction index {row.index}")
    event = row.event
    fields: list[object] = [row.index, WORD_CODES.get(event.kind, event.kind)]
    for name, value in event.data:
        fields.append(WORD_CODES.get(name, name))
        if name == "member" and value == row.member:
            fields.append(OWN_MEMBER)
        elif type(value) is int and type(big := encode_big_int(value)) is bytes:
            fields.append([big])
        else:
            fields.append(value)
    return pack(fields)


def decode_row(member: bytes, height: int, seq: int, data: bytes) -> HistoryRow:
    fields = expect_list(unpack(data, "HistoryRow"), "HistoryRow")
    if fields and type(fields[0]) is str:
        return decode_row_as_first_written(member, height, seq, fields)
    if len(fields) < 2 or len(fields) % 2:
        raise DecodeError("HistoryRow", f"{len(fields)} fields, not an index, a kind and pairs")
    index = expect_int(fields[0], "HistoryRow.index", lo=-1)
    pairs = []
    for at in range(2, len(fields), 2):
        name = decode_word(fields[at])
        pairs.append((name, decode_value(name, fields[at + 1], member)))
    event = Event(decode_word(fields[1]), tuple(pairs))
    return HistoryRow(member, height, seq, "block" if index == -1 else "tx", index, event)


def decode_word(obj: object) -> str:
    if type(obj) is int:
        if not 0 <= obj < len(WORDS):
            raise DecodeError("HistoryRow", f"word {obj} of {len(WORDS)}")
        return WORDS[obj]
    return expect_str(obj, "HistoryRow.name")


def decode_value(name: str, obj: object, member: bytes) -> EventValue:
    if obj is OWN_MEMBER and name == "member":
        return member
    if type(obj) is list:
        big = expect_list(obj, name, 1)[0]
        if type(big) is not bytes:
            raise DecodeError("HistoryRow", f"value of {name!r} is a list of {big!r:.20}")
        return expect_big_int(big, name)
    if type(obj) not in (int, str, bytes):
        raise DecodeError("HistoryRow", f"value of {name!r} is {type(obj).__name__}")
    return obj  # type: ignore[return-value]


def decode_row_as_first_written(
    member: bytes, height: int, seq: int, fields: list[object]
) -> HistoryRow:
    """A row of a release before the compact rows: `[source, index, event.to_fields()]`."""
    source, index, event = expect_list(fields, "HistoryRow", 3)
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
    write_history_rows(db, history.rows)
    db.execute("UPDATE meta SET value = ? WHERE key = 'history_height'", (history.height,))


def write_history_rows(
    db: sqlite3.Connection, rows: Sequence[HistoryRow], replace: bool = False
) -> None:
    """Inside the caller's transaction; `replace` for rows a replay may write twice (the
    same rows: replaying is deterministic)."""
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    db.executemany(
        f"{verb} INTO history VALUES (?, ?, ?, ?)",
        ((r.member, r.height, r.seq, encode_row_event(r)) for r in rows),
    )


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
