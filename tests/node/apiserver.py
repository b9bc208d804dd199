"""A node's HTTP API app served on a free loopback port for a test block."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import trio

from node.api.app import ApiApp, serve_api
from node.api.http import get_bound_port


@asynccontextmanager
async def serve_app(app: ApiApp, max_body_bytes: int = 4096) -> AsyncIterator[httpx.AsyncClient]:
    """Serve `app` until the block ends; yields a client whose base URL is the server."""
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            lambda task_status: serve_api(
                app, "127.0.0.1", 0, max_body_bytes=max_body_bytes, task_status=task_status
            )
        )
        base = f"http://127.0.0.1:{get_bound_port(listeners)}"
        async with httpx.AsyncClient(base_url=base) as client:
            yield client
        nursery.cancel_scope.cancel()
