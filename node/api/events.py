"""Fan-out of node events to Server-Sent-Events subscribers.

`publish` never blocks the node: each subscriber has a bounded buffer, and a
subscriber that falls `buffer` events behind is disconnected (it reconnects and
re-reads state) rather than slowing block processing for everyone.
Only public facts are published (heights, roots, result codes, tx hashes):
positions are private, so no member's account data goes on the stream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator

import trio

HEARTBEAT_S = 15.0


class EventBroker:
    def __init__(self, buffer: int = 256) -> None:
        self._buffer = buffer
        self._subscribers: set[trio.MemorySendChannel[tuple[str, str]]] = set()
        self._next_id = 0

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, kind: str, payload: dict[str, object]) -> None:
        self._next_id += 1
        data = json.dumps(payload, separators=(",", ":"))
        for channel in list(self._subscribers):
            try:
                channel.send_nowait((kind, f"{self._next_id}\n{data}"))
            except (trio.WouldBlock, trio.BrokenResourceError):
                self._subscribers.discard(channel)
                channel.close()

    def subscribe(self) -> trio.MemoryReceiveChannel[tuple[str, str]]:
        send, receive = trio.open_memory_channel[tuple[str, str]](self._buffer)
        self._subscribers.add(send)
        return receive

    async def stream(self) -> AsyncGenerator[bytes, None]:
        """SSE frames for one subscriber, with heartbeat comments while idle."""
        receive = self.subscribe()
        with receive:
            yield b": connected\n\n"
            while True:
                with trio.move_on_after(HEARTBEAT_S) as idle:
                    try:
                        kind, body = await receive.receive()
                    except trio.EndOfChannel:
                        return  # dropped as too slow
                if idle.cancelled_caught:
                    yield b": heartbeat\n\n"
                    continue
                event_id, data = body.split("\n", 1)
                yield f"id: {event_id}\nevent: {kind}\ndata: {data}\n\n".encode()
