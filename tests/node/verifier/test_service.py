"""`GET /verify` on the public listener: the built page with its Content-Security-Policy,
or, unbuilt, a 503 that says how to build it; `GET /v1/genesis` and the status's trust
section; the real API over HTTP on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devnet.sandbox import Sandbox
from node.api.node_interface import LocalNode
from node.api.server import ApiApp
from node.mempool import Mempool
from node.startup.service_list import SERVICE_KINDS
from node.storage import NodeStore
from node.txcheck import make_clearing_check
from node.verifier.service import (
    CONTENT_SECURITY_POLICY,
    GenesisFile,
    VerifierPage,
    VerifierService,
)
from tests.clearing.support import genesis_doc
from tests.lightclient.support import get_powers, make_anchor
from tests.node.apiserver import serve_app
from tests.node.reports.support import store_chain_to_anchor


def _app(page: VerifierPage) -> ApiApp:
    box = Sandbox.from_genesis_doc(genesis_doc())
    pool = Mempool(make_clearing_check(lambda: box.state), max_tx_bytes=32 * 1024)
    app = ApiApp(LocalNode(box.chain_id, "verify", pool, lambda: box.state))
    app.add_routes(page.routes())
    return app


async def test_every_node_serves_the_page_with_a_strict_policy(tmp_path: Path) -> None:
    built = tmp_path / "verify.html"
    built.write_text("<!doctype html><title>verify</title>")
    async with serve_app(_app(VerifierPage(built))) as client:
        answer = await client.get("/verify")
        spec = (await client.get("/openapi.json")).json()
    assert answer.status_code == 200
    assert answer.text == built.read_text()
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert policy == CONTENT_SECURITY_POLICY
    directives = dict(d.strip().partition(" ")[::2] for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'unsafe-inline' 'wasm-unsafe-eval'"  # its own code only
    # fetches: this node, and the chain RPCs a visitor types (public reads of the vaults)
    assert directives["connect-src"] == "'self' http: https:"
    assert all("http" not in v for k, v in directives.items() if k != "connect-src")
    assert "/verify" in spec["paths"]
    assert VerifierService in SERVICE_KINDS


async def test_an_unbuilt_page_is_a_503_that_says_to_run_make_install(tmp_path: Path) -> None:
    async with serve_app(_app(VerifierPage(tmp_path / "missing.html"))) as client:
        answer = await client.get("/verify")
    assert answer.status_code == 503
    error = answer.json()["error"]
    assert error["type"] == "VerifierNotBuilt" and "make install" in error["message"]


async def test_the_genesis_is_served_byte_for_byte_and_its_hash_and_a_checkpoint_in_status(
    tmp_path: Path,
) -> None:
    """What a verifier pins: the genesis file as the node read it (its SHA-256 the hash
    the network publishes), and the latest block as a checkpoint to walk from."""
    data = (json.dumps(genesis_doc(), indent=3) + "\n").encode()  # any formatting: its bytes
    store = NodeStore(tmp_path / "node.sqlite3")
    genesis = GenesisFile(data, store, "clearnode")
    app = _app(VerifierPage(tmp_path / "missing.html"))
    app.add_routes(genesis.routes())
    assert genesis.get_trust_view() == {"genesis_hash": "0x" + hashlib.sha256(data).hexdigest()}
    keys = [Ed25519PrivateKey.from_private_bytes(bytes([0x10 + i]) * 32) for i in range(4)]
    anchor = make_anchor(4242, 6, bytes(32), keys)
    store_chain_to_anchor(store, anchor)
    async with serve_app(app) as client:
        answer = await client.get("/v1/genesis")
        spec = (await client.get("/openapi.json")).json()
    assert answer.status_code == 200 and answer.content == data
    assert "/v1/genesis" in spec["paths"]
    header = anchor.header
    assert genesis.get_trust_view()["checkpoint"] == (
        f"7:{header.time_ms}:0x{header.validators_hash.hex()}"
    )
    assert header.validators_hash == get_powers(keys).hash
    # blocks whose certificate is not stored yet (a CometBFT block's signed header comes
    # once the next block is stored and fetched): the newest certified one is given
    for height in (8, 9, 10):
        store.save_block(height, b"block", b"", bytes(32))
    assert genesis.get_trust_view()["checkpoint"] == (
        f"7:{header.time_ms}:0x{header.validators_hash.hex()}"
    )
