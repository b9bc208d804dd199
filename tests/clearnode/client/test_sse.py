"""Server-Sent Events read as the node writes them (node/api/events.py format_frame)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from clearnode.client.sse import ServerEvent, read_events


async def lines(*items: str) -> AsyncIterator[str]:
    for item in items:
        yield item


async def test_frames_become_events_with_their_id_kind_and_data() -> None:
    stream = lines(
        ": heartbeat", "",
        'id: {"height":4,"seq":0}', "event: account_event", 'data: {"kind":"fill"}', "",
        "event: block", 'data: {"height":5}', "",
        'data: {"partial"',  # cut off before its blank line: not an event
    )  # fmt: skip
    events = [event async for event in read_events(stream)]
    assert events == [
        ServerEvent('{"height":4,"seq":0}', "account_event", {"kind": "fill"}),
        ServerEvent('{"height":4,"seq":0}', "block", {"height": 5}),
    ]
