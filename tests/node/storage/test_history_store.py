"""The history tables in the node's SQLite file: written with the block, paged by cursor,
never duplicated by a repeated catch-up, kept across reopening the file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearing.events import EventValue, make_event
from clearing.transition.block import BlockResult
from node.history.indexer import get_block_history, make_fill
from node.storage import HeightGapError, NodeStore
from node.storage.history_store import (
    WORDS,
    BlockHistory,
    HistoryRow,
    decode_row,
    encode_row_event,
)
from records.codec import DecodeError, pack
from tests.node.test_api import ALICE, BOB


def block_history(height: int, events_per_member: int = 2) -> BlockHistory:
    events = tuple(
        make_event("fill", member=m, n=n) for m in (ALICE.address, BOB.address)
        for n in range(events_per_member)
    )  # fmt: skip
    return get_block_history((), BlockResult(height, (), events, bytes(32)))


def save(store: NodeStore, height: int, history: BlockHistory | None) -> None:
    store.save_block(height, b"b", b"c", bytes(32), history=history)


VALUES = st.one_of(st.integers(-(2**70), 2**70), st.binary(max_size=8), st.text(max_size=8))


NAMES = st.one_of(st.sampled_from(WORDS), st.text(min_size=1, max_size=6))
OWN = b"m" * 20


@given(
    st.dictionaries(NAMES, st.one_of(VALUES, st.just(OWN)), max_size=6),
    NAMES,
    st.integers(-1, 9),
)
def test_a_row_reads_back_as_written_whatever_its_names_ints_and_members(
    data: dict[str, EventValue], kind: str, index: int
) -> None:
    row = HistoryRow(OWN, 3, 4, "block" if index == -1 else "tx", index, make_event(kind, **data))
    assert decode_row(OWN, 3, 4, encode_row_event(row)) == row


def test_a_fill_row_is_written_in_a_third_of_its_first_bytes_and_those_still_read() -> None:
    fill = make_fill(OWN, 0, "buy", "alpha", 123_456, "ETH-PERP", 25, 3_012_340_000)
    row = HistoryRow(OWN, 3, 4, "tx", 7, fill)
    first_written = pack(["tx", 7, fill.to_fields()])
    assert len(encode_row_event(row)) * 3 < len(first_written)
    assert decode_row(OWN, 3, 4, first_written) == row
    other = replace(row, event=replace(fill, data=(("member", b"o" * 20),)))  # not the row's
    assert decode_row(OWN, 3, 4, encode_row_event(other)) == other


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ([7], "1 fields, not an index, a kind and pairs"),
        ([7, 0, 1], "3 fields"),
        ([7, len(WORDS), 1, 2], f"word {len(WORDS)} of {len(WORDS)}"),
        ([7, 0, 1, None], "value of 'instrument' is NoneType"),
        ([7, 0, 1, [5]], "value of 'instrument' is a list of 5"),
        ([-2, 0], "HistoryRow.index"),
    ],
)
def test_a_row_that_does_not_decode_says_why(fields: list[object], words: str) -> None:
    with pytest.raises(DecodeError, match=words):
        decode_row(OWN, 3, 4, pack(fields))


def test_a_row_whose_source_and_index_disagree_is_refused() -> None:
    with pytest.raises(ValueError, match="a 'tx' row at transaction index -1"):
        encode_row_event(HistoryRow(OWN, 3, 4, "tx", -1, make_event("kind")))


def test_pages_after_a_cursor_and_survive_reopening(tmp_path: Path) -> None:
    with NodeStore(tmp_path / "node.db") as store:
        for height in (1, 2, 3):
            save(store, height, block_history(height))
        first = store.read_history(ALICE.address, None, 3)
        assert [r.cursor for r in first] == [(1, 0), (1, 1), (2, 0)]
        rest = store.read_history(ALICE.address, first[-1].cursor, 10)
        assert [r.cursor for r in rest] == [(2, 1), (3, 0), (3, 1)]
        assert [r.cursor for r in store.read_history(BOB.address, (3, 2), 10)] == [(3, 3)]
    with NodeStore(tmp_path / "node.db") as reopened:
        assert reopened.history_height() == 3
        assert len(reopened.read_history(ALICE.address, None, 100)) == 6


def test_a_block_saved_without_history_leaves_it_to_the_catch_up(tmp_path: Path) -> None:
    with NodeStore(tmp_path / "node.db") as store:
        save(store, 1, None)
        save(store, 2, block_history(2))  # not written: block 1's history is missing
        assert store.history_height() == 0 and store.read_history(ALICE.address, None, 9) == []
        store.save_history([block_history(1), block_history(2)])
        store.save_history([block_history(1), block_history(2)])  # again: nothing doubles
        assert store.history_height() == 2
        assert len(store.read_history(ALICE.address, None, 100)) == 4


def test_a_failed_block_write_writes_no_history(tmp_path: Path) -> None:
    with NodeStore(tmp_path / "node.db") as store:
        save(store, 1, block_history(1))
        with pytest.raises(HeightGapError):
            save(store, 3, block_history(3))
        assert store.history_height() == 1
        assert [r.height for r in store.read_history(ALICE.address, None, 9)] == [1, 1]


def test_pruned_history_keeps_every_row_from_its_first_height(tmp_path: Path) -> None:
    with NodeStore(tmp_path / "node.db") as store:
        for height in range(1, 6):
            save(store, height, block_history(height))
        pruned = store.prune(1, 4, pinned=set())
        assert (pruned.history_rows, pruned.history_from) == (12, 4)
        assert store.history_first_height() == 4
        rows = store.read_history(ALICE.address, None, 100)
        assert [r.cursor for r in rows] == [(4, 0), (4, 1), (5, 0), (5, 1)]
        # never past the history written: the next block's rows are not pruned before
        assert store.prune(1, 99, pinned=set()).history_from == 6
        save(store, 6, block_history(6))
        assert len(store.read_history(BOB.address, (5, 3), 100)) == 2
