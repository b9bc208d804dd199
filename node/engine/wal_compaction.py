"""Keeping the consensus WAL small: the records of committed heights are dropped, all
but the last signature, which keeps the signer's guard as strict as the whole log."""

from __future__ import annotations

import logging

from consensus.records import WAL_KIND_HEIGHT, decode_record
from consensus.signer import WAL_KIND_SIGNED
from consensus.wal import Wal, decode_frames

log = logging.getLogger(__name__)


def select_wal_records(records: list[bytes], next_height: int) -> list[bytes]:
    """What a node resuming at `next_height` needs of its WAL.

    Everything from the first marker of a height >= `next_height` on (that height's
    inputs and signatures are replayed), preceded by the last signature before it:
    the signer signs slots in non-decreasing order and refuses any slot below its
    newest, so that one record keeps the guard as strict as the whole log did.
    """
    cut = next(
        (
            i
            for i, record in enumerate(records)
            if (kind := decode_record(record))[0] == WAL_KIND_HEIGHT and kind[1] >= next_height
        ),
        len(records),
    )
    last_signed = next(
        (r for r in reversed(records[:cut]) if decode_record(r)[0] == WAL_KIND_SIGNED), None
    )
    return ([] if last_signed is None else [last_signed]) + records[cut:]


def compact_wal(wal: Wal, next_height: int) -> None:
    """Drops the records of committed heights (atomic rewrite, see `select_wal_records`).

    Call only between WAL appends (from the trio thread, e.g. at a commit)."""
    records, corruption = decode_frames(wal.storage.read_all(), wal.storage.name)
    if corruption is not None:
        raise corruption
    kept = select_wal_records(records, next_height)
    if len(kept) < len(records):
        wal.rewrite(kept)
        log.info(
            "WAL compacted below height %d: %d of %d records kept",
            next_height,
            len(kept),
            len(records),
        )
