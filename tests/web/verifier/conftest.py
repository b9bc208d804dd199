"""A node serving the verifier page, for the suites that drive it in a browser."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

import pytest

from node.verifier.service import HEADERS, PAGE
from tests.node.apiserver import serve_handler
from tests.vectors.make_reports import REPORTS


class Node(BaseHTTPRequestHandler):
    """Serves `/verify` as a node does, the valid vector as the latest report and the
    vectors' genesis as its genesis."""

    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.requests.append(self.path)
        headers: tuple[tuple[str, str], ...] = ()
        if self.path.split("?")[0] == "/verify":  # a link may carry ?genesis=HEX
            body, headers = PAGE.read_bytes(), (*HEADERS, ("content-type", "text/html"))
        elif self.path == "/v1/reports/latest":
            report = (REPORTS / "valid" / "report.bin").read_bytes().hex()
            body = json.dumps({"epoch": 1, "report": report}).encode()
        elif self.path == "/v1/genesis":
            body = (REPORTS / "genesis.json").read_bytes()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def node_url() -> Iterator[str]:
    assert PAGE.exists(), f"{PAGE} is not built: run `make install`"
    with serve_handler(Node) as url:
        yield url
