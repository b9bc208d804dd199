"""`clearnode verify --node URL --genesis-hash HEX`: the genesis fetched from a node's
`GET /v1/genesis` and pinned by the hash the network publishes; a node serving another
genesis, or none, leaves the check unmade (exit 3), and a fetch unpinned is refused."""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

import pytest

from proofs.report_check import EXIT_NOT_CHECKED, EXIT_USAGE, EXIT_VALID
from tests.node.apiserver import serve_handler
from tests.node.reports.support import run_verify
from tests.vectors.make_reports import NOW_MS, REPORTS

GENESIS = (REPORTS / "genesis.json").read_bytes()
PUBLISHED = hashlib.sha256(GENESIS).hexdigest()
REPORT = str(REPORTS / "valid" / "report.bin")


class Node(BaseHTTPRequestHandler):
    """Serves `genesis` at /v1/genesis, as a node serves its genesis file."""

    genesis: ClassVar[bytes] = GENESIS

    def do_GET(self) -> None:
        if self.path != "/v1/genesis":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("content-length", str(len(self.genesis)))
        self.end_headers()
        self.wfile.write(self.genesis)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def node_url() -> Iterator[str]:
    with serve_handler(Node) as url:
        yield url
    Node.genesis = GENESIS


def _verify(*argv: str) -> tuple[int, str, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code, out = run_verify([REPORT, "--now", str(NOW_MS), *argv])
    return code, out, err.getvalue()


def test_the_genesis_fetched_from_a_node_is_pinned_by_its_hash(node_url: str) -> None:
    code, out, _ = _verify("--node", node_url, "--genesis-hash", "0x" + PUBLISHED)
    assert code == EXIT_VALID, out
    assert out.splitlines()[:2] == [
        "VERDICT: VALID",
        f"genesis 0x{PUBLISHED} (fetched from {node_url}, as --genesis-hash pins)",
    ]
    Node.genesis = GENESIS.replace(b'"chain_id": 4242', b'"chain_id": 4243')
    code, out, _ = _verify("--node", node_url, "--genesis-hash", PUBLISHED)
    assert code == EXIT_NOT_CHECKED
    forged = hashlib.sha256(Node.genesis).hexdigest()
    assert out == (
        f"VERDICT: NOT CHECKED (the genesis asked for could not be had: {node_url} serves "
        f"genesis 0x{forged}, not 0x{PUBLISHED} as --genesis-hash says)\n"
    )


def test_a_fetch_unpinned_or_unanswered_is_not_a_verdict(node_url: str) -> None:
    code, _, err = _verify("--node", node_url)
    assert code == EXIT_USAGE
    assert "a genesis fetched from a node needs --genesis-hash HEX" in err
    code, _, err = _verify("--genesis-hash", PUBLISHED)
    assert code == EXIT_USAGE and "--genesis-hash pins the genesis of --genesis FILE" in err
    code, out, _ = _verify("--node", node_url + "/nowhere", "--genesis-hash", PUBLISHED)
    assert code == EXIT_NOT_CHECKED
    assert f"{node_url}/nowhere/v1/genesis answered HTTP 404" in out
