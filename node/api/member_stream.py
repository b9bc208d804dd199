"""A member's own events, live: `POST /v1/accounts/stream` answers a Server-Sent-Events
stream of the member's history rows as each committed block adds them.

Why a signed POST and not `GET` with a token: the stream is authenticated exactly as
`POST /v1/accounts/events` is (`SignedQueries.check`: the member's EIP-712
signature, primary type `AccountStream`, issued within the freshness window), so there is
one verifier and no second credential. A subscription token would be a bearer secret the
node must mint, store and expire, and it would travel in a URL (EventSource cannot set
headers), where proxies and browser history keep it. A browser reads a POST's
text/event-stream with `fetch` and a stream reader (or a fetch-based EventSource such as
`@microsoft/fetch-event-source`); the wire format is plain SSE either way.

Replay: a read page is answered again to whoever replays its signed query within the
window, but a stream keeps delivering for as long as it is open, so a captured
subscription would be a feed of the member's future fills. Each signed subscription
therefore opens one stream only (`UsedSubscriptions`: the signed message is remembered
until it is stale anyway); a reconnect signs anew.

Resume without gap or duplicate: every frame's SSE `id` is the row's history cursor
`{"height":H,"seq":S}`; a reconnect sends it as `Last-Event-ID` or as `cursor` in the
body. The stream subscribes to live rows first, then reads the rows after the cursor from
the history store (node/history/: written with the block, before its rows are published),
then relays live rows, skipping any at or before the last cursor sent: a block committed
while the store is read is in both and is sent once.

Bounded: each subscriber buffers `buffer` rows; one that falls further behind is closed
after the rows it holds (so still without a gap) and resumes from its last id. Publishing
never waits for a subscriber.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Iterator
from contextlib import contextmanager

import trio

from clearing.transition.member_requests import ACCOUNT_EVENTS_FIELDS
from node.api.bodies import parse_json_object
from node.api.errors import ApiError
from node.api.events import check_declared, format_frame, relay
from node.api.http import Request, Response
from node.api.member_history import (
    PAGE_EVENTS,
    PRIVATE,
    check_history_held,
    get_row_view,
    parse_cursor,
    require_history,
)
from node.api.openapi import RouteDoc
from node.api.routes import RouteHandler
from node.api.signed_queries import SignedQueries
from node.storage import NodeStore
from node.storage.history_store import BlockHistory, HistoryRow

STREAM_BUFFER = 1024
"""Rows a member's subscriber may fall behind live blocks before it is closed."""
MAX_EVENT_ID_CHARS = 64
"""Longest `Last-Event-ID` read: a cursor `{"height":H,"seq":S}` of two int64s fits."""


class UsedSubscriptions:
    """Signed subscriptions already used, each kept until its `issuedAtMs` is outside the
    freshness window (from then on the freshness check refuses it)."""

    def __init__(self) -> None:
        self._expiry_ms: dict[tuple[bytes, int, int], int] = {}

    def use(self, message: tuple[bytes, int, int], now_ms: int, max_age_ms: int) -> None:
        """Remember `message` (member, fromHeight, issuedAtMs); refuse it if used before."""
        self._expiry_ms = {m: t for m, t in self._expiry_ms.items() if t >= now_ms}
        if message in self._expiry_ms:
            member, _, issued_ms = message
            raise ApiError(
                401,
                "ReplayedSubscription",
                f"this signed AccountStream (issuedAtMs {issued_ms}) has opened a stream "
                "already; sign a new one",
                member="0x" + member.hex(),
                issued_at_ms=issued_ms,
            )
        self._expiry_ms[message] = message[2] + max_age_ms


class MemberStreams:
    """Live history rows, fanned out to each member's own subscribers."""

    def __init__(self, store: NodeStore | None, buffer: int = STREAM_BUFFER) -> None:
        self.store = store
        self._buffer = buffer
        self._subscribers: dict[bytes, set[trio.MemorySendChannel[HistoryRow]]] = {}

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    def publish_history(self, history: BlockHistory) -> None:
        """A committed (and stored) block's rows, each to its member's subscribers."""
        for row in history.rows:
            for channel in list(self._subscribers.get(row.member, ())):
                try:
                    channel.send_nowait(row)
                except (trio.WouldBlock, trio.BrokenResourceError):
                    self._drop(row.member, channel)

    def _drop(self, member: bytes, channel: trio.MemorySendChannel[HistoryRow]) -> None:
        channel.close()
        subscribers = self._subscribers.get(member, set())
        subscribers.discard(channel)
        if not subscribers:
            self._subscribers.pop(member, None)

    @contextmanager
    def subscribe(self, member: bytes) -> Iterator[trio.MemoryReceiveChannel[HistoryRow]]:
        """A channel of `member`'s live rows inside the `with` (forgotten as it ends:
        a member's rows are rare, so a publish might not find it closed for a long time)."""
        send, receive = trio.open_memory_channel[HistoryRow](self._buffer)
        self._subscribers.setdefault(member, set()).add(send)
        try:
            with receive:
                yield receive
        finally:
            self._drop(member, send)

    async def stream(
        self, store: NodeStore, member: bytes, after: tuple[int, int]
    ) -> AsyncGenerator[bytes, None]:
        """SSE frames of `member`'s rows after cursor `after`: stored ones, then live."""
        # subscribed before the store is read: no block falls between the two
        with self.subscribe(member) as receive:
            yield b": connected\n\n"
            last = after
            while True:
                # off the event loop: consensus shares it
                page = await trio.to_thread.run_sync(store.read_history, member, last, PAGE_EVENTS)
                for row in page:
                    yield get_frame(row)
                    last = row.cursor
                if len(page) < PAGE_EVENTS:
                    break

            def to_frame(row: HistoryRow) -> bytes | None:
                nonlocal last
                if row.cursor <= last:
                    return None
                last = row.cursor
                return get_frame(row)

            async for frame in relay(receive, to_frame):
                yield frame


def get_frame(row: HistoryRow) -> bytes:
    view = get_row_view(row)
    check_declared("account_event", "member", view)
    cursor = json.dumps({"height": row.height, "seq": row.seq}, separators=(",", ":"))
    return format_frame(cursor, "account_event", view)


def parse_last_event_id(text: str | None) -> object:
    """The cursor a reconnecting client sends as `Last-Event-ID` (a frame's id), as JSON."""
    if text is None or text == "":
        return None
    if len(text) > MAX_EVENT_ID_CHARS:
        raise ApiError(
            400, "BadCursor", f"Last-Event-ID of {len(text)} characters is not a cursor",
            length=len(text), limit=MAX_EVENT_ID_CHARS,
        )  # fmt: skip
    try:
        return json.loads(text)
    except ValueError:
        raise ApiError(400, "BadCursor", f"Last-Event-ID {text!r} is not a cursor") from None


class MemberStreamRoutes:
    def __init__(self, queries: SignedQueries, streams: MemberStreams) -> None:
        self.queries = queries
        self.streams = streams
        self.used = UsedSubscriptions()

    def table(self) -> list[tuple[RouteDoc, RouteHandler]]:
        return [
            (RouteDoc("POST", "/v1/accounts/stream", "streamAccountEvents",
                      "Server-Sent Events of your own history as blocks commit (fills, "
                      "funding, fees, liquidations, auctions, deposits, withdrawals...), "
                      "resumed after `cursor` or Last-Event-ID (EIP-712 AccountStream signed "
                      "by the member; one stream per signature)", "AccountStreamQuery",
                      content_type="text/event-stream", errors=(400, 401, 410, 415, 503),
                      tier="member"), self.post_account_stream),
        ]  # fmt: skip

    async def post_account_stream(self, request: Request, _: dict[str, str]) -> Response:
        query = self.queries.check(request, "AccountStream", ACCOUNT_EVENTS_FIELDS)
        store = require_history(self.streams.store)
        body_cursor = parse_json_object(request.body).get("cursor")
        header_cursor = parse_last_event_id(request.headers.get("last-event-id"))
        after = parse_cursor(
            body_cursor if body_cursor is not None else header_cursor, query.middle
        )
        check_history_held(store, after)
        self.used.use(
            (query.member, query.middle, query.issued_ms),
            self.queries.clock_ms(),
            self.queries.max_age_ms,
        )
        return Response(
            200,
            content_type="text/event-stream",
            headers=PRIVATE,
            stream=lambda: self.streams.stream(store, query.member, after),
        )
