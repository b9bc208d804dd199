"""Versioned msgpack wire form shared by bridge records: `[FORMAT_VERSION, fields...]`,
encoded and checked by the one codec (lightclient/codec.py)."""

from __future__ import annotations

from typing import Any

from lightclient.codec import DecodeError, expect_bytes, expect_int, expect_list, pack, unpack

FORMAT_VERSION = 1


def pack_record(fields: list[Any]) -> bytes:
    return pack([FORMAT_VERSION, *fields])


def unpack_record(data: bytes, what: str, count: int) -> list[Any]:
    """The `count` fields after the version; DecodeError on anything else."""
    fields = expect_list(unpack(data, what), what)
    if len(fields) != count + 1 or fields[0] != FORMAT_VERSION:
        raise DecodeError(what, f"want a version-{FORMAT_VERSION} list of {count} fields")
    return fields[1:]


def check_fields(fields: list[Any], what: str, byte_sizes: dict[int, int]) -> None:
    """Field i must be bytes of length byte_sizes[i] if listed there, else an int >= 0."""
    for index, value in enumerate(fields):
        want = byte_sizes.get(index)
        if want is None:
            expect_int(value, f"{what} field {index}")
        else:
            expect_bytes(value, f"{what} field {index}", want)
