"""Each transaction decoded once on its way through a node.

A transaction reaches a node by its API or by gossip, where it is decoded to be checked;
the mempool's admission, the proposal's check and the block then each need the record
again, and a 250-trade batch takes about 0.44 ms to decode. `decode_once` keeps the
records decoded last, by their bytes, so those steps find them instead of decoding the
same bytes four times. Decoding is a pure function of the bytes and a record is frozen,
so one memo serves the whole process, and a record found is the one decoding would give.

What it keeps is bounded by the bytes of the transactions (`KEPT_BYTES`): a decoded
batch is about four times its encoding, and one transaction may be 4 MiB. A
transaction that waits in a long backlog may be decoded again; that costs time, never
a different answer.
"""

from __future__ import annotations

from collections import OrderedDict

from clearing.transition.tx import Transaction, decode_tx

KEPT_BYTES = 4 * 1024 * 1024
"""About 260 batches of 250 trades (16 KiB each, some 72 KiB decoded): a few blocks'
worth at the highest rates measured, about 20 MB held at most."""


class DecodedTxs:
    """The records of the transactions decoded last, by their bytes, within
    `kept_bytes` of those bytes (the oldest dropped first)."""

    def __init__(self, kept_bytes: int = KEPT_BYTES) -> None:
        self.kept_bytes = kept_bytes
        self.size = 0
        self.records: OrderedDict[bytes, Transaction] = OrderedDict()
        self.decoded = 0
        """How many times bytes were decoded (a record found is not counted)."""

    def decode(self, raw: bytes) -> Transaction:
        """The record `raw` encodes; raises `DecodeError` as `decode_tx` does."""
        record = self.records.get(raw)
        if record is not None:
            self.records.move_to_end(raw)
            return record
        record = decode_tx(raw)
        self.decoded += 1
        if len(raw) <= self.kept_bytes:
            self.records[raw] = record
            self.size += len(raw)
            while self.size > self.kept_bytes:
                dropped, _ = self.records.popitem(last=False)
                self.size -= len(dropped)
        return record


DECODED = DecodedTxs()
decode_once = DECODED.decode
