from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lightclient.header import BlockHeader
from records.codec import (
    MAX_CHAIN_ID_BYTES,
    MAX_INT64,
    MAX_LIST_LENGTH,
    DecodeError,
    encode_big_int,
    expect_big_int,
    expect_bytes,
    expect_int,
    expect_list,
    expect_str,
    expect_text,
    expect_versioned,
    pack,
    unpack,
)


@given(st.integers(-(2**300), 2**300))
def test_big_ints_round_trip_through_msgpack(value: int) -> None:
    assert expect_big_int(unpack(pack(encode_big_int(value)), "x"), "x") == value


def test_small_ints_stay_plain_ints() -> None:
    assert encode_big_int(2**64 - 1) == 2**64 - 1
    assert encode_big_int(-(2**63)) == -(2**63)
    assert encode_big_int(2**64) == b"\x00\x01" + bytes(8)
    assert encode_big_int(-(2**63) - 1) == b"\x01\x80" + bytes(6) + b"\x01"


@pytest.mark.parametrize(
    "obj", [b"\x00\x05", b"\x02\x01" + bytes(9), b"\x00\x00\x01" + bytes(8), "1", b""]
)
def test_non_canonical_big_ints_are_rejected(obj: object) -> None:
    with pytest.raises(DecodeError):
        expect_big_int(obj, "x")


@pytest.mark.parametrize("obj", [-1, encode_big_int(-(2**70))])
def test_a_big_int_below_its_floor_is_rejected_with_both_numbers(obj: object) -> None:
    assert expect_big_int(encode_big_int(2**70), "paid", 0) == 2**70
    with pytest.raises(DecodeError, match=r"paid: -\d+ is below 0"):
        expect_big_int(obj, "paid", 0)


def test_a_decode_error_names_the_record_and_carries_the_numbers() -> None:
    with pytest.raises(DecodeError) as caught:
        expect_bytes(b"\x01" * 31, "Trade.venue_key", 32)
    assert str(caught.value) == "cannot decode Trade.venue_key: expected 32 bytes, got 31"
    assert (caught.value.what, caught.value.reason) == (
        "Trade.venue_key",
        "expected 32 bytes, got 31",
    )
    assert caught.value.code == "DecodeError" and isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("check", "words"),
    [
        (lambda: expect_list([1, 2], "vote", 3), "vote: expected 3 fields, got 2"),
        (lambda: expect_list(b"", "vote"), "vote: expected a list, got bytes"),
        (lambda: expect_list([0] * 4, "set", max_len=3), "set: 4 items exceeds cap 3"),
        (lambda: expect_int(True, "height"), "height: expected an integer, got bool"),
        (lambda: expect_int(2**63, "height", 1, MAX_INT64),
         f"height: {2**63} outside [1, {MAX_INT64}]"),
        (lambda: expect_bytes(b"abcd", "root", max_len=3), "root: 4 bytes exceeds cap 3"),
        (lambda: expect_str("", "venue_id"),
         "venue_id: expected a string of 1..64 chars, got ''"),
        (lambda: expect_text("é" * 33, "chain_id", 64), "chain_id: 66 bytes exceeds cap 64"),
        (lambda: expect_versioned([2, 0], "message", 2),
         "message: unsupported version 2, expected 1"),
        (lambda: unpack(b"\x81\x01\x02", "message"), "message: not msgpack: "),
        (lambda: unpack(bytes(9), "vote", 8), "vote: 9 bytes exceeds 8"),
    ],
)  # fmt: skip
def test_every_check_fails_with_the_one_error_in_its_words(
    check: Callable[[], object], words: str
) -> None:
    with pytest.raises(DecodeError) as caught:
        check()
    assert str(caught.value).startswith("cannot decode " + words)


def test_a_chain_id_may_be_empty_where_a_clearing_string_may_not() -> None:
    assert expect_text("", "header.chain_id", MAX_CHAIN_ID_BYTES) == ""
    with pytest.raises(DecodeError):
        expect_str("", "venue_id")
    fields = BlockHeader("", 1, 0, bytes(32), b"", bytes(32), bytes(32)).to_fields()
    assert BlockHeader.from_fields(fields).chain_id == ""
    with pytest.raises(DecodeError, match="chain_id: 66 bytes exceeds cap 64"):
        BlockHeader.from_fields([*fields[:1], "é" * 33, *fields[2:]])  # 33 chars, in bytes


def test_a_record_with_no_cap_of_its_own_is_bounded_by_its_length() -> None:
    """A snapshot outgrows the message caps; without them its own length still bounds
    every list and string inside, and maps stay refused."""
    many = list(range(MAX_LIST_LENGTH + 1))
    with pytest.raises(DecodeError, match="exceeds max_array_len"):
        unpack(pack(many), "message")
    assert unpack(pack(many), "snapshot", max_bytes=None, max_items=None) == many
    claims_more = b"\xdd\x00\x01\x00\x00" + b"\x01" * 10  # a list of 65,536 in 15 bytes
    with pytest.raises(DecodeError, match="snapshot: not msgpack: 65536 exceeds max_array_len"):
        unpack(claims_more, "snapshot", max_bytes=None, max_items=None)
    with pytest.raises(DecodeError, match="snapshot: not msgpack"):
        unpack(b"\x81\x01\x02", "snapshot", max_bytes=None, max_items=None)
