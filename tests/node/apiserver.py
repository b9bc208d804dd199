"""A node's HTTP API app, or a stand-in handler, served on a free loopback port for a test
block."""

from __future__ import annotations

import queue
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import trio

from node.api.http import get_bound_port
from node.api.server import ApiApp, serve_api
from node.api.tiers import PUBLIC, Listener
from node.keys import generate_operator_token

OPERATOR_TOKEN = generate_operator_token()
"""The token the operator listeners `serve_app` serves require."""


@asynccontextmanager
async def serve_app(
    app: ApiApp, max_body_bytes: int = 4096, listener: Listener = PUBLIC
) -> AsyncIterator[httpx.AsyncClient]:
    """Serve `app` on `listener` until the block ends; yields a client whose base URL is
    the server (on the operator listener, carrying its token: `OPERATOR_TOKEN`)."""
    token = OPERATOR_TOKEN if listener.is_operator else None
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            lambda task_status: serve_api(
                app,
                "127.0.0.1",
                0,
                max_body_bytes=max_body_bytes,
                listener=listener,
                token=token,
                task_status=task_status,
            )
        )
        base = f"http://127.0.0.1:{get_bound_port(listeners)}"
        headers = {} if token is None else {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base, headers=headers) as client:
            yield client
        nursery.cancel_scope.cancel()


@contextmanager
def serve_app_in_thread(app: ApiApp, max_body_bytes: int) -> Iterator[str]:
    """Serve `app` on its own trio loop in a thread, for a blocking client (schemathesis);
    yields the base URL. The server must still be running when the block ends."""
    started: queue.Queue[tuple[str, trio.CancelScope, trio.lowlevel.TrioToken]] = queue.Queue()

    async def serve() -> None:
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(
                lambda task_status: serve_api(
                    app, "127.0.0.1", 0, max_body_bytes=max_body_bytes, task_status=task_status
                )
            )
            url = f"http://127.0.0.1:{get_bound_port(listeners)}"
            started.put((url, nursery.cancel_scope, trio.lowlevel.current_trio_token()))

    thread = threading.Thread(target=trio.run, args=(serve,), daemon=True)
    thread.start()
    url, scope, token = started.get(timeout=60)
    try:
        yield url
        assert thread.is_alive(), "the server's loop ended"
    finally:
        trio.from_thread.run_sync(scope.cancel, trio_token=token)
        thread.join(timeout=30)


@contextmanager
def serve_handler(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve a stand-in node's `handler` (the stdlib's) in a thread; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
