"""A small HTTP/1.1 server on trio + h11: requests in, responses (or streams) out.

h11 does the protocol (framing, keep-alive, chunked bodies) and nothing else, so the
server stays a page of code we can reason about: each connection is a task in the
server's nursery; a body larger than its route's limit (or the server's) is refused
with 413 before more of it is read; a client that stalls longer than `read_timeout_s`
is dropped: without an answer while its request's head is incomplete (there is no request
to answer yet), with 408 once the head arrived but its body did not (a `Content-Length`
larger than the body sent).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, urlsplit

import h11
import trio

from node.api.tiers import PUBLIC, Listener

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 16 * 1024
MAX_READ_BYTES = 64 * 1024
SERVER_NAME = b"clearnode"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    listener: Listener = PUBLIC
    """The listener it came in on (set by the app that serves it): what it may see."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    # when set, the body is streamed (chunked) from this iterator instead
    stream: Callable[[], AsyncGenerator[bytes, None]] | None = field(default=None, compare=False)


def json_response(status: int, payload: object) -> Response:
    return Response(status, json.dumps(payload, separators=(",", ":")).encode())


Handler = Callable[[Request], Awaitable[Response]]
BodyLimit = Callable[[str, str], int]
"""The most body bytes a request may carry, by its method and path (asked before its body)."""
ErrorResponder = Callable[[int, str, str, dict[str, object]], Response]
"""(status, type, message, details) → the response for a failure outside the handler."""


class BodyTooLarge(Exception):
    def __init__(self, method: str, path: str, limit: int, size: int | None) -> None:
        self.limit = limit
        self.size = size
        of = "" if size is None else f" of {size} bytes"
        super().__init__(f"request body{of} exceeds the {limit} bytes {method} {path} accepts")


class BodyTimeout(Exception):
    """A request's head arrived, but not all of its body within the read timeout."""

    def __init__(self, method: str, path: str, timeout_s: float, received: int) -> None:
        self.timeout_s = timeout_s
        self.received = received
        super().__init__(
            f"the body of {method} {path} did not arrive within {timeout_s:g} s "
            f"({received} bytes received)"
        )


class _Connection:
    def __init__(
        self, stream: trio.SocketStream, max_body_bytes: int, get_body_limit: BodyLimit | None
    ) -> None:
        self.stream = stream
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
        self.max_body_bytes = max_body_bytes
        self.get_body_limit = get_body_limit
        # the request whose body is being read, and how much of it came: for a 408
        self.reading = ("", "")
        self.body_received = 0

    async def next_event(self, max_read: int = MAX_READ_BYTES) -> h11.Event:
        """h11's next event, reading at most `max_read` bytes at a time to get it."""
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]
            data = await self.stream.receive_some(max_read)
            self.conn.receive_data(data)

    async def send(self, event: h11.Event) -> None:
        data = self.conn.send(event)
        if data:
            await self.stream.send_all(data)

    async def read_request(self) -> Request | None:
        """The next request, or None when the client closed the connection."""
        # No read of the head takes more than a head may hold: what it takes beyond the
        # head is body, read before the route's limit is known.
        event = await self.next_event(MAX_HEADER_BYTES)
        if isinstance(event, h11.ConnectionClosed):
            return None
        assert isinstance(event, h11.Request)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in event.headers}
        method = event.method.decode("ascii", "replace")
        target = urlsplit(event.target.decode("latin-1"))
        limit = self.max_body_bytes
        if self.get_body_limit is not None:
            limit = min(limit, self.get_body_limit(method, target.path))
        length = headers.get("content-length")  # h11 has checked it is digits
        if length is not None and int(length) > limit:
            raise BodyTooLarge(method, target.path, limit, int(length))
        chunks: list[bytes] = []
        size = 0
        self.reading, self.body_received = (method, target.path), 0
        while True:
            # A chunked body has no length to check first: read no more than would
            # take it one byte past its limit.
            part = await self.next_event(min(MAX_READ_BYTES, limit - size + 1))
            if isinstance(part, h11.EndOfMessage):
                break
            assert isinstance(part, h11.Data)
            size += len(part.data)
            self.body_received = size
            if size > limit:
                raise BodyTooLarge(method, target.path, limit, None)
            chunks.append(bytes(part.data))
        return Request(
            method=method,
            path=target.path,
            query=dict(parse_qsl(target.query)),
            headers=headers,
            body=b"".join(chunks),
        )

    def get_body_timeout(self, timeout_s: float) -> BodyTimeout:
        return BodyTimeout(*self.reading, timeout_s, self.body_received)

    async def respond(self, response: Response) -> None:
        headers: list[tuple[bytes, bytes]] = [
            (b"server", SERVER_NAME),
            (b"content-type", response.content_type.encode()),
            *((k.encode(), v.encode()) for k, v in response.headers),
        ]
        if response.stream is None:
            headers.append((b"content-length", str(len(response.body)).encode()))
            await self.send(h11.Response(status_code=response.status, headers=headers))
            await self.send(h11.Data(data=response.body))
        else:
            headers.append((b"cache-control", b"no-cache"))
            await self.send(h11.Response(status_code=response.status, headers=headers))
            async with aclosing(response.stream()) as chunks:
                async for chunk in chunks:
                    await self.send(h11.Data(data=chunk))
        await self.send(h11.EndOfMessage())


async def _serve_connection(
    stream: trio.SocketStream,
    handler: Handler,
    max_body_bytes: int,
    get_body_limit: BodyLimit | None,
    read_timeout_s: float,
    on_error: ErrorResponder,
) -> None:
    conn = _Connection(stream, max_body_bytes, get_body_limit)
    try:
        while True:
            with trio.move_on_after(read_timeout_s) as timer:
                request = await conn.read_request()
            if timer.cancelled_caught:
                if conn.conn.their_state is h11.SEND_BODY:
                    raise conn.get_body_timeout(read_timeout_s)
                return
            if request is None:
                return
            await conn.respond(await _answer(handler, request, on_error))
            if conn.conn.our_state is not h11.DONE:
                return
            conn.conn.start_next_cycle()
    except BodyTooLarge as exc:
        details: dict[str, object] = {"limit": exc.limit, "size": exc.size}
        await _refuse(conn, on_error(413, "BodyTooLarge", str(exc), details))
        await _drain_before_close(stream)
    except BodyTimeout as exc:
        timing: dict[str, object] = {"timeout_s": exc.timeout_s, "received": exc.received}
        await _refuse(conn, on_error(408, "RequestTimeout", str(exc), timing))
    except h11.RemoteProtocolError as exc:
        await _refuse(conn, on_error(exc.error_status_hint, "MalformedHttp", str(exc), {}))
        await _drain_before_close(stream)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass  # the client went away; nothing to answer
    finally:
        await trio.aclose_forcefully(stream)


async def _answer(handler: Handler, request: Request, on_error: ErrorResponder) -> Response:
    """The handler's response; a bug in it costs one 500, never the server."""
    try:
        return await handler(request)
    except Exception:  # the server boundary: log the bug, keep serving others
        log.exception("api handler failed", extra={"path": request.path})
        return on_error(500, "InternalError", "the node failed to handle this request", {})


async def _refuse(conn: _Connection, response: Response) -> None:
    """Answer a request we will not read further, then close."""
    if conn.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
        return
    closing = replace(response, headers=(*response.headers, ("connection", "close")))
    try:
        await conn.respond(closing)  # a client must not send its next request here
    except (h11.LocalProtocolError, trio.BrokenResourceError, trio.ClosedResourceError):
        pass


LINGER_S = 2.0
"""How long a refused client may go on sending before its connection is closed."""


async def _drain_before_close(stream: trio.SocketStream) -> None:
    """Read and drop what a refused client still sends, for at most `LINGER_S`.

    Closing a socket with unread bytes in it resets the connection, and a reset
    makes the client's kernel discard our answer before the client reads it: the
    client still writing its oversized body then sees "server disconnected"
    instead of the 413. Web servers' lingering close does the same."""
    with trio.move_on_after(LINGER_S):
        try:
            await stream.send_eof()
            while await stream.receive_some(MAX_HEADER_BYTES):
                pass
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass


async def serve_http(
    handler: Handler,
    host: str,
    port: int,
    *,
    max_body_bytes: int,
    on_error: ErrorResponder,
    get_body_limit: BodyLimit | None = None,
    read_timeout_s: float = 30.0,
    listeners: list[trio.SocketListener] | None = None,
    task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve on `host`:`port` (or on `listeners` already open: a Unix socket's) until
    cancelled. `task_status.started` gets the listeners (for the bound port).

    A body may be `max_body_bytes` long, or less where `get_body_limit` says so."""

    async def serve_one(stream: trio.SocketStream) -> None:
        await _serve_connection(
            stream, handler, max_body_bytes, get_body_limit, read_timeout_s, on_error
        )

    if listeners is None:
        listeners = await trio.open_tcp_listeners(port, host=host)
    await trio.serve_listeners(serve_one, listeners, task_status=task_status)


def get_bound_port(listeners: list[trio.SocketListener]) -> int:
    port: int = listeners[0].socket.getsockname()[1]
    return port
