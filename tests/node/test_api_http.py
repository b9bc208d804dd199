"""The HTTP server under a slow client (slowloris): a request whose headers take longer
than `read_timeout_s` to arrive is dropped, and other clients are served meanwhile."""

from __future__ import annotations

import httpx
import trio

from node.api.http import Request, Response, get_bound_port, json_response, serve_http

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
