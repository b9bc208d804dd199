"""Frames survive any split of the byte stream; truncation and oversize are typed errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.framing import FrameError, FrameReader, MessageTooLarge, encode_frame


def reader_over(data: bytes, cuts: list[int]) -> FrameReader:
    """A reader whose stream delivers `data` in pieces ending at `cuts`, ignoring n."""
    pieces = []
    start = 0
    for cut in [*sorted({c % (len(data) + 1) for c in cuts}), len(data)]:
        if cut > start:
            pieces.append(data[start:cut])
            start = cut
    pieces.reverse()

    async def read(n: int) -> bytes:
        return pieces.pop() if pieces else b""

    return FrameReader(read)


@given(st.lists(st.binary(max_size=300), max_size=8), st.lists(st.integers(0, 5000), max_size=20))
async def test_frames_round_trip_across_any_chunking(
    payloads: list[bytes], cuts: list[int]
) -> None:
    reader = reader_over(b"".join(encode_frame(p, 300) for p in payloads), cuts)
    got = []
    while (frame := await reader.read_frame(300)) is not None:
        got.append(frame)
    assert got == payloads


async def test_oversized_frame_is_refused_from_its_header() -> None:
    reader = reader_over(encode_frame(b"x" * 101, 200), [])
    with pytest.raises(MessageTooLarge) as err:
        await reader.read_frame(100)
    assert (err.value.size, err.value.limit) == (101, 100)


def test_oversized_payload_is_never_encoded() -> None:
    with pytest.raises(MessageTooLarge):
        encode_frame(b"x" * 11, 10)


async def test_stream_ending_inside_a_frame_is_a_frame_error() -> None:
    reader = reader_over(encode_frame(b"abcdef", 10)[:-2], [])
    with pytest.raises(FrameError) as err:
        await reader.read_frame(10)
    assert (err.value.received, err.value.expected) == (4, 6)
    with pytest.raises(FrameError):
        await reader_over(b"\x00\x00", []).read_frame(10)
