"""The HTTP server under a slow client (slowloris): a request whose headers take longer
than `read_timeout_s` to arrive is dropped, and other clients are served meanwhile; a
chunked body past its limit is refused before much more of it is read."""

from __future__ import annotations

import httpx
import trio
import trio.testing

from node.api.http import (
    MAX_HEADER_BYTES,
    Request,
    Response,
    _serve_connection,
    get_bound_port,
    json_response,
    serve_http,
)

READ_TIMEOUT_S = 1.0


async def answer(request: Request) -> Response:
    return json_response(200, {"path": request.path})


def refuse(status: int, kind: str, message: str, details: dict[str, object]) -> Response:
    return json_response(status, {"error": kind, "message": message})


async def trickle(port: int, seconds: float) -> bytes:
    """Send a request's headers a byte at a time for `seconds`; return what came back
    (b"" when the server closed the connection without an answer)."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    header = b"GET /slow HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 200
    try:
        with trio.move_on_after(seconds):
            for byte in header:
                await stream.send_all(bytes([byte]))
                await trio.sleep(seconds / len(header))
        return await stream.receive_some(4096)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return b""
    finally:
        await stream.aclose()


async def test_a_slow_client_is_dropped_and_others_are_served() -> None:
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            lambda task_status: serve_http(
                answer,
                "127.0.0.1",
                0,
                max_body_bytes=1 << 16,
                on_error=refuse,
                read_timeout_s=READ_TIMEOUT_S,
                task_status=task_status,
            )
        )
        port = get_bound_port(listeners)
        replies: list[bytes] = []

        async def slow() -> None:
            replies.append(await trickle(port, 4 * READ_TIMEOUT_S))

        nursery.start_soon(slow)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(3):  # served while the slow client holds its connection
                response = await client.get("/fast")
                assert response.status_code == 200 and response.json() == {"path": "/fast"}
                await trio.sleep(READ_TIMEOUT_S / 2)
        while not replies:
            await trio.sleep(0.05)
        assert replies == [b""]  # dropped without an answer, its headers never complete
        nursery.cancel_scope.cancel()


async def test_a_client_slow_but_within_the_timeout_is_answered() -> None:
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            lambda task_status: serve_http(
                answer,
                "127.0.0.1",
                0,
                max_body_bytes=1 << 16,
                on_error=refuse,
                read_timeout_s=READ_TIMEOUT_S,
                task_status=task_status,
            )
        )
        stream = await trio.open_tcp_stream("127.0.0.1", get_bound_port(listeners))
        for byte in b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n":
            await stream.send_all(bytes([byte]))
            await trio.sleep(READ_TIMEOUT_S / 200)
        assert (await stream.receive_some(4096)).startswith(b"HTTP/1.1 200")
        await stream.aclose()
        nursery.cancel_scope.cancel()


class CountingStream(trio.abc.Stream):
    """A stream that counts the bytes the server took from it before it answered."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.received = 0
        self.received_before_answer: int | None = None

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        data = await self.inner.receive_some(max_bytes)
        self.received += len(data)
        return data

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self.received_before_answer is None:
            self.received_before_answer = self.received
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        return None

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_chunked_body_past_its_limit_is_refused_having_read_little_more() -> None:
    limit = 4096
    client, server = trio.testing.memory_stream_pair()
    counting = CountingStream(server)
    head = b"POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"400\r\n" + b"x" * 1024 + b"\r\n"
    await client.send_all(head + chunk * 256)  # 256 KiB queued at once, no length to check
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                _serve_connection, counting, answer, limit, None, READ_TIMEOUT_S, refuse
            )
            answered = await client.receive_some(4096)
            await client.aclose()  # the server's lingering close ends with the client's
    assert answered.startswith(b"HTTP/1.1 413 "), answered
    # the head's read may take body too (at most MAX_HEADER_BYTES); the body's reads stop
    # one byte past the limit (and the chunk framing read with it)
    assert counting.received_before_answer is not None
    assert counting.received_before_answer <= MAX_HEADER_BYTES + limit + 2 * len(chunk)


async def test_a_body_shorter_than_its_content_length_is_answered_408() -> None:
    client, server = trio.testing.memory_stream_pair()
    head = b"POST /short HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
    await client.send_all(head + b"x" * 40)  # 60 bytes short, and nothing more comes
    with trio.fail_after(5 * READ_TIMEOUT_S):
        await _serve_connection(server, answer, 1 << 16, None, READ_TIMEOUT_S, refuse)
    answered = await client.receive_some(4096)
    assert answered.startswith(b"HTTP/1.1 408 "), answered
    body = answered.split(b"\r\n\r\n", 1)[1]
    assert b"RequestTimeout" in body and b"40 bytes received" in body, body
    assert b"connection: close" in answered.lower()
