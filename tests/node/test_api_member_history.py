"""POST /v1/accounts/events and /v1/accounts/proof: a member reads its own history (from
the history store in the node's SQLite file) and the proof of its account, signed as the
account query is; nobody else reads them.

The real API over HTTP on 127.0.0.1, a NodeStore file on disk, and blocks built by the
devnet's sandbox, saved with their history as the runtime's block store does.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from clearing.default.house import HOUSE
from clearing.eip712 import compute_signable, sign_typed
from clearing.transition.block import BlockResult
from clearing.transition.member_requests import ACCOUNT_EVENTS_FIELDS, ACCOUNT_PROOF_FIELDS
from clearing.transition.root import AccountProof, verify_account_proof
from clearing.transition.tx import encode_tx
from clearing.tx_kind import TxRecord
from clearnode.client.sandbox_keys import derive_member_key
from devnet.sandbox import Sandbox
from node.api import member_history
from node.api.node_interface import LocalNode
from node.api.server import ApiApp
from node.clock import wall_clock_ms
from node.history.indexer import get_block_history
from node.mempool import Mempool
from node.storage import NodeStore
from node.txcheck import make_clearing_check
from tests.clearing.default.test_margin_call import new_box
from tests.clearing.default.test_steps import give
from tests.clearing.governance.test_pruning import FIRST_EXPIRY_MS, RETENTION_MS, pruning_box
from tests.clearing.governance.test_roll import ROLLING_FIRST
from tests.clearing.support import USDC, WETH
from tests.clearing.test_trade import VENUE, make_batch, make_trade
from tests.node.apiserver import serve_app
from tests.node.test_api import ALICE, BOB, MAX_BODY, NOW_MS


@dataclass
class Harness:
    box: Sandbox
    app: ApiApp
    store: NodeStore
    client: httpx.AsyncClient

    def commit(self, txs: Sequence[TxRecord | bytes] = ()) -> BlockResult:
        """A block as the node commits it: applied, saved with its history, then published."""
        raws = [tx if isinstance(tx, bytes) else encode_tx(tx) for tx in txs]
        result = self.box.apply(raws)
        history = get_block_history(raws, result)
        self.store.save_block(result.height, b"block", b"cert", result.state_root, history=history)
        self.app.record_block(result)
        block_hash = hashlib.sha256(result.height.to_bytes(8, "big")).digest()
        codes = [r.code for r in result.tx_results]
        self.app.publish_block(
            result.height, block_hash, result.state_root, self.box.state.time_ms, codes
        )
        self.app.publish_history(history)
        return result


@asynccontextmanager
async def serve_harness(
    tmp_path: Path, clock_ms: Callable[[], int] = wall_clock_ms, box: Sandbox | None = None
) -> AsyncIterator[tuple[Sandbox, ApiApp, NodeStore, httpx.AsyncClient]]:
    """The real API over `box` (default: a sandbox with a 3-block margin call deadline) and
    a NodeStore file for its history, with the API's clock `clock_ms`."""
    box = new_box() if box is None else box
    pool = Mempool(make_clearing_check(lambda: box.state), max_tx_bytes=32 * 1024)
    node = LocalNode(box.chain_id, "test-node", pool, lambda: box.state)
    with NodeStore(tmp_path / "node.db") as store:
        app = ApiApp(node, clock_ms=clock_ms, history_store=store)
        async with serve_app(app, MAX_BODY) as client:
            yield box, app, store, client


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Harness]:
    async with serve_harness(tmp_path, lambda: NOW_MS) as parts:
        yield Harness(*parts)


def signed_query(
    box: Sandbox, kind: str, member: bytes, middle: int, signer: bytes | None = None
) -> dict[str, Any]:
    fields = ACCOUNT_EVENTS_FIELDS if kind == "AccountEvents" else ACCOUNT_PROOF_FIELDS
    message = {"member": "0x" + member.hex(), fields[1]["name"]: middle, "issuedAtMs": NOW_MS}
    signable = compute_signable(box.chain_id, kind, fields, message)
    signature = sign_typed(signer or ALICE.private_key, signable)
    return {"chainId": box.chain_id, "message": message, "signature": "0x" + signature.hex()}


def events_query(
    box: Sandbox, member: bytes, from_height: int = 0, signer: bytes | None = None
) -> dict[str, Any]:
    return signed_query(box, "AccountEvents", member, from_height, signer)


async def read_events(
    api: Harness, member: bytes, extra: dict[str, Any] | None = None, **query: Any
) -> dict[str, Any]:
    body = {**events_query(api.box, member, **query), **(extra or {})}
    response = await api.client.post("/v1/accounts/events", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_margin_call_and_a_conversion_are_read_by_their_member_only(api: Harness) -> None:
    alice, bob = ALICE.address, BOB.address
    open_call(api)
    # Bob brings WETH; a deposit to the house funds the insurance fund, which buys WETH
    api.commit([api.box.credit(bob, WETH, 10**6), api.box.credit(HOUSE[0], USDC, 10**10)])
    give(api.box.state, bob, -1_000_002_700)  # beyond the threshold of 10^9: WETH is sold
    converted = api.commit()
    mine = await read_events(api, alice)
    kinds = [(e["height"], e["source"], e["kind"]) for e in mine["events"]]
    call = next(e for e in mine["events"] if e["kind"] == "margin_call")
    assert (call["height"], call["source"]) == (1, "block") and call["index"] == -1
    assert call["fields"]["member"] == "0x" + alice.hex() and call["fields"]["amount_due"] > 0
    assert all(kind != "collateral_sold" for _, _, kind in kinds)
    bobs = await read_events(api, bob, signer=BOB.private_key)
    assert [(e["height"], e["source"]) for e in bobs["events"]] == [(2, "tx"), (3, "block")]
    sold = bobs["events"][1]
    assert (sold["kind"], sold["fields"]["member"]) == ("collateral_sold", "0x" + bob.hex())
    assert converted.height == 3 and "margin_call" not in json.dumps(bobs)
    # Bob's signature over a query for Alice's events is refused, and shows nothing.
    stranger = await api.client.post(
        "/v1/accounts/events", json=events_query(api.box, alice, signer=BOB.private_key)
    )
    assert stranger.status_code == 401 and stranger.json()["error"]["type"] == "BadSignature"
    assert "margin_call" not in stranger.text


def open_call(api: Harness) -> BlockResult:
    """Alice long 100 lots between maintenance and initial margin: a call opens."""
    give(api.box.state, ALICE.address, 700_000_000, lots=100)  # MM 450M <= 700M < IM 900M
    give(api.box.state, bytes([3]) * 20, 10**12, lots=-100)
    return api.commit()


async def test_pages_follow_the_cursor_and_skip_nothing(
    api: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(member_history, "PAGE_EVENTS", 2)
    open_call(api)
    api.commit([api.box.credit(ALICE.address, USDC, 10**6) for _ in range(3)])
    everything: list[tuple[int, int]] = []
    page = await read_events(api, ALICE.address)
    while True:
        assert len(page["events"]) <= 2
        everything += [(e["height"], e["seq"]) for e in page["events"]]
        if page["nextCursor"] is None:
            break
        page = await read_events(api, ALICE.address, {"cursor": page["nextCursor"]})
    assert everything == sorted(set(everything)) and len(everything) >= 4
    assert page["historyHeight"] == 2
    body = {**events_query(api.box, ALICE.address), "format": "csv"}
    first_csv = await api.client.post("/v1/accounts/events", json=body)
    assert json.loads(first_csv.headers["x-next-cursor"]) == dict(
        zip(("height", "seq"), everything[1], strict=True)
    )
    later = await read_events(api, ALICE.address, from_height=2)
    assert {e["height"] for e in later["events"]} == {2}


async def test_a_pruned_history_is_read_from_its_first_height_only(api: Harness) -> None:
    for _ in range(3):
        api.commit([api.box.credit(ALICE.address, USDC, 10**6)])
    api.store.prune(1, 3, pinned=set())
    for extra, query in (({}, {}), ({"cursor": {"height": 2, "seq": 0}}, {"from_height": 3})):
        body = {**events_query(api.box, ALICE.address, **query), **extra}
        refused = await api.client.post("/v1/accounts/events", json=body)
        assert refused.status_code == 410, refused.text
        assert refused.json()["error"]["type"] == "HistoryPruned"
        assert refused.json()["error"]["details"]["first_height"] == 3
    page = await read_events(api, ALICE.address, from_height=3)
    assert {e["height"] for e in page["events"]} == {3}


async def test_csv_has_a_header_row_and_money_as_integers(api: Harness) -> None:
    api.commit([api.box.credit(ALICE.address, USDC, 123_456_789)])
    body = {**events_query(api.box, ALICE.address), "format": "csv"}
    response = await api.client.post("/v1/accounts/events", json=body)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.headers["cache-control"] == "no-store"
    rows = list(csv.reader(io.StringIO(response.text)))
    assert tuple(rows[0]) == member_history.CSV_COLUMNS
    (credit,) = [r for r in rows[1:] if "123456789" in r[6]]
    assert credit[:3] == ["1", "0", "tx"] and credit[5] == "0"
    assert 123_456_789 in json.loads(credit[6]).values()


@pytest.mark.parametrize(
    ("extra", "error"),
    [({"cursor": {"height": -1, "seq": 0}}, "BadCursor"), ({"cursor": [1, 2]}, "BadCursor"),
     ({"format": "xml"}, "BadFormat")],
)  # fmt: skip
async def test_a_bad_cursor_or_format_is_refused(
    api: Harness, extra: dict[str, Any], error: str
) -> None:
    body = {**events_query(api.box, ALICE.address), **extra}
    response = await api.client.post("/v1/accounts/events", json=body)
    assert response.status_code == 400 and response.json()["error"]["type"] == error


async def test_a_pruned_instrument_s_fills_stay_in_the_history(tmp_path: Path) -> None:
    box = pruning_box()
    buyer, seller = derive_member_key("buyer"), derive_member_key("seller")
    async with serve_harness(tmp_path, lambda: NOW_MS, box) as parts:
        api = Harness(*parts)
        api.commit([*(box.credit(m.address, USDC, 10**12) for m in (buyer, seller)),
                    *(box.authorise(m, VENUE) for m in (buyer, seller))])  # fmt: skip
        api.commit([make_batch(box, [make_trade(1, buyer, seller, 60_000_000, 3, ROLLING_FIRST)])])
        while box.state.time_ms < FIRST_EXPIRY_MS + RETENTION_MS:
            api.commit()
        assert ROLLING_FIRST not in box.state.instruments
        page = await read_events(api, buyer.address, signer=buyer.private_key)
        (fill,) = [e for e in page["events"] if e["kind"] == "fill"]
        assert (fill["height"], fill["fields"]["instrument"]) == (2, ROLLING_FIRST)
        body = {**events_query(box, buyer.address, signer=buyer.private_key), "format": "csv"}
        response = await api.client.post("/v1/accounts/events", json=body)
        assert response.status_code == 200 and ROLLING_FIRST in response.text
        served = (await api.client.get("/v1/governance/events")).json()
        assert {"kind": "instrument_pruned"}.items() <= served["events"][-1].items()


async def test_the_account_proof_verifies_against_the_committed_root(api: Harness) -> None:
    result = api.commit([api.box.credit(ALICE.address, USDC, 10**6)])
    query = signed_query(api.box, "AccountProof", ALICE.address, 0)
    response = await api.client.post("/v1/accounts/proof", json=query)
    assert response.status_code == 200, response.text
    found = response.json()
    assert response.headers["cache-control"] == "no-store"
    assert found["height"] == result.height
    assert found["stateRoot"] == "0x" + result.state_root.hex()
    account, proof = (bytes.fromhex(found[k][2:]) for k in ("account", "proof"))
    assert verify_account_proof(
        result.state_root, ALICE.address, account, AccountProof.decode(proof)
    )
    stale = signed_query(api.box, "AccountProof", ALICE.address, result.height + 5)
    refused = await api.client.post("/v1/accounts/proof", json=stale)
    assert refused.status_code == 409 and refused.json()["error"]["type"] == "HeightNotHeld"
    bobs = signed_query(api.box, "AccountProof", ALICE.address, 0, signer=BOB.private_key)
    stranger = await api.client.post("/v1/accounts/proof", json=bobs)
    assert stranger.status_code == 401 and found["account"] not in stranger.text


async def test_an_api_without_a_history_store_says_so(api: Harness) -> None:
    app = ApiApp(api.app.node, clock_ms=lambda: NOW_MS)
    async with serve_app(app, MAX_BODY) as client:
        response = await client.post(
            "/v1/accounts/events", json=events_query(api.box, ALICE.address)
        )
    assert response.status_code == 503 and response.json()["error"]["type"] == "NoHistory"
