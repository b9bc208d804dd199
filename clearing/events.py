"""Events: what a transaction or an end-of-block step did, for members to audit.

An event is a kind plus sorted ``(name, value)`` pairs of ints, strings and
bytes, so it encodes deterministically. Every ``process_*`` returns the list
of events it emitted.
"""

from __future__ import annotations

from dataclasses import dataclass

from records.codec import DecodeError, encode_big_int, expect_big_int, expect_list, expect_str

EventValue = int | str | bytes


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    data: tuple[tuple[str, EventValue], ...]

    def get(self, name: str) -> EventValue:
        return dict(self.data)[name]

    def to_fields(self) -> list[object]:
        """``[kind, [[name, value] | [name, big-int bytes, BIG_INT_TAG]...]]``."""
        return [self.kind, [_encode_pair(name, value) for name, value in self.data]]

    @classmethod
    def from_fields(cls, obj: object) -> Event:
        kind, pairs = expect_list(obj, "Event", 2)
        return cls(
            expect_str(kind, "Event.kind"),
            tuple(_decode_pair(pair) for pair in expect_list(pairs, "Event.data")),
        )


BIG_INT_TAG = "big-int"  # a 3rd element marks an int beyond msgpack's range


def _encode_pair(name: str, value: EventValue) -> list[object]:
    if isinstance(value, int) and isinstance(big := encode_big_int(value), bytes):
        return [name, big, BIG_INT_TAG]
    return [name, value]


def _decode_pair(obj: object) -> tuple[str, EventValue]:
    pair = expect_list(obj, "Event.data")
    name = expect_str(pair[0] if pair else None, "Event.data")
    if len(pair) == 3 and pair[2] == BIG_INT_TAG:
        return name, expect_big_int(pair[1], name)
    value = expect_list(pair, "Event.data", 2)[1]
    if type(value) not in (int, str, bytes):
        raise DecodeError("Event.data", f"value of {name!r} is {type(value).__name__}")
    return name, value


def make_event(kind: str, /, **data: EventValue) -> Event:
    return Event(kind, tuple(sorted(data.items())))
