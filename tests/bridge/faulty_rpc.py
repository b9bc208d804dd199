"""A real HTTP JSON-RPC proxy before anvil that can hang, rate-limit, refuse wide log ranges
or lie (answer another result than anvil's for a method)."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FaultyRpc:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.rate_limited_requests = 0  # answer this many next requests with HTTP 429
        self.max_log_range: int | None = None
        self.lies: dict[str, Callable[[Any], Any]] = {}
        """Method -> what it answers instead of anvil's result (given that result), alone
        or in a batch."""
        self.released = threading.Event()
        self.released.set()  # cleared: every request hangs until set again
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                proxy.released.wait()
                status, answer = proxy.answer(json.loads(body), body)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up on a hung request: that is the point

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, request: Any, body: bytes) -> tuple[int, bytes]:
        if self.rate_limited_requests > 0:
            self.rate_limited_requests -= 1
            return 429, b'{"error": "rate limited"}'
        if (
            self.max_log_range is not None
            and isinstance(request, dict)
            and request.get("method") == "eth_getLogs"
        ):
            flt = request["params"][0]
            width = int(flt["toBlock"], 16) - int(flt["fromBlock"], 16) + 1
            if width > self.max_log_range:
                error = {"code": -32000, "message": f"block range {width} > {self.max_log_range}"}
                reply = {"jsonrpc": "2.0", "id": request["id"], "error": error}
                return 200, json.dumps(reply).encode()
        upstream = urllib.request.Request(
            self.upstream, data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(upstream, timeout=10) as response:
                answer = response.read()
        except OSError:  # anvil stopped under a pending request (test teardown)
            return 502, b"{}"
        if not self.lies:
            return 200, answer
        calls = request if isinstance(request, list) else [request]
        methods = {call.get("id"): str(call.get("method")) for call in calls}
        replies = json.loads(answer)
        for reply in replies if isinstance(replies, list) else [replies]:
            lie = self.lies.get(methods.get(reply.get("id"), ""))
            if lie is not None and "result" in reply:
                reply["result"] = lie(reply["result"])
        return 200, json.dumps(replies).encode()

    def __enter__(self) -> FaultyRpc:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
