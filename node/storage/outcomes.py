"""What happened to each transaction of the last `TX_WINDOW_BLOCKS` blocks, on disk: the
answer of GET /v1/txs/{hash}, so a venue that fails over to a restarted node still learns
the fate of its batch.

A block's outcomes are written with its history rows (`node.storage.history_store`), in the
block's own SQLite transaction, and the outcomes that leave the window are deleted in
the same transaction. A hash committed twice (a replay, refused the second time) answers
its latest outcome.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace

from clearing.transition.block import TxResult
from records.codec import pack, unpack

TX_WINDOW_BLOCKS = 1_000
"""Blocks whose outcomes are kept: a few MB of rows at most (not in the config file: how
long a venue may ask is the API's promise, docs/venue.md)."""

SCHEMA = """
CREATE TABLE tx_outcomes (
    tx_hash BLOB NOT NULL,
    height INTEGER NOT NULL,
    tx_index INTEGER NOT NULL,
    result BLOB NOT NULL,
    PRIMARY KEY (tx_hash, height)
) WITHOUT ROWID;
CREATE INDEX tx_outcomes_by_height ON tx_outcomes (height);
"""
"""Statements of the schema step that adds the outcomes (a migration of
node/storage/node_store.py)."""


@dataclass(frozen=True)
class TxOutcome:
    """A committed transaction's result, where it committed."""

    tx_hash: bytes
    height: int
    index: int
    result: TxResult  # without its decoded record: the block holds the transaction


def get_tx_outcomes(
    height: int, hashes: Sequence[bytes], results: Sequence[TxResult]
) -> tuple[TxOutcome, ...]:
    """The outcomes of block `height`'s transactions (`hashes[i]` has `results[i]`)."""
    return tuple(
        TxOutcome(tx_hash, height, index, replace(result, record=None))
        for index, (tx_hash, result) in enumerate(zip(hashes, results, strict=True))
    )


def write_tx_outcomes(
    db: sqlite3.Connection, height: int, outcomes: Sequence[TxOutcome], window: int
) -> None:
    """Inside the caller's transaction: block `height`'s outcomes in, those of block
    `height - window` and older out."""
    db.executemany(
        "INSERT OR REPLACE INTO tx_outcomes VALUES (?, ?, ?, ?)",
        ((o.tx_hash, o.height, o.index, pack(o.result.to_fields())) for o in outcomes),
    )
    db.execute("DELETE FROM tx_outcomes WHERE height <= ?", (height - window,))


def read_tx_outcome(db: sqlite3.Connection, tx_hash: bytes) -> TxOutcome | None:
    """The latest outcome of `tx_hash` in the window, or None."""
    row = db.execute(
        "SELECT height, tx_index, result FROM tx_outcomes WHERE tx_hash = ? "
        "ORDER BY height DESC LIMIT 1",
        (tx_hash,),
    ).fetchone()
    if row is None:
        return None
    height, index, data = row
    return TxOutcome(tx_hash, height, index, TxResult.from_fields(unpack(data, "TxResult")))
