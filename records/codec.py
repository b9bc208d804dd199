"""The one msgpack codec of our records, and its one error.

Every record is a msgpack list, most with a format version first; `pack` gives its
canonical bytes. Decoding never trusts the input: sizes are capped before unpacking,
maps and extension types are refused, and every field is type- and range-checked by an
`expect_*` helper, so bad bytes raise `DecodeError` naming the record and field that
failed with the numbers (expected and got, a size and its cap), never an arbitrary
exception. Clearing, consensus, the light client, the bridge, proofs and the node all
decode with this module: with records/declared.py it sits at the bottom of the import
graph, importing no package of ours.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

import msgpack

WIRE_VERSION = 1
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
"""Cap on one record `unpack` decodes unless told otherwise (a transaction, a gossip
message, a snapshot's part)."""
MAX_CONSENSUS_MESSAGE_BYTES = 64 * 1024 * 1024
"""Cap on one consensus record (a block, a proposal, a WAL record). Consensus caps only
whole messages: how large one transaction or one block may be is the application's rule
(its process_proposal)."""
MAX_LIST_LENGTH = 100_000
"""Cap on any list `unpack` decodes (a block holds at most 20,000 transactions)."""
MAX_VALIDATORS = 1_000
MAX_EVIDENCE_PER_BLOCK = 1_000
MAX_EVIDENCE_AGE_BLOCKS = 100
"""Evidence of an equivocation at height E may be committed up to height E + this, no
later: consensus verifies it against the set of height E, and a jailed validator can be
unjailed once its evidence is too old to jail it again (clearing/jailing.py)."""
MAX_CHAIN_ID_BYTES = 64
MAX_UINT64 = 2**64 - 1
MAX_INT64 = 2**63 - 1
MIN_INT64 = -(2**63)
MAX_TOTAL_POWER = MAX_INT64 // 8
"""CometBFT's MaxTotalVotingPower (2**60 - 1): it refuses a set with more (a validator
update past it halts a CometBFT chain), and it keeps proposer priorities in 64 bits."""
E = TypeVar("E", bound=StrEnum)


class DecodeError(ValueError):
    """Bytes that are not a well-formed `what` (a record, or one of its fields: `header.height`,
    `Trade.price`); `reason` says what was expected and what came, with the numbers."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"cannot decode {what}: {reason}")
        self.what = what
        self.reason = reason

    @property
    def code(self) -> str:
        """Stable result code, as clearing's errors have theirs (a subclass's too)."""
        return "DecodeError"


def pack(obj: object) -> bytes:
    """Canonical msgpack: lists only (no maps), bin for bytes, ints as ints."""
    return msgpack.packb(obj, use_bin_type=True)  # type: ignore[no-any-return]


def encode_big_int(value: int) -> int | bytes:
    """An int msgpack can hold stays an int; a larger one (a cumulative index
    after years) becomes sign byte (0 or 1) + minimal big-endian magnitude."""
    if MIN_INT64 <= value <= MAX_UINT64:
        return value
    magnitude = abs(value)
    return bytes([value < 0]) + magnitude.to_bytes((magnitude.bit_length() + 7) // 8, "big")


def expect_big_int(obj: object, what: str, lo: int | None = None) -> int:
    """Inverse of ``encode_big_int``, at least ``lo`` if given; rejects non-canonical
    forms."""
    if type(obj) is int:
        value = obj
    elif type(obj) is not bytes or len(obj) < 2 or obj[0] > 1 or obj[1] == 0:
        raise DecodeError(what, f"expected an integer, got {obj!r:.40}")
    else:
        value = int.from_bytes(obj[1:], "big") * (-1 if obj[0] else 1)
        if MIN_INT64 <= value <= MAX_UINT64:
            raise DecodeError(what, "a small integer must be encoded as an int")
    if lo is not None and value < lo:
        raise DecodeError(what, f"{value} is below {lo}")
    return value


def unpack(
    data: bytes,
    what: str,
    max_bytes: int | None = MAX_MESSAGE_BYTES,
    max_items: int | None = MAX_LIST_LENGTH,
) -> Any:
    """Decode ``data`` (at most ``max_bytes``, no maps or extensions at any depth, no
    list longer than ``max_items``). None for a cap: the input's own length (a state
    snapshot has no cap of its own), so that hostile bytes still cannot make the decoder
    allocate more than they hold."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(what, f"expected bytes, got {type(data).__name__}")
    max_bytes = len(data) if max_bytes is None else max_bytes
    if len(data) > max_bytes:
        raise DecodeError(what, f"{len(data)} bytes exceeds {max_bytes}")
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            max_map_len=0,
            max_array_len=len(data) if max_items is None else max_items,
            max_ext_len=0,
            max_bin_len=max_bytes,
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
        if isinstance(e, DecodeError):
            raise
        raise DecodeError(what, f"not msgpack: {e}") from None


# The checks below run per field of every trade: one type test (``type() is``,
# which also excludes bool from int) and one range test on the fast path.


def expect_list(
    obj: object, what: str, length: int | None = None, max_len: int = 1_000_000
) -> list[Any]:
    """A list of exactly ``length`` items if given, else of at most ``max_len``."""
    if type(obj) is list and (len(obj) == length if length is not None else len(obj) <= max_len):
        return obj
    if not isinstance(obj, list):
        raise DecodeError(what, f"expected a list, got {type(obj).__name__}")
    if length is not None:
        raise DecodeError(what, f"expected {length} fields, got {len(obj)}")
    raise DecodeError(what, f"{len(obj)} items exceeds cap {max_len}")


def expect_versioned(obj: object, what: str, length: int) -> list[Any]:
    """A list of `length` items whose first is the supported format version."""
    items = expect_list(obj, what, length)
    if items[0] != WIRE_VERSION or type(items[0]) is not int:
        raise DecodeError(what, f"unsupported version {items[0]!r}, expected {WIRE_VERSION}")
    return items


def expect_int(obj: object, what: str, lo: int = 0, hi: int = MAX_UINT64) -> int:
    if type(obj) is not int or not lo <= obj <= hi:
        if type(obj) is not int:
            raise DecodeError(what, f"expected an integer, got {type(obj).__name__}")
        raise DecodeError(what, f"{obj} outside [{lo}, {hi}]")
    return obj


def expect_bytes(
    obj: object, what: str, length: int | None = None, max_len: int = MAX_CONSENSUS_MESSAGE_BYTES
) -> bytes:
    """Bytes of exactly ``length`` if given, else of at most ``max_len``."""
    if type(obj) is bytes and (len(obj) == length if length is not None else len(obj) <= max_len):
        return obj
    if type(obj) is not bytes:
        raise DecodeError(what, f"expected bytes, got {type(obj).__name__}")
    if length is not None:
        raise DecodeError(what, f"expected {length} bytes, got {len(obj)}")
    raise DecodeError(what, f"{len(obj)} bytes exceeds cap {max_len}")


def expect_optional_bytes(obj: object, what: str, length: int) -> bytes | None:
    return None if obj is None else expect_bytes(obj, what, length)


MAX_NAME_CHARS = 64
"""The longest name (an id of a venue, an instrument, a bridge) a record holds."""
MAX_TEXT_CHARS = 256
"""The longest validator name or peer id."""


def expect_str(obj: object, what: str, max_length: int = MAX_NAME_CHARS) -> str:
    if type(obj) is not str or not 0 < len(obj) <= max_length:
        raise DecodeError(what, f"expected a string of 1..{max_length} chars, got {obj!r:.80}")
    return obj


def expect_text(obj: object, what: str, max_bytes: int) -> str:
    """A string of at most ``max_bytes`` UTF-8 bytes, empty allowed (a chain id as
    CometBFT bounds it, in bytes)."""
    if type(obj) is not str:
        raise DecodeError(what, f"expected a string, got {type(obj).__name__}")
    if len(obj.encode()) > max_bytes:
        raise DecodeError(what, f"{len(obj.encode())} bytes exceeds cap {max_bytes}")
    return obj


def expect_enum(kind: type[E], obj: object, what: str) -> E:
    try:
        return kind(expect_str(obj, what))
    except ValueError as e:
        if isinstance(e, DecodeError):
            raise
        raise DecodeError(what, f"{obj!r} is not one of {[m.value for m in kind]}") from None


def expect_bool(obj: object, what: str) -> bool:
    if type(obj) is not bool:
        raise DecodeError(what, f"expected a bool, got {type(obj).__name__}")
    return obj
