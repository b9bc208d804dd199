"""Versioned msgpack wire form shared by bridge records: `[FORMAT_VERSION, fields...]`."""

from __future__ import annotations

from typing import Any

import msgpack

FORMAT_VERSION = 1


class BridgeDecodeError(Exception):
    """Bytes that are not a well-formed record of the expected kind."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"{what}: {reason}")
        self.what, self.reason = what, reason


def pack_record(fields: list[Any]) -> bytes:
    packed: bytes = msgpack.packb([FORMAT_VERSION, *fields], use_bin_type=True)
    return packed


def unpack_record(data: bytes, what: str, count: int) -> list[Any]:
    """The `count` fields after the version; BridgeDecodeError on anything else."""
    try:
        fields = msgpack.unpackb(data, raw=False)
    except (ValueError, TypeError, msgpack.ExtraData) as exc:
        raise BridgeDecodeError(what, f"not msgpack: {exc}") from None
    if not isinstance(fields, list) or len(fields) != count + 1 or fields[0] != FORMAT_VERSION:
        raise BridgeDecodeError(what, f"want a version-{FORMAT_VERSION} list of {count} fields")
    return fields[1:]


def check_fields(fields: list[Any], what: str, byte_sizes: dict[int, int]) -> None:
    """Field i must be bytes of length byte_sizes[i] if listed there, else an int >= 0."""
    for index, value in enumerate(fields):
        want = byte_sizes.get(index)
        if want is None and (type(value) is not int or value < 0):
            raise BridgeDecodeError(what, f"field {index} is not an int >= 0")
        if want is not None and (not isinstance(value, bytes) or len(value) != want):
            raise BridgeDecodeError(what, f"field {index} is not {want} bytes")
