"""The HTTP API over real sockets on 127.0.0.1, a real mempool and a real ledger state.

Every hostile input must get a typed JSON error and leave the mempool unchanged.
"""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
import trio

from clearing.default.house import HOUSE
from clearing.eip712 import compute_signable, sign_typed
from clearing.replay_protection import MAX_ISSUED_AHEAD_MS
from clearing.risk.engine import get_account_initial_margin
from clearing.transition.member_requests import ACCOUNT_QUERY_FIELDS, MEMBER_REQUESTS
from clearing.transition.trade import Trade, sign_trade_batch
from clearing.transition.tx import encode_tx
from clearnode.client.sandbox_keys import derive_ed25519_key, derive_member_key
from consensus.types import Block, BlockHeader, compute_txs_hash
from devnet.sandbox import Sandbox
from node.api.blocks import get_block_view
from node.api.node_interface import LocalNode
from node.api.server import ApiApp
from node.api.tiers import OPERATOR
from node.keys import load_operator_token
from node.limits import MAX_API_BODY_BYTES, MAX_JSON_REQUEST_BYTES
from node.mempool import Mempool
from node.metrics import NodeMetrics
from node.storage import NodeStore
from node.txcheck import make_clearing_check
from tests.clearing.default.test_steps import give
from tests.clearing.support import only_result
from tests.node.apiserver import serve_app
from tests.node.hostile import HOSTILE_POSTS

ROOT = Path(__file__).resolve().parents[2]
GENESIS = json.loads((ROOT / "configs" / "genesis.example.json").read_text())
VENUE_KEY = derive_ed25519_key("venue-alpha")
ALICE, BOB = derive_member_key("alice"), derive_member_key("bob")
NOW_MS = 1_800_000_000_000
MAX_BODY = 64 * 1024
USDC = (31337, bytes.fromhex("00000000000000000000000000000000000000a1"))


@dataclass
class Harness:
    box: Sandbox
    pool: Mempool
    app: ApiApp
    client: httpx.AsyncClient
    port: int
    store: NodeStore


def make_app(tmp_path: Path) -> tuple[Sandbox, Mempool, NodeStore, ApiApp]:
    """The API over a real mempool, ledger state and store (one block saved)."""
    box = Sandbox.from_genesis_doc(copy.deepcopy(GENESIS))
    pool = Mempool(make_clearing_check(lambda: box.state), max_tx_bytes=32 * 1024)
    store = NodeStore(tmp_path / "node.sqlite3")
    store.save_block(1, block_one(box).encode(), b"cert-one", b"\x11" * 32)
    metrics = NodeMetrics("test-node")
    node = LocalNode(box.chain_id, "test-node", pool, lambda: box.state, store, metrics=metrics)
    return box, pool, store, ApiApp(node, metrics=metrics, clock_ms=lambda: NOW_MS)


def block_one(box: Sandbox) -> Block:
    """A block with a trade batch between Alice and Bob and a credit to Alice."""
    txs = (trade_batch(box), encode_tx(box.credit(ALICE.address, USDC, 5_000)))
    header = BlockHeader(
        "test", 1, NOW_MS, bytes(32), bytes(32), compute_txs_hash(txs), b"\x07" * 32
    )
    return Block(header, txs, None)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Harness]:
    box, pool, store, app = make_app(tmp_path)
    async with serve_app(app, MAX_BODY) as client:
        yield Harness(box, pool, app, client, client.base_url.port, store)
    store.close()


def trade_batch(box: Sandbox, batch_id: int = 1, chain_id: int | None = None) -> bytes:
    trade = Trade(batch_id, "BTC-PERP", ALICE.address, 0, BOB.address, 0, 60_000_000, 1)
    chain = box.chain_id if chain_id is None else chain_id
    return encode_tx(
        sign_trade_batch(VENUE_KEY, chain, "alpha", batch_id, (trade,), *box.get_times())
    )


def member_request(box: Sandbox, chain_id: int | None = None, **overrides: Any) -> dict[str, Any]:
    record = replace(box.authorise(ALICE, "alpha"), **overrides)
    if chain_id is not None:
        record = replace(record, signature=sign_typed(ALICE.private_key, record.signable(chain_id)))
    return {
        "type": "AuthoriseVenue",
        "chainId": box.chain_id if chain_id is None else chain_id,
        "message": record.get_message(),
        "signature": "0x" + record.signature.hex(),
    }


def account_query(
    box: Sandbox, issued_ms: int = NOW_MS, signer: bytes | None = None
) -> dict[str, Any]:
    message = {"member": "0x" + ALICE.address.hex(), "subAccount": 0, "issuedAtMs": issued_ms}
    signable = compute_signable(box.chain_id, "AccountQuery", ACCOUNT_QUERY_FIELDS, message)
    signature = sign_typed(signer or ALICE.private_key, signable)
    return {"chainId": box.chain_id, "message": message, "signature": "0x" + signature.hex()}


def error_type(response: httpx.Response) -> str:
    body = response.json()
    assert set(body["error"]) == {"type", "message", "details"}
    return str(body["error"]["type"])


async def test_trade_batch_accepted_as_json_and_msgpack(api: Harness) -> None:
    raw = trade_batch(api.box)
    response = await api.client.post("/v1/trade-batches", json={"tx": "0x" + raw.hex()})
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    other = trade_batch(api.box, batch_id=2)
    response = await api.client.post(
        "/v1/trade-batches", content=other, headers={"content-type": "application/msgpack"}
    )
    assert response.status_code == 202
    assert api.pool.reap(1 << 20) == [raw, other]


async def test_member_request_resubmitted_while_pending_answers_its_hash(api: Harness) -> None:
    body = member_request(api.box)
    response = await api.client.post("/v1/member-requests", json=body)
    assert response.status_code == 202, response.text
    again = await api.client.post("/v1/member-requests", json=body)
    assert again.status_code == 202, again.text  # idempotent: the same pending tx
    assert again.json()["tx_hash"] == response.json()["tx_hash"]
    assert len(api.pool) == 1


async def test_applied_request_replayed_after_commit_is_refused(api: Harness) -> None:
    body = member_request(api.box)
    await api.client.post("/v1/member-requests", json=body)
    (tx,) = api.pool.reap(1 << 20)
    api.box.apply([tx])
    api.pool.update([tx])
    again = await api.client.post("/v1/member-requests", json=body)
    assert (again.status_code, error_type(again)) == (409, "NonceReused")
    assert again.json()["error"]["details"]["nonce"] == body["message"]["nonce"]
    assert len(api.pool) == 0


@pytest.mark.parametrize(
    ("path", "body", "ctype", "status", "kind"),
    HOSTILE_POSTS,
    # by position: some bodies carry a wall-clock expiry, and every xdist worker must
    # collect the same test ids
    ids=[f"{n}-{path}-{kind}" for n, (path, *_, kind) in enumerate(HOSTILE_POSTS)],
)
async def test_garbage_bodies_get_typed_errors(
    api: Harness, path: str, body: bytes, ctype: str, status: int, kind: str
) -> None:
    response = await api.client.post(path, content=body, headers={"content-type": ctype})
    assert (response.status_code, error_type(response)) == (status, kind), response.text
    assert len(api.pool) == 0


async def test_a_deeply_nested_body_leaves_the_server_answering(api: Harness) -> None:
    deep = b'{"type":' * 450 + b"0" + b"}" * 450  # within the JSON routes' 4 KiB cap
    for path in ("/v1/member-requests", "/v1/accounts/query"):
        response = await api.client.post(
            path, content=deep, headers={"content-type": "application/json"}
        )
        assert (response.status_code, error_type(response)) == (400, "MalformedJson")
        assert response.json()["error"]["details"] == {"depth": 450, "limit": 16}
    assert (await api.client.get("/v1/status")).status_code == 200


@pytest.mark.parametrize(
    ("height", "status", "kind"),
    [
        ("9223372036854775808", 400, "InvalidField"),  # one past SQLite's largest integer
        ("99999999999999999999", 400, "InvalidField"),
        ("-1", 400, "InvalidField"),
        ("\u0661", 400, "InvalidField"),  # a digit to str.isdigit, not to SQLite
        ("9223372036854775807", 404, "UnknownBlock"),
    ],
)
async def test_block_heights_out_of_range_are_refused(
    api: Harness, height: str, status: int, kind: str
) -> None:
    response = await api.client.get(f"/v1/blocks/{height}")
    assert (response.status_code, error_type(response)) == (status, kind), response.text


async def test_signed_request_hostile_variants(api: Harness) -> None:
    box = api.box
    cases = [
        (member_request(box, chain_id=box.chain_id + 1), 400, "WrongChainId"),
        ({**member_request(box), "chainId": "4242"}, 400, "WrongChainId"),
        ({**member_request(box), "signature": "0x" + "00" * 65}, 401, "BadSignature"),
        (member_request(box, nonce=77), 401, "BadSignature"),  # signed nonce differs
        ({**member_request(box), "message": {"member": "0x12"}}, 400, "InvalidField"),
        ({**member_request(box), "extra": 1, "message": {"x": 1}}, 400, "UnknownField"),
    ]
    signed_elsewhere = member_request(box, chain_id=box.chain_id + 1)
    signed_elsewhere["chainId"] = box.chain_id
    cases.append((signed_elsewhere, 401, "BadSignature"))
    for body, status, kind in cases:
        response = await api.client.post("/v1/member-requests", json=body)
        assert (response.status_code, error_type(response)) == (status, kind), body
    wrong_chain_batch = trade_batch(box, chain_id=box.chain_id + 1)
    response = await api.client.post(
        "/v1/trade-batches", json={"tx": "0x" + wrong_chain_batch.hex()}
    )
    assert (response.status_code, error_type(response)) == (401, "BadSignature")
    wrong_kind = encode_tx(box.authorise(BOB, "alpha"))
    response = await api.client.post("/v1/trade-batches", json={"tx": "0x" + wrong_kind.hex()})
    assert (response.status_code, error_type(response)) == (400, "WrongTxKind")
    assert len(api.pool) == 0


async def test_oversized_body_refused_before_reading(api: Harness) -> None:
    response = await api.client.post("/v1/trade-batches", content=b"x" * (MAX_BODY + 1))
    assert (response.status_code, error_type(response)) == (413, "BodyTooLarge")
    big_tx = {"tx": "0x" + "00" * (40 * 1024)}
    response = await api.client.post("/v1/trade-batches", json=big_tx)
    assert response.status_code in (400, 413)
    assert len(api.pool) == 0


async def test_each_route_caps_its_body_naming_the_limit(api: Harness) -> None:
    over = b" " * (MAX_JSON_REQUEST_BYTES + 1)
    for path in ("/v1/member-requests", "/v1/accounts/query", "/v1/status"):
        response = await api.client.post(path, content=over)
        assert (response.status_code, error_type(response)) == (413, "BodyTooLarge"), path
        error = response.json()["error"]
        assert error["details"] == {"limit": MAX_JSON_REQUEST_BYTES, "size": len(over)}
        assert f"exceeds the {MAX_JSON_REQUEST_BYTES} bytes POST {path} accepts" in error["message"]

    async def chunked() -> AsyncIterator[bytes]:  # no content-length: counted as it comes
        for _ in range(3):
            yield b" " * (MAX_JSON_REQUEST_BYTES // 2)

    response = await api.client.post("/v1/member-requests", content=chunked())
    assert (response.status_code, error_type(response)) == (413, "BodyTooLarge")
    assert response.json()["error"]["details"] == {"limit": MAX_JSON_REQUEST_BYTES, "size": None}
    # the transaction routes take up to the server's cap
    tx = {"tx": "0x" + "00" * MAX_JSON_REQUEST_BYTES}
    response = await api.client.post("/v1/trade-batches", json=tx)
    assert (response.status_code, error_type(response)) == (400, "DecodeError")
    doc = (await api.client.get("/openapi.json")).json()
    caps = {
        path: op["requestBody"]["x-max-body-bytes"]
        for path, ops in doc["paths"].items()
        for op in ops.values()
        if "requestBody" in op
    }
    assert caps == {
        "/v1/trade-batches": MAX_API_BODY_BYTES,
        "/v1/bridge/collateral-events": MAX_API_BODY_BYTES,
        "/v1/governance/proposals": MAX_API_BODY_BYTES,
        "/v1/governance/votes": MAX_API_BODY_BYTES,
        "/v1/member-requests": MAX_JSON_REQUEST_BYTES,
        "/v1/accounts/query": MAX_JSON_REQUEST_BYTES,
        "/v1/accounts/events": MAX_JSON_REQUEST_BYTES,
        "/v1/accounts/proof": MAX_JSON_REQUEST_BYTES,
        "/v1/accounts/stream": MAX_JSON_REQUEST_BYTES,
        "/v1/clearing-members/clients": MAX_JSON_REQUEST_BYTES,
        "/v1/clients/account": MAX_JSON_REQUEST_BYTES,
    }
    assert (await api.client.get("/v1/status")).status_code == 200


async def test_malformed_http_gets_an_error_not_a_crash(api: Harness) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", api.port)
    async with stream:
        await stream.send_all(b"NOT HTTP AT ALL\r\n\r\n")
        reply = b""
        while chunk := await stream.receive_some(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400")
    assert b"MalformedHttp" in reply
    assert (await api.client.get("/v1/status")).status_code == 200


async def test_reads_blocks_validators_prices_status(api: Harness) -> None:
    block = (await api.client.get("/v1/blocks/1")).json()
    stored = api.store.load_block(1)
    assert stored is not None
    one = Block.decode(stored.block)
    assert block == {
        "height": 1,
        "engine": "clearnode",
        "hash": "0x" + one.hash.hex(),
        "chain_id": "test",
        "time_ms": NOW_MS,
        "prev_block_hash": "0x" + "00" * 32,
        "prev_state_root": "0x" + "00" * 32,
        "state_root": "0x" + "11" * 32,
        "txs_hash": "0x" + one.header.txs_hash.hex(),
        "proposer": "0x" + "07" * 32,
        "validators_hash": "0x" + one.header.validators_hash.hex(),
        "next_validators_hash": "0x" + one.header.next_validators_hash.hex(),
        "txs": 2,
        "tx_kinds": {"CollateralCredit": 1, "TradeBatch": 1},
        "evidence": 0,
        "cert": "0x" + b"cert-one".hex(),
    }
    for member in (ALICE, BOB):  # the public header names nobody
        assert member.address.hex() not in json.dumps(block).lower()
    async with serve_app(api.app, MAX_BODY, OPERATOR) as operator:
        full = (await operator.get("/v1/blocks/1")).json()
        operator_document = (await operator.get("/openapi.json")).json()
    assert full == {**block, "block": "0x" + one.encode().hex()}
    # each listener's view is what its own document promises (the public one has no bytes)
    public_document = (await api.client.get("/openapi.json")).json()
    for document, view in ((public_document, block), (operator_document, full)):
        jsonschema_rs.validate(document["components"]["schemas"]["Block"], view)
    # a block kept for light clients, never applied here (state sync): no root to show
    unapplied = get_block_view(replace(stored, state_root=b""), "clearnode", full=False)
    assert unapplied == {**block, "state_root": None}
    jsonschema_rs.validate(public_document["components"]["schemas"]["Block"], unapplied)
    missing = await api.client.get("/v1/blocks/99")
    assert (missing.status_code, error_type(missing)) == (404, "UnknownBlock")
    api.store.save_block(2, b"b", b"c", bytes(32))
    api.store.save_block(3, b"b", b"c", bytes(32), snapshot=b"state")
    api.store.prune(3, 1, pinned={1})
    assert (await api.client.get("/v1/blocks/1")).json() == block  # light clients read it
    pruned = await api.client.get("/v1/blocks/2")
    assert (pruned.status_code, error_type(pruned)) == (410, "BlockPruned")
    assert pruned.json()["error"]["details"]["first_height"] == 3
    bad = await api.client.get("/v1/blocks/-1")
    assert (bad.status_code, error_type(bad)) == (400, "InvalidField")
    validators = (await api.client.get("/v1/validators")).json()
    assert validators["total_power"] == sum(v["power"] for v in GENESIS["validators"])
    assert [v["name"] for v in validators["validators"]] == [
        v["name"] for v in GENESIS["validators"]
    ]
    assert all(v["jailed"] is None for v in validators["validators"])
    prices = (await api.client.get("/v1/prices")).json()
    assert prices["mark"] == GENESIS["mark_prices"]
    status = (await api.client.get("/v1/status")).json()
    assert status["chain_id"] == api.box.chain_id and status["moniker"] == "test-node"
    assert (await api.client.get("/nowhere")).status_code == 404
    wrong_method = await api.client.delete("/v1/status")
    assert (wrong_method.status_code, error_type(wrong_method)) == (405, "MethodNotAllowed")


async def test_account_query_needs_the_members_fresh_signature(api: Harness) -> None:
    box = api.box
    box.apply([box.credit(ALICE.address, USDC, 5_000)])
    response = await api.client.post("/v1/accounts/query", json=account_query(box))
    assert response.status_code == 200, response.text
    account = response.json()
    assert account["collateral"] == [
        {"chainId": USDC[0], "token": "0x" + USDC[1].hex(), "quanta": 5_000}
    ]
    assert "equity" in (account["risk"] or {"equity": 0})
    assert account["nextNonce"] == 0
    stranger = await api.client.post(
        "/v1/accounts/query", json=account_query(box, signer=BOB.private_key)
    )
    assert (stranger.status_code, error_type(stranger)) == (401, "BadSignature")
    stale = await api.client.post(
        "/v1/accounts/query", json=account_query(box, issued_ms=NOW_MS - 120_000)
    )
    assert (stale.status_code, error_type(stale)) == (401, "StaleQuery")
    assert "positions" not in stranger.text and "positions" not in stale.text


async def test_openapi_documents_every_route(api: Harness) -> None:
    doc = (await api.client.get("/openapi.json")).json()
    assert doc["openapi"] == "3.1.0"
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    routed = {(r.doc.method, r.doc.path) for r in api.app.routes if r.doc.tier != "operator"}
    assert documented == routed and ("GET", "/metrics") not in documented
    tiers = {op["x-tier"] for ops in doc["paths"].values() for op in ops.values()}
    assert tiers == {"public", "member", "venue", "bridge", "validator", "submitter"}
    async with serve_app(api.app, MAX_BODY, OPERATOR) as operator:
        everything = (await operator.get("/openapi.json")).json()
    assert {(m.upper(), p) for p, ops in everything["paths"].items() for m in ops} == {
        (r.doc.method, r.doc.path) for r in api.app.routes
    }
    schemas = doc["components"]["schemas"]
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert op["summary"] and op["operationId"]
            refs = json.dumps(op)
            for name in schemas:
                refs = refs.replace(f'"#/components/schemas/{name}"', "")
            assert "#/components/schemas/" not in refs, path
    # the hostile inputs above hit documented routes only
    assert {p for p, *_ in HOSTILE_POSTS} <= {p for _, p in documented}
    bid = next(
        s
        for s in schemas["MemberRequest"]["oneOf"]
        if s["properties"]["type"]["enum"] == ["AuctionBid"]
    )
    premium = bid["properties"]["message"]["properties"]["premium"]  # an int256
    assert premium == {"type": "integer", "minimum": -(2**255), "maximum": 2**255 - 1}


async def test_metrics_exposition_counts_requests(api: Harness) -> None:
    await api.client.post("/v1/trade-batches", json={"tx": "0x" + trade_batch(api.box).hex()})
    hidden = await api.client.get("/metrics")  # operator tier: as if it did not exist
    assert (hidden.status_code, error_type(hidden)) == (404, "NotFound")
    async with serve_app(api.app, MAX_BODY, OPERATOR) as operator:
        text = (await operator.get("/metrics")).text
    assert 'clearnode_api_requests_total{route="submitTradeBatch",status="202"} 1.0' in text
    assert "clearnode_mempool_txs 1.0" in text
    assert 'clearnode_info{moniker="test-node"} 1.0' in text


async def test_event_stream_delivers_blocks_and_prices_not_accepted_txs(api: Harness) -> None:
    async with api.client.stream("GET", "/v1/events") as response:
        assert response.headers["content-type"] == "text/event-stream"
        async with aclosing(response.aiter_lines()) as lines:
            assert await anext(lines) == ": connected"
            submitted = await api.client.post(
                "/v1/trade-batches", json={"tx": "0x" + trade_batch(api.box).hex()}
            )
            api.app.publish_block(2, b"\x11" * 32, b"\x22" * 32, NOW_MS, ["ok", "BadSignature"])
            frames: list[str] = []
            async for line in lines:
                frames.append(line)
                if line.startswith("data: ") and "index" in line:
                    break
    events = [json.loads(line[6:]) for line in frames if line.startswith("data: ")]
    assert [line for line in frames if line.startswith("event: ")] == [
        "event: block",
        "event: prices",
    ]
    assert events[0] == {
        "height": 2, "hash": "0x" + "11" * 32, "state_root": "0x" + "22" * 32,
        "time_ms": NOW_MS, "txs": 2, "rejected": 1,
    }  # fmt: skip
    assert events[1]["mark"] == dict(sorted(api.box.state.mark_prices.items()))
    # who submitted what, when, is not a public fact: the hash would find it in /v1/txs
    assert submitted.json()["tx_hash"][2:] not in "\n".join(frames)


async def test_serve_node_api_from_a_config(tmp_path: Path) -> None:
    from node.api.serve import serve_node_api
    from node.config import parse_config

    config = parse_config(
        {
            "chain_id": 4242,
            "moniker": "wired",
            "api": {"listen_port": 0, "operator_enabled": True, "operator_listen_port": 0},
        },
        tmp_path / "config.toml",
        tmp_path,
    )
    box = Sandbox.from_genesis_doc(copy.deepcopy(GENESIS))
    pool = Mempool(make_clearing_check(lambda: box.state))
    sent: list[bytes] = []

    async def broadcast(tx: bytes) -> None:
        sent.append(tx)

    async with trio.open_nursery() as nursery:
        app = await nursery.start(serve_node_api, config, lambda: box.state, pool, None, broadcast)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.port}") as client:
            raw = trade_batch(box)
            response = await client.post("/v1/trade-batches", json={"tx": "0x" + raw.hex()})
            assert response.status_code == 202
            assert (await client.get("/v1/status")).json()["moniker"] == "wired"
            assert (await client.get("/metrics")).status_code == 404
        assert app.operator_port not in (None, app.port)
        token = load_operator_token(config.operator_token_file)  # written: the home had none
        headers = {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{app.operator_port}", headers=headers
        ) as client:
            assert "clearnode_txs_submitted_total" in (await client.get("/metrics")).text
        nursery.cancel_scope.cancel()
    assert sent == [raw]


async def test_an_api_port_taken_after_the_probe_is_the_one_line_config_error(
    tmp_path: Path,
) -> None:
    """Two `clearnode start` racing: both probe the port free, one binds first; the other's
    bind fails as ConfigError (one line from `clearnode start`), not a traceback."""
    from node.api.serve import serve_node_api
    from node.config import parse_config
    from node.config_table import ConfigError

    with socket.socket() as first_node:
        first_node.bind(("127.0.0.1", 0))
        first_node.listen()
        port = first_node.getsockname()[1]
        config = parse_config(
            {"chain_id": 4242, "moniker": "second", "api": {"listen_port": port}},
            tmp_path / "config.toml",
            tmp_path,
        )
        box = Sandbox.from_genesis_doc(copy.deepcopy(GENESIS))
        pool = Mempool(make_clearing_check(lambda: box.state))
        with pytest.raises(ExceptionGroup) as info:
            async with trio.open_nursery() as nursery:
                await nursery.start(serve_node_api, config, lambda: box.state, pool, None, None)
    matched, rest = info.value.split(ConfigError)
    assert rest is None and matched is not None
    (error,) = get_leaves(matched)
    assert "api.listen_port" in str(error) and str(port) in str(error)
    assert len(str(error).splitlines()) == 1


def get_leaves(group: BaseExceptionGroup) -> list[BaseException]:  # type: ignore[type-arg]
    return [
        leaf
        for e in group.exceptions
        for leaf in (get_leaves(e) if isinstance(e, BaseExceptionGroup) else [e])
    ]


async def test_account_query_gives_the_next_nonce_above_the_committed_ones(api: Harness) -> None:
    box = api.box
    box.apply([box.credit(ALICE.address, USDC, 5_000)])
    body = member_request(box, chain_id=box.chain_id, nonce=5)
    assert (await api.client.post("/v1/member-requests", json=body)).status_code == 202
    before = await api.client.post("/v1/accounts/query", json=account_query(box))
    assert before.json()["nextNonce"] == 0  # a pending request takes no nonce yet
    box.apply(api.pool.reap(1 << 20))
    after = await api.client.post("/v1/accounts/query", json=account_query(box))
    assert after.json()["nextNonce"] == 6


async def test_a_member_whose_refused_request_made_no_account_learns_its_next_nonce(
    api: Harness,
) -> None:
    """A block's refusal spends the nonce, before any sub-account exists: the 404 says
    which nonce comes next, or the SDK's next one would be refused as reused."""
    box = api.box
    assert only_result(box.apply([box.withdraw(ALICE, USDC, 5)]))[0] == "UnknownMember"
    response = await api.client.post("/v1/accounts/query", json=account_query(box))
    assert (response.status_code, error_type(response)) == (404, "UnknownSubAccount")
    assert response.json()["error"]["details"]["next_nonce"] == 1


async def test_an_expired_request_is_refused_with_its_expiry(api: Harness) -> None:
    box = api.box
    late = box.state.time_ms - 1
    body = member_request(box, chain_id=box.chain_id, issued_at_ms=late, expires_ms=late)
    response = await api.client.post("/v1/member-requests", json=body)
    assert (response.status_code, error_type(response)) == (422, "RequestExpired")
    details = response.json()["error"]["details"]
    assert (details["expires_ms"], details["block_time_ms"]) == (
        box.state.time_ms - 1,
        box.state.time_ms,
    )


async def test_a_request_issued_ahead_is_refused_saying_when_it_may_apply(api: Harness) -> None:
    """The one refusal of a request's times that a later block may lift: its details say
    from when these bytes may apply, its message how to supersede them."""
    box = api.box
    issued = box.state.time_ms + MAX_ISSUED_AHEAD_MS + 1
    body = member_request(
        box, chain_id=box.chain_id, issued_at_ms=issued, expires_ms=issued + 60_000
    )
    response = await api.client.post("/v1/member-requests", json=body)
    assert (response.status_code, error_type(response)) == (422, "IssuedInFuture")
    error = response.json()["error"]
    assert (error["details"]["applies_from_ms"], error["details"]["expires_ms"]) == (
        box.state.time_ms + 1,
        issued + 60_000,
    )
    assert "sign the replacement with the same nonce" in error["message"]


async def test_account_query_shows_the_open_margin_call(api: Harness) -> None:
    box = api.box
    box.apply([box.credit(ALICE.address, USDC, 5_000)])
    plain = (await api.client.post("/v1/accounts/query", json=account_query(box))).json()
    assert plain["marginCall"] is None
    # Alice long 100 lots with equity 3/4 of IM (above MM = IM/2), Bob short and rich.
    give(box.state, ALICE.address, 0, lots=100)
    give(box.state, BOB.address, 10**12, lots=-100)
    alice = box.state.members[ALICE.address].sub_accounts[0]
    im = get_account_initial_margin(box.state, alice)
    alice.cash = im * 3 // 4 - 5_000
    opened = box.apply([])
    box.apply([])
    response = await api.client.post("/v1/accounts/query", json=account_query(box))
    assert response.status_code == 200, response.text
    account = response.json()
    deadline = opened.height + GENESIS["risk"]["margin_call"]["deadline_blocks"]
    assert account["marginCall"] == {
        "amountDue": im - im * 3 // 4,
        "openedHeight": opened.height,
        "deadlineHeight": deadline,
        "blocksLeft": deadline - account["height"],
    }
    assert account["height"] == opened.height + 1
    doc = (await api.client.get("/openapi.json")).json()
    documented = doc["components"]["schemas"]["Account"]["properties"]["marginCall"]
    assert set(documented["required"]) == set(account["marginCall"])


async def test_only_a_registered_bidder_is_shown_the_auctions_lots(api: Harness) -> None:
    box = api.box
    box.apply([box.credit(ALICE.address, USDC, 10**11)])
    give(box.state, HOUSE[0], 0, lots=10)  # a default's leftovers in the house account
    give(box.state, BOB.address, 10**12, lots=-10)
    opened = box.apply([])
    assert [e.kind for e in opened.events].count("auction_opened") == 1
    plain = (await api.client.post("/v1/accounts/query", json=account_query(box))).json()
    assert plain["auctions"] == []
    issued, expiry = box.get_times()
    message = {"member": "0x" + ALICE.address.hex(), "registered": True, "issuedAtMs": issued,
               "expiresMs": expiry, "nonce": 0}  # fmt: skip
    fields = MEMBER_REQUESTS["RegisterBidder"].SCHEMA.eip712_fields
    signable = compute_signable(box.chain_id, "RegisterBidder", fields, message)
    body = {"type": "RegisterBidder", "chainId": box.chain_id, "message": message,
            "signature": "0x" + sign_typed(ALICE.private_key, signable).hex()}  # fmt: skip
    assert (await api.client.post("/v1/member-requests", json=body)).status_code == 202
    box.apply(api.pool.reap(1 << 20))
    bidder = (await api.client.post("/v1/accounts/query", json=account_query(box))).json()
    (auction,) = bidder["auctions"]
    assert auction["lots"] == [{"instrument": "BTC-PERP", "quantity": 10}]
    assert auction["round"] == 1 and auction["closesHeight"] > bidder["height"]


async def test_a_bad_signature_reply_names_the_domain_and_who_signed(api: Harness) -> None:
    box = api.box
    body = member_request(box)  # AuthoriseVenue for Alice...
    message = dict(body["message"])
    fields = MEMBER_REQUESTS["AuthoriseVenue"].SCHEMA.eip712_fields
    signable = compute_signable(box.chain_id, "AuthoriseVenue", fields, message)
    body["signature"] = "0x" + sign_typed(BOB.private_key, signable).hex()  # ...signed by Bob
    response = await api.client.post("/v1/member-requests", json=body)
    assert (response.status_code, error_type(response)) == (401, "BadSignature")
    details = response.json()["error"]["details"]
    assert details["signer"] == "0x" + ALICE.address.hex()
    assert details["recovered"] == "0x" + BOB.address.hex()
    assert details["domain"] == f'{{name: "clearnode", version: "1", chainId: {box.chain_id}}}'
