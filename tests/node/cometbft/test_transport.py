"""ABCI's socket framing: varint-delimited protobuf messages, however the bytes arrive."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lightclient.cometbft import encode_uvarint
from node.cometbft.transport import AbciFrameReader, decode_uvarint
from node.framing import FrameError, MessageTooLarge


@given(st.integers(min_value=0, max_value=2**63))
def test_a_varint_reads_back(value: int) -> None:
    encoded = encode_uvarint(value)
    assert decode_uvarint(encoded) == (value, len(encoded))
    assert decode_uvarint(encoded[:-1]) is None


@given(st.lists(st.binary(max_size=300), max_size=8), st.integers(min_value=1, max_value=50))
def test_frames_split_whatever_the_chunks(frames: list[bytes], chunk: int) -> None:
    stream = b"".join(encode_uvarint(len(f)) + f for f in frames)
    reader = AbciFrameReader(max_bytes=300)
    got = [f for i in range(0, len(stream), chunk) for f in reader.feed(stream[i : i + chunk])]
    assert got == frames and not reader.buffer


def test_an_oversized_or_endless_prefix_is_refused() -> None:
    with pytest.raises(MessageTooLarge) as large:
        AbciFrameReader(max_bytes=100).feed(encode_uvarint(101))
    assert (large.value.size, large.value.limit) == (101, 100)
    with pytest.raises(FrameError):
        AbciFrameReader(max_bytes=100).feed(b"\xff" * 10)
