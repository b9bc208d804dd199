import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearing.codec import encode_big_int, expect_big_int, pack, unpack
from clearing.errors import DecodeError


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
