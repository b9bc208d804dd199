"""Versioned msgpack wire format with validating decoders.

Every record is encoded as a msgpack list whose first element is a format
version. Decoding never trusts the input: sizes are capped before unpacking and
every field is type- and range-checked, so bad bytes raise `ConsensusDecodeError` (with
the field that failed) and never an arbitrary exception.
"""

from __future__ import annotations

from typing import Any

import msgpack

WIRE_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""Cap on one decoded record. Consensus caps only whole messages: how large one
transaction or one block may be is the application's rule (its process_proposal)."""
MAX_VALIDATORS = 1_000
MAX_EVIDENCE_PER_BLOCK = 1_000
MAX_EVIDENCE_AGE_BLOCKS = 100
"""Evidence of an equivocation at height E may be committed up to height E + this, no
later: consensus verifies it against the set of height E, and a jailed validator can be
unjailed once its evidence is too old to jail it again (clearing/jailing.py)."""
MAX_CHAIN_ID_BYTES = 64
MAX_INT = 2**63 - 1


class ConsensusDecodeError(ValueError):
    """Bytes that do not decode to a well-formed record; `field` names what failed."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"cannot decode {field}: {reason}")
        self.field = field
        self.reason = reason


def pack(obj: object) -> bytes:
    """Canonical bytes: msgpack with bin type for bytes, no maps in our records."""
    return msgpack.packb(obj, use_bin_type=True)  # type: ignore[no-any-return]


def unpack(data: bytes, field: str, max_bytes: int = MAX_MESSAGE_BYTES) -> Any:
    """Unpack bytes, refusing oversized input, trailing data and non-msgpack."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ConsensusDecodeError(field, f"expected bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise ConsensusDecodeError(field, f"{len(data)} bytes exceeds cap {max_bytes}")
    try:
        return msgpack.unpackb(
            data, raw=False, strict_map_key=True, use_list=True, max_bin_len=max_bytes
        )
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise ConsensusDecodeError(field, f"not msgpack ({exc})") from exc


def expect_list(
    obj: Any, field: str, length: int | None = None, max_len: int = 1_000_000
) -> list[Any]:
    if not isinstance(obj, list):
        raise ConsensusDecodeError(field, f"expected list, got {type(obj).__name__}")
    if length is not None and len(obj) != length:
        raise ConsensusDecodeError(field, f"expected {length} elements, got {len(obj)}")
    if len(obj) > max_len:
        raise ConsensusDecodeError(field, f"{len(obj)} elements exceeds cap {max_len}")
    return obj


def expect_versioned(obj: Any, field: str, length: int) -> list[Any]:
    """A list of `length` elements whose first is the supported format version."""
    items = expect_list(obj, field, length)
    if items[0] != WIRE_VERSION or type(items[0]) is not int:
        raise ConsensusDecodeError(
            field, f"unsupported version {items[0]!r}, expected {WIRE_VERSION}"
        )
    return items


def expect_int(obj: Any, field: str, lo: int = 0, hi: int = MAX_INT) -> int:
    if type(obj) is not int:
        raise ConsensusDecodeError(field, f"expected int, got {type(obj).__name__}")
    if not lo <= obj <= hi:
        raise ConsensusDecodeError(field, f"{obj} outside [{lo}, {hi}]")
    return obj


def expect_bytes(
    obj: Any, field: str, size: int | None = None, max_len: int = MAX_MESSAGE_BYTES
) -> bytes:
    if not isinstance(obj, bytes):
        raise ConsensusDecodeError(field, f"expected bytes, got {type(obj).__name__}")
    if size is not None and len(obj) != size:
        raise ConsensusDecodeError(field, f"expected {size} bytes, got {len(obj)}")
    if len(obj) > max_len:
        raise ConsensusDecodeError(field, f"{len(obj)} bytes exceeds cap {max_len}")
    return obj


def expect_optional_bytes(obj: Any, field: str, size: int) -> bytes | None:
    return None if obj is None else expect_bytes(obj, field, size)


def expect_str(obj: Any, field: str, max_len: int) -> str:
    if not isinstance(obj, str):
        raise ConsensusDecodeError(field, f"expected str, got {type(obj).__name__}")
    if len(obj.encode()) > max_len:
        raise ConsensusDecodeError(field, f"{len(obj.encode())} bytes exceeds cap {max_len}")
    return obj


def expect_bool(obj: Any, field: str) -> bool:
    if not isinstance(obj, bool):
        raise ConsensusDecodeError(field, f"expected bool, got {type(obj).__name__}")
    return obj
