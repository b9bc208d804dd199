"""Declared records: the methods a declaration gives, the errors they raise, and the
declarations refused at import. Each record kind's bytes are held by
tests/vectors/test_records.py."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Annotated, Any

import pytest

from records.codec import DecodeError, expect_int
from records.declared import (
    Address,
    Bytes,
    Checked,
    Choice,
    Declared,
    Inline,
    Int,
    Items,
    Name,
    Optional,
    RecordError,
    Uint256,
    declare_record,
)


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class Lifetime(IntEnum):
    DAY = 1
    IOC = 2


class Gapped(IntEnum):
    ONE = 1
    THREE = 3


def expect_even(obj: object, what: str) -> int:
    value = expect_int(obj, what)
    if value % 2:
        raise DecodeError(what, f"{value} is odd")
    return value


@declare_record
@dataclass(frozen=True, slots=True)
class Leg(Declared):
    side: Annotated[Side, Choice()]
    lots: Annotated[int, Int(1, 1_000)]
    lifetime: Annotated[Lifetime, Choice()] = Lifetime.DAY


@declare_record(head="order")
@dataclass(frozen=True, slots=True)
class Order(Declared):
    owner: Address
    venue: Name
    legs: Annotated[tuple[Leg, ...], Items(1, 2)]
    tags: Annotated[tuple[int, ...], Items(item=Int())]
    memo: Annotated[bytes | None, Optional(Bytes(max_length=4))]
    parent: Leg
    even: Annotated[int, Checked(expect_even, lambda v: v)]


ORDER = Order(bytes(20), "alpha", (Leg(Side.BUY, 3), Leg(Side.SELL, 1, Lifetime.IOC)), (7, 8),
              None, Leg(Side.SELL, 9), 4)  # fmt: skip
FIELDS = ["order", bytes(20), "alpha", [["buy", 3, 1], ["sell", 1, 2]], [7, 8], None,
          ["sell", 9, 1], 4]  # fmt: skip


def test_a_declared_record_writes_its_fields_and_reads_them_back() -> None:
    assert ORDER.to_fields() == FIELDS
    assert type(ORDER.legs[1].to_fields()[2]) is int  # a plain int, as msgpack reads it back
    assert Order.from_fields(FIELDS) == ORDER
    memo = [*FIELDS[:5], b"memo", *FIELDS[6:]]
    assert Order.from_fields(memo).memo == b"memo"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({0: "orders"}, "Order: 'orders' is not 'order'"),
        ({1: bytes(19)}, "owner: expected 20 bytes, got 19"),
        ({2: ""}, "venue: expected a string of 1..64 chars"),
        ({3: []}, "legs: 0 legs outside [1, 2]"),
        ({3: [["buy", 1, 1]] * 3}, "legs: 3 legs outside [1, 2]"),
        ({3: [["hold", 1, 1]]}, "side: 'hold' is not one of ['buy', 'sell']"),
        ({3: [["buy", 0, 1]]}, "lots: 0 outside [1, 1000]"),
        ({3: [["buy", 1, 3]]}, "lifetime: 3 outside [1, 2]"),
        ({3: [["buy", 1, "day"]]}, "lifetime: expected an integer, got str"),
        ({4: [-1]}, "tags: -1 outside [0, 18446744073709551615]"),
        ({5: b"longer"}, "memo: 6 bytes exceeds cap 4"),
        ({6: ["buy"]}, "Leg: expected 3 fields, got 1"),
        ({7: 3}, "even: 3 is odd"),
    ],
)
def test_each_field_is_checked_and_the_error_names_it(change: dict[int, Any], words: str) -> None:
    fields = [change.get(n, value) for n, value in enumerate(FIELDS)]
    with pytest.raises(DecodeError) as caught:
        Order.from_fields(fields)
    assert str(caught.value).startswith("cannot decode " + words)


def test_the_head_is_checked_before_the_length() -> None:
    with pytest.raises(DecodeError, match="Order: 'cancel' is not 'order'"):
        Order.from_fields(["cancel"])
    with pytest.raises(DecodeError, match="Order: expected 8 fields, got 1"):
        Order.from_fields(["order"])


@declare_record(head=(1, "settle"))
@dataclass(frozen=True, slots=True)
class Settlement(Declared):
    leg: Annotated[Leg, Inline()]
    amount: Uint256


def test_an_inline_record_is_its_parents_fields_a_uint256_its_32_bytes_heads_in_order() -> None:
    settlement = Settlement(Leg(Side.SELL, 9, Lifetime.IOC), 2**256 - 1)
    assert settlement.to_fields() == [1, "settle", "sell", 9, 2, b"\xff" * 32]
    assert Settlement.from_fields([1, "settle", "sell", 9, 2, b"\xff" * 32]) == settlement
    with pytest.raises(DecodeError, match=r"leg\.lots: 0 outside"):
        Settlement.from_fields([1, "settle", "sell", 0, 2, bytes(32)])
    with pytest.raises(DecodeError, match="amount: expected 32 bytes, got 8"):
        Settlement.from_fields([1, "settle", "sell", 1, 2, bytes(8)])
    with pytest.raises(DecodeError, match="Settlement: version 2 is not 1"):
        Settlement.from_fields([2, "pay"])
    with pytest.raises(DecodeError, match="Settlement: 'pay' is not 'settle'"):
        Settlement.from_fields([1, "pay"])


def test_an_inconsistent_declaration_is_refused_at_import() -> None:
    with pytest.raises(RecordError, match="price: declared str, but the wire kind is int"):

        @declare_record
        @dataclass(frozen=True)
        class WrongType(Declared):
            price: Annotated[str, Int()]

    with pytest.raises(RecordError, match="size: expected Annotated"):

        @declare_record
        @dataclass(frozen=True)
        class Undeclared(Declared):
            size: int

    with pytest.raises(RecordError, match="gap: Gapped's values are not consecutive"):

        @declare_record
        @dataclass(frozen=True)
        class WithGap(Declared):
            gap: Annotated[Gapped, Choice()]

    with pytest.raises(RecordError, match="inline: declared <class 'int'>, but inline is a"):

        @declare_record
        @dataclass(frozen=True)
        class InlineInt(Declared):
            inline: Annotated[int, Inline()]

    with pytest.raises(RecordError, match="apply @declare_record above @dataclass"):
        declare_record(Side)
