"""Events: what a transaction or an end-of-block step did, for members to audit.

An event is a kind plus sorted ``(name, value)`` pairs of ints, strings and
bytes, so it encodes deterministically. Every ``process_*`` returns the list
of events it emitted.
"""

from __future__ import annotations

from dataclasses import dataclass

EventValue = int | str | bytes


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    data: tuple[tuple[str, EventValue], ...]

    def get(self, name: str) -> EventValue:
        return dict(self.data)[name]

    def to_fields(self) -> list[object]:
        return [self.kind, [list(pair) for pair in self.data]]


def make_event(kind: str, /, **data: EventValue) -> Event:
    return Event(kind, tuple(sorted(data.items())))
