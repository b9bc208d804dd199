"""Fan-out of node events to Server-Sent-Events subscribers, and the record of what may
go on which stream.

`STREAM_KINDS` declares every event kind once, with its audience and its exact fields:
`public` kinds go on `GET /v1/events`, which anyone can open, so they carry public facts
only (block headers and counts, prices: no member address, quantity, balance or trade,
and no transaction hash, which `GET /v1/txs/{hash}` would tie to a result); `member`
kinds go only to the member they are about (node/api/member_stream.py). Publishing a
kind that is not declared for the stream, or with other fields than declared, raises
`UndeclaredEvent` instead of sending anything: a new kind is public only by a line here.

`publish` never blocks the node: each subscriber has a bounded buffer, and a
subscriber that falls `buffer` events behind is disconnected (it reconnects and
re-reads state) rather than slowing block processing for everyone.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

import trio

HEARTBEAT_S = 15.0

Audience = Literal["public", "member"]


@dataclass(frozen=True)
class StreamKind:
    audience: Audience
    fields: tuple[str, ...]
    meaning: str


STREAM_KINDS: dict[str, StreamKind] = {
    "block": StreamKind(
        "public",
        ("height", "hash", "state_root", "time_ms", "txs", "rejected"),
        "a committed block's header facts: its hash and resulting state root, its time, "
        "how many transactions it holds and how many of them were refused",
    ),
    "prices": StreamKind(
        "public",
        ("height", "index", "mark", "time_ms"),
        "the committed index and mark prices, when a block changed them (as GET /v1/prices)",
    ),
    "governance": StreamKind(
        "public",
        ("height", "event"),
        "a governance step a block committed, as GET /v1/governance/events lists it: a "
        "proposal submitted, a ballot, a decision, an execution or its failure, a series "
        "a listing template listed, a validator jailed",
    ),
    "account_event": StreamKind(
        "member",
        ("height", "seq", "source", "index", "kind", "fields"),
        "one of the member's own history rows, as POST /v1/accounts/events answers it",
    ),
}


class UndeclaredEvent(Exception):
    """An event whose kind is not declared in STREAM_KINDS for `audience`, or whose fields
    are not the declared ones: nothing was sent."""

    def __init__(
        self, kind: str, audience: Audience, fields: tuple[str, ...], declared: StreamKind | None
    ) -> None:
        self.kind = kind
        self.audience = audience
        self.fields = fields
        self.declared = declared
        if declared is None or declared.audience != audience:
            why = f"is declared for {declared.audience}" if declared else "is not declared"
            message = f"event kind {kind!r} {why}, not for the {audience} stream"
        else:
            message = (
                f"event kind {kind!r} has fields {list(fields)}, declared {list(declared.fields)}"
            )
        super().__init__(message)


def check_declared(kind: str, audience: Audience, payload: dict[str, object]) -> None:
    declared = STREAM_KINDS.get(kind)
    fields = tuple(payload)
    if declared is None or declared.audience != audience or set(fields) != set(declared.fields):
        raise UndeclaredEvent(kind, audience, fields, declared)


def format_frame(event_id: str, kind: str, payload: dict[str, object]) -> bytes:
    data = json.dumps(payload, separators=(",", ":"))
    return f"id: {event_id}\nevent: {kind}\ndata: {data}\n\n".encode()


T = TypeVar("T")


async def relay(
    receive: trio.MemoryReceiveChannel[T], to_frame: Callable[[T], bytes | None]
) -> AsyncGenerator[bytes, None]:
    """SSE frames of what arrives on `receive` (`to_frame` None: skip it), with heartbeat
    comments while idle, until the broker closes the channel (the subscriber was too slow)."""
    while True:
        with trio.move_on_after(HEARTBEAT_S) as idle:
            try:
                item = await receive.receive()
            except trio.EndOfChannel:
                return
        if idle.cancelled_caught:
            yield b": heartbeat\n\n"
            continue
        frame = to_frame(item)
        if frame is not None:
            yield frame


class EventBroker:
    """The public stream: kinds declared `public` in STREAM_KINDS only."""

    def __init__(self, buffer: int = 256) -> None:
        self._buffer = buffer
        self._subscribers: set[trio.MemorySendChannel[bytes]] = set()
        self._next_id = 0

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, kind: str, payload: dict[str, object]) -> None:
        check_declared(kind, "public", payload)
        self._next_id += 1
        frame = format_frame(str(self._next_id), kind, payload)
        for channel in list(self._subscribers):
            try:
                channel.send_nowait(frame)
            except (trio.WouldBlock, trio.BrokenResourceError):
                self._subscribers.discard(channel)
                channel.close()

    def subscribe(self) -> trio.MemoryReceiveChannel[bytes]:
        send, receive = trio.open_memory_channel[bytes](self._buffer)
        self._subscribers.add(send)
        return receive

    async def stream(self) -> AsyncGenerator[bytes, None]:
        """SSE frames for one subscriber, with heartbeat comments while idle."""
        receive = self.subscribe()
        with receive:
            yield b": connected\n\n"
            async for frame in relay(receive, lambda frame: frame):
                yield frame
