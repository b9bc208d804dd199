"""A CometBFT block's items: a transaction in full or a reference to one, told apart by
the first byte; resolved from what a node holds, or naming what it lacks."""

from __future__ import annotations

import pytest

from consensus.compact import MissingTxs, compute_tx_hash
from node.storage.comet_block import CometBlockRecord
from node.storage.comet_compact import (
    REF_BYTES,
    REF_TAG,
    compact_txs,
    get_ref_indices,
    get_referenced,
    make_ref,
    read_ref,
    resolve_items,
    restore_items,
)
from records.codec import DecodeError
from tests.node.test_app import blocks

TXS = [tx for block in blocks() for tx in block]


def test_no_clearing_transaction_reads_as_a_reference() -> None:
    assert all(tx[:1] != REF_TAG and read_ref(tx) is None for tx in TXS)
    assert read_ref(make_ref(TXS[0])) == compute_tx_hash(TXS[0])
    assert len(make_ref(TXS[0])) == REF_BYTES
    assert read_ref(REF_TAG + bytes(31)) is None  # a tag alone does not make a reference


def test_the_held_transactions_become_references_and_resolve_back() -> None:
    held = {compute_tx_hash(tx): tx for tx in TXS[1:]}
    items = compact_txs(TXS, held.__contains__)
    assert items[0] == TXS[0] and all(read_ref(item) for item in items[1:])
    assert get_ref_indices(items) == tuple(range(1, len(TXS)))
    assert restore_items(TXS, get_ref_indices(items)) == items
    assert resolve_items(items, held.get) == TXS
    assert get_referenced(items, TXS) == held  # by the references' hashes, none hashed again


def test_what_is_not_held_is_named_once() -> None:
    held = {compute_tx_hash(tx): tx for tx in TXS[2:]}
    items = [make_ref(TXS[1]), *compact_txs(TXS, held.__contains__), make_ref(TXS[1])]
    with pytest.raises(MissingTxs) as missing:
        resolve_items(items, held.get)
    assert missing.value.tx_ids == (compute_tx_hash(TXS[1]),)


def test_a_record_keeps_which_transactions_its_block_referred_to() -> None:
    record = CometBlockRecord(3, 1_000, bytes(32), bytes(20), tuple(TXS[:3]), (), (0, 2))
    decoded = CometBlockRecord.decode(record.encode())
    assert decoded == record
    assert decoded.get_items() == [make_ref(TXS[0]), TXS[1], make_ref(TXS[2])]
    for bad in [(2, 0), (0, 0), (3,)]:
        wrong = CometBlockRecord(3, 1_000, bytes(32), bytes(20), tuple(TXS[:3]), (), bad)
        with pytest.raises(DecodeError, match="ref_ind"):
            CometBlockRecord.decode(wrong.encode())
