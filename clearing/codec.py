"""Strict msgpack decoding helpers: every malformed input is a ``DecodeError``.

Wire formats are msgpack lists whose first element is a format version. These
helpers check type and size of each field so record ``from_fields`` methods
stay one line per field.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

import msgpack

from clearing.errors import DecodeError
from clearing.units import MAX_UINT64

MAX_MESSAGE_BYTES = 8 * 1024 * 1024
MAX_LIST_LENGTH = 100_000
E = TypeVar("E", bound=StrEnum)


def pack(obj: object) -> bytes:
    """Canonical msgpack: lists only (no maps), bin for bytes, ints as ints."""
    return msgpack.packb(obj, use_bin_type=True)  # type: ignore[no-any-return]


MSGPACK_INT_MIN = -(2**63)


def encode_big_int(value: int) -> int | bytes:
    """An int msgpack can hold stays an int; a larger one (a cumulative index
    after years) becomes sign byte (0 or 1) + minimal big-endian magnitude."""
    if MSGPACK_INT_MIN <= value <= MAX_UINT64:
        return value
    magnitude = abs(value)
    return bytes([value < 0]) + magnitude.to_bytes((magnitude.bit_length() + 7) // 8, "big")


def expect_big_int(obj: object, what: str) -> int:
    """Inverse of ``encode_big_int``; rejects non-canonical forms."""
    if type(obj) is int:
        return obj
    if type(obj) is not bytes or len(obj) < 2 or obj[0] > 1 or obj[1] == 0:
        raise DecodeError(what, f"expected an integer, got {obj!r:.40}")
    value = int.from_bytes(obj[1:], "big") * (-1 if obj[0] else 1)
    if MSGPACK_INT_MIN <= value <= MAX_UINT64:
        raise DecodeError(what, "a small integer must be encoded as an int")
    return value


def unpack(data: bytes, what: str) -> Any:
    """Decode ``data`` (bounded in size, no maps allowed at any depth)."""
    if not isinstance(data, bytes | bytearray):
        raise DecodeError(what, f"expected bytes, got {type(data).__name__}")
    if len(data) > MAX_MESSAGE_BYTES:
        raise DecodeError(what, f"{len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            max_map_len=0,
            max_array_len=MAX_LIST_LENGTH,
            max_ext_len=0,
        )
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as e:
        raise DecodeError(what, f"not msgpack: {e}") from None


def unpack_head(data: bytes, count: int, what: str) -> list[Any]:
    """The first `count` items of the msgpack array `data`, decoded alone: the rest is
    not read (a 4 MiB transaction's kind costs microseconds, not its full decoding)."""
    unpacker = msgpack.Unpacker(
        raw=False, max_buffer_size=max(len(data), 1), max_map_len=0, max_ext_len=0
    )
    unpacker.feed(data)
    try:
        length = unpacker.read_array_header()
        if length < count:
            raise DecodeError(what, f"expected at least {count} items, got {length}")
        return [unpacker.unpack() for _ in range(count)]
    except (ValueError, TypeError, msgpack.OutOfData, msgpack.FormatError, msgpack.StackError) as e:
        raise DecodeError(what, f"not msgpack: {e}") from None


def expect_list(obj: object, what: str, length: int | None = None) -> list[Any]:
    if type(obj) is not list or (length is not None and len(obj) != length):
        if not isinstance(obj, list):
            raise DecodeError(what, f"expected a list, got {type(obj).__name__}")
        raise DecodeError(what, f"expected {length} fields, got {len(obj)}")
    return obj


# The checks below run per field of every trade: one type test (``type() is``,
# which also excludes bool from int) and one range test on the fast path.


def expect_int(obj: object, what: str, lo: int = 0, hi: int = MAX_UINT64) -> int:
    if type(obj) is not int or not lo <= obj <= hi:
        if type(obj) is not int:
            raise DecodeError(what, f"expected an integer, got {type(obj).__name__}")
        raise DecodeError(what, f"{obj} outside [{lo}, {hi}]")
    return obj


def expect_bytes(obj: object, what: str, length: int) -> bytes:
    if type(obj) is not bytes or len(obj) != length:
        if type(obj) is not bytes:
            raise DecodeError(what, f"expected bytes, got {type(obj).__name__}")
        raise DecodeError(what, f"expected {length} bytes, got {len(obj)}")
    return obj


def expect_str(obj: object, what: str, max_length: int = 64) -> str:
    if type(obj) is not str or not 0 < len(obj) <= max_length:
        raise DecodeError(what, f"expected a string of 1..{max_length} chars, got {obj!r:.80}")
    return obj


def expect_enum(kind: type[E], obj: object, what: str) -> E:
    try:
        return kind(expect_str(obj, what))
    except ValueError:
        raise DecodeError(what, f"{obj!r} is not one of {[m.value for m in kind]}") from None


def expect_bool(obj: object, what: str) -> bool:
    if type(obj) is not bool:
        raise DecodeError(what, f"expected a bool, got {type(obj).__name__}")
    return obj
