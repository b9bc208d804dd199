"""Events: what a transaction or an end-of-block step did, for members to audit.

An event is a kind plus sorted ``(name, value)`` pairs of ints, strings and
bytes, so it encodes deterministically. Every ``process_*`` returns the list
of events it emitted.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearing.codec import expect_list, expect_str
from clearing.errors import DecodeError

EventValue = int | str | bytes


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    data: tuple[tuple[str, EventValue], ...]

    def get(self, name: str) -> EventValue:
        return dict(self.data)[name]

    def to_fields(self) -> list[object]:
        return [self.kind, [list(pair) for pair in self.data]]

    @classmethod
    def from_fields(cls, obj: object) -> Event:
        kind, pairs = expect_list(obj, "Event", 2)
        data = []
        for pair in expect_list(pairs, "Event.data"):
            name, value = expect_list(pair, "Event.data", 2)
            if not isinstance(value, int | str | bytes) or isinstance(value, bool):
                raise DecodeError("Event.data", f"value of {name!r} is {type(value).__name__}")
            data.append((expect_str(name, "Event.data"), value))
        return cls(expect_str(kind, "Event.kind"), tuple(data))


def make_event(kind: str, /, **data: EventValue) -> Event:
    return Event(kind, tuple(sorted(data.items())))
