"""A member's own events: every event of the last `window` committed blocks that names it,
kept in memory by the API from the commit listener and read with the member's signature.

End-of-block events (margin calls, conversions of collateral, settlements of negative
cash, auctions, assessments, liquidations) are in no transaction's result, so
GET /v1/txs/{hash} cannot show them; this is where a member reads them. An event names
a member in its `member` or `counterparty` field; each member reads its own side only
(`get_own_event`). Nothing here is persisted: after a
restart, or `window` blocks later, an event is no longer served (a durable history is
the privacy issue's store, not this window).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from clearing.block import BlockResult
from clearing.default.house import HOUSE
from clearing.events import Event
from node.api.txs import get_event_view

PARTIES = (("member", "sub_account"), ("counterparty", "counterparty_sub_account"))
"""The event fields that name a party to what happened, with its sub-account (a
`recipient` or a `token` is an address too, but not of a member the event is about)."""
PAGE_EVENTS = 500
"""Events per answer, at most, unless one block alone has more (a block is never split)."""


@dataclass(frozen=True)
class MemberEvent:
    height: int
    source: str  # "tx" (a transaction's result) or "block" (end-of-block and epoch steps)
    index: int  # the transaction's index in its block; -1 for end-of-block events
    event: Event


@dataclass(frozen=True)
class EventsPage:
    events: list[MemberEvent]
    next_height: int | None  # where the next page starts; None when this one reached the tip


def get_named_members(event: Event) -> set[bytes]:
    names = {name for name, _ in PARTIES}
    return {v for k, v in event.data if k in names and isinstance(v, bytes) and v}


def get_own_event(event: Event, member: bytes) -> Event:
    """`event` as `member` may read it: without the other party's address and sub-account,
    unless that party is the clearing house. A member learns what happened to its own
    account, not whose account was on the other side (the defaulter does not learn who
    was deleveraged or assessed, the backstop whose lots it took)."""
    data = dict(event.data)
    hidden: set[str] = set()
    for address, sub_account in PARTIES:
        other = data.get(address)
        if isinstance(other, bytes) and other not in (member, HOUSE[0]):
            hidden |= {address, sub_account}
    return Event(event.kind, tuple((k, v) for k, v in event.data if k not in hidden))


class RecentMemberEvents:
    """Index member → its events over the last `window` recorded blocks, oldest first.

    Invariant: every indexed event belongs to a block still in `_blocks`.
    """

    def __init__(self, window: int) -> None:
        self.window = window
        self._blocks: deque[tuple[int, set[bytes]]] = deque()
        self._by_member: dict[bytes, deque[MemberEvent]] = {}

    @property
    def heights(self) -> tuple[int, int] | None:
        """(oldest, latest) height kept, or None before the first block."""
        return (self._blocks[0][0], self._blocks[-1][0]) if self._blocks else None

    def record_block(self, result: BlockResult) -> None:
        found = [
            *(MemberEvent(result.height, "tx", i, e)
              for i, r in enumerate(result.tx_results) for e in r.events),
            *(MemberEvent(result.height, "block", -1, e) for e in result.events),
        ]  # fmt: skip
        named: set[bytes] = set()
        for item in found:
            for member in get_named_members(item.event):
                own = MemberEvent(item.height, item.source, item.index,
                                  get_own_event(item.event, member))  # fmt: skip
                self._by_member.setdefault(member, deque()).append(own)
                named.add(member)
        self._blocks.append((result.height, named))
        while len(self._blocks) > self.window:
            height, members = self._blocks.popleft()
            for member in members:
                kept = self._by_member[member]
                while kept and kept[0].height == height:
                    kept.popleft()
                if not kept:
                    del self._by_member[member]

    def get_page(self, member: bytes, from_height: int, limit: int = PAGE_EVENTS) -> EventsPage:
        """The member's events at `from_height` and above, whole blocks, up to `limit`."""
        events: list[MemberEvent] = []
        for item in self._by_member.get(member, ()):
            if item.height < from_height:
                continue
            if len(events) >= limit and item.height != events[-1].height:
                return EventsPage(events, item.height)
            events.append(item)
        return EventsPage(events, None)


def get_member_event_view(item: MemberEvent) -> dict[str, object]:
    return {"height": item.height, "source": item.source, "index": item.index,
            **get_event_view(item.event)}  # fmt: skip
