"""The node's own HTTP layer (trio + h11, node/api/http.py) against a well-kept ASGI
stack on trio (Starlette on Hypercorn's trio worker), serving the same JSON route to
the same load, for the "less hand-written plumbing" decision. Starlette and Hypercorn
are not dependencies: without them the bench measures ours only and says so; with them
(`pip install --target DIR starlette hypercorn`, then `PYTHONPATH=.:DIR`) both.

Each server runs in its own process; the load is `--clients` keep-alive connections,
each sending `--requests` GETs one after another (raw HTTP/1.1, so the client's own
cost stays small and equal for both)."""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

import trio

PAYLOAD = {"height": 123456, "chainId": "clearnode-bench", "peers": 3, "ok": True}
REQUEST = b"GET /v1/status HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n"

OURS = """
import json, sys, trio
from node.api.http import json_response, serve_http
PAYLOAD = json.loads(sys.argv[1])
async def handler(request):
    if request.path == "/v1/status":
        return json_response(200, PAYLOAD)
    return json_response(404, {"error": "NotFound"})
def on_error(status, kind, message, details):
    return json_response(status, {"error": kind, "message": message})
async def main():
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(lambda task_status: serve_http(
            handler, "127.0.0.1", 0, max_body_bytes=4096, on_error=on_error,
            task_status=task_status))
        print(listeners[0].socket.getsockname()[1], flush=True)
trio.run(main)
"""

STARLETTE = """
import json, socket, sys, trio
from hypercorn.config import Config
from hypercorn.trio import serve
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
PAYLOAD = json.loads(sys.argv[1])
async def status(request):
    return JSONResponse(PAYLOAD)
app = Starlette(routes=[Route("/v1/status", status)])
sock = socket.socket(); sock.bind(("127.0.0.1", 0)); port = sock.getsockname()[1]; sock.close()
config = Config(); config.bind = [f"127.0.0.1:{port}"]; config.accesslog = None
config.errorlog = None
print(port, flush=True)
trio.run(serve, app, config)
"""


def start_server(source: str) -> tuple[subprocess.Popen[bytes], int]:
    process = subprocess.Popen(
        [sys.executable, "-c", source, json.dumps(PAYLOAD)], stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    return process, int(process.stdout.readline())


async def wait_until_listening(port: int) -> None:
    with trio.fail_after(20):
        while True:
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", port)
            except OSError:
                await trio.sleep(0.05)
                continue
            await stream.aclose()
            return


async def read_response(stream: trio.SocketStream, pending: bytearray) -> None:
    """Reads one response (headers with content-length, then the body) off `stream`."""
    while b"\r\n\r\n" not in pending:
        pending += await stream.receive_some(65536)
    head, _, _ = bytes(pending).partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    total = len(head) + 4 + length
    while len(pending) < total:
        pending += await stream.receive_some(65536)
    del pending[:total]


async def load(port: int, clients: int, requests: int) -> tuple[list[float], float]:
    latencies: list[float] = []

    async def client() -> None:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        pending = bytearray()
        async with stream:
            for _ in range(requests):
                start = time.perf_counter()
                await stream.send_all(REQUEST)
                await read_response(stream, pending)
                latencies.append(time.perf_counter() - start)

    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(clients):
            nursery.start_soon(client)
    return latencies, time.perf_counter() - started


def measure(source: str, clients: int, requests: int) -> dict[str, float]:
    process, port = start_server(source)
    try:
        trio.run(wait_until_listening, port)
        trio.run(load, port, 2, 50)  # warm-up
        latencies, elapsed = trio.run(load, port, clients, requests)
    finally:
        process.kill()
        process.wait()
    ordered = sorted(latencies)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
        "requests_per_s": round(len(ordered) / elapsed),
    }


def has_asgi_stack() -> bool:
    try:
        import hypercorn.trio  # noqa: F401
        import starlette  # noqa: F401
    except ImportError:
        return False
    return True


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench http_stack")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {"clients": args.clients, "requests_each": args.requests}
    figures.update({f"ours_{k}": v for k, v in measure(OURS, args.clients, args.requests).items()})
    if not has_asgi_stack():
        return {**figures, "starlette_hypercorn": "not installed"}
    asgi = measure(STARLETTE, args.clients, args.requests)
    figures.update({f"starlette_hypercorn_{k}": v for k, v in asgi.items()})
    return figures
