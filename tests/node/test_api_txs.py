"""GET /v1/txs/{hash}: a venue learns what happened to its batch, trade by trade, also
from a node that restarted since.

The real API over HTTP on 127.0.0.1, a real mempool, a NodeStore file, and blocks built
by the devnet's sandbox and saved with their history as the node's block store does.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trio

from clearing.transition.block import BlockResult
from clearing.transition.trade import Trade, sign_trade_batch
from clearing.transition.tx import encode_tx
from consensus.compact import compute_tx_hash
from devnet.sandbox import Sandbox
from node.api.node_interface import LocalNode
from node.api.server import ApiApp
from node.clock import wall_clock_ms
from node.history.indexer import get_block_history
from node.mempool import Mempool
from node.storage import NodeStore
from node.storage.history_store import BlockHistory
from node.storage.outcomes import TX_WINDOW_BLOCKS
from node.txcheck import make_clearing_check
from tests.node.apiserver import serve_app
from tests.node.nodenet import open_node_network
from tests.node.test_api import ALICE, BOB, GENESIS, MAX_BODY, USDC, VENUE_KEY

WINDOW = 3
MARK = 60_000_000  # BTC-PERP mark at genesis


@dataclass
class Harness:
    box: Sandbox
    pool: Mempool
    store: NodeStore
    app: ApiApp
    client: httpx.AsyncClient

    def commit(self, txs: list[bytes]) -> BlockResult:
        """Apply a block as the node does: clearing, the block saved with its history (and
        its transactions' outcomes), the mempool update."""
        result = self.box.apply(txs)
        history = get_block_history(txs, result)
        self.store.save_block(result.height, b"block", b"cert", result.state_root, history=history)
        self.pool.update(txs)
        return result


def new_box() -> Sandbox:
    box = Sandbox.from_genesis_doc(copy.deepcopy(GENESIS))
    funding = [box.credit(m.address, USDC, 10**12) for m in (ALICE, BOB)]
    box.apply([*funding, box.authorise(ALICE, "alpha"), box.authorise(BOB, "alpha")])
    return box


def new_app(box: Sandbox, pool: Mempool, store: NodeStore) -> ApiApp:
    return ApiApp(
        LocalNode(box.chain_id, "test-node", pool, lambda: box.state), history_store=store
    )


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Harness]:
    box = new_box()
    pool = Mempool(make_clearing_check(lambda: box.state), max_tx_bytes=32 * 1024)
    # The store starts at the sandbox's height, as a node's store holds every block.
    with NodeStore(tmp_path / "node.sqlite3", tx_window_blocks=WINDOW) as store:
        for height in range(1, box.state.height + 1):
            store.save_block(height, b"block", b"cert", bytes(32), history=BlockHistory(height, ()))
        app = new_app(box, pool, store)
        async with serve_app(app, MAX_BODY) as client:
            yield Harness(box, pool, store, app, client)


def batch(box: Sandbox, batch_id: int, prices: list[int]) -> bytes:
    trades = tuple(
        Trade(batch_id * 10 + n, "BTC-PERP", ALICE.address, 0, BOB.address, 0, price, 1)
        for n, price in enumerate(prices)
    )
    return encode_tx(
        sign_trade_batch(VENUE_KEY, box.chain_id, "alpha", batch_id, trades, *box.get_times())
    )


async def submit(api: Harness, raw: bytes) -> str:
    response = await api.client.post("/v1/trade-batches", json={"tx": "0x" + raw.hex()})
    assert response.status_code == 202, response.text
    return str(response.json()["tx_hash"])


async def test_pending_then_committed_with_each_trades_outcome(api: Harness) -> None:
    raw = batch(api.box, 1, [MARK, 2 * MARK])  # the second is far outside the price band
    tx_hash = await submit(api, raw)
    pending = await api.client.get(f"/v1/txs/{tx_hash}")
    assert (pending.status_code, pending.json()) == (200, {"tx_hash": tx_hash, "status": "pending"})

    credit = encode_tx(api.box.credit(ALICE.address, USDC, 5))
    api.commit([credit, *api.pool.reap(1 << 20)])
    body = (await api.client.get(f"/v1/txs/{tx_hash.upper().replace('0X', '0x')}")).json()
    height = api.box.state.height
    assert body["tx_hash"] == tx_hash and body["status"] == "committed"
    assert (body["height"], body["index"], body["code"], body["detail"]) == (height, 1, "ok", "")
    assert [e["kind"] for e in body["events"]] == ["trade_rejected", "trade_batch"]
    rejected, summary = (e["fields"] for e in body["events"])
    assert (rejected["trade_id"], rejected["code"]) == (11, "OutsideBand")
    assert str(2 * MARK) in rejected["detail"]
    assert (summary["venue"], summary["cleared"], summary["rejected"]) == ("alpha", 1, 1)

    credited = (await api.client.get(f"/v1/txs/0x{compute_tx_hash(credit).hex()}")).json()
    assert credited["index"] == 0 and credited["events"][0]["kind"] == "collateral_credited"
    assert credited["events"][0]["fields"]["member"] == "0x" + ALICE.address.hex()


async def test_a_rejected_transaction_answers_its_code_and_numbers(api: Harness) -> None:
    forged = batch(api.box, 1, [MARK])[:-8] + b"\x00" * 8  # breaks the venue signature
    api.commit([forged])
    tx_hash = "0x" + compute_tx_hash(forged).hex()
    body = (await api.client.get(f"/v1/txs/{tx_hash}")).json()
    assert (body["index"], body["code"], body["events"]) == (0, "BadSignature", [])
    assert body["detail"]


async def test_unknown_and_malformed_hashes(api: Harness) -> None:
    missing = await api.client.get("/v1/txs/0x" + "ab" * 32)
    assert missing.status_code == 404
    error = missing.json()["error"]
    assert error["type"] == "TxNotFound" and "3 blocks" in error["message"]
    assert error["details"]["window_blocks"] == WINDOW
    for bad in ("0x1234", "ab" * 32, "0x" + "zz" * 32):
        response = await api.client.get(f"/v1/txs/{bad}")
        assert (response.status_code, response.json()["error"]["type"]) == (400, "InvalidField")


async def test_a_transaction_older_than_the_window_is_not_found(api: Harness) -> None:
    raw = batch(api.box, 1, [MARK])
    api.commit([raw])
    tx_hash = "0x" + compute_tx_hash(raw).hex()
    for _ in range(WINDOW - 1):
        api.commit([])
    assert (await api.client.get(f"/v1/txs/{tx_hash}")).status_code == 200
    api.commit([])
    gone = await api.client.get(f"/v1/txs/{tx_hash}")
    assert (gone.status_code, gone.json()["error"]["type"]) == (404, "TxNotFound")
    details = gone.json()["error"]["details"]
    height = api.box.state.height
    assert (details["oldest_height"], details["latest_height"]) == (height - WINDOW + 1, height)


async def test_a_replayed_hash_keeps_its_latest_outcome_when_the_first_block_leaves(
    api: Harness,
) -> None:
    raw = batch(api.box, 1, [MARK])
    api.commit([raw])
    api.commit([raw])  # replayed: refused the second time
    replayed = api.box.state.height
    for _ in range(WINDOW - 1):
        api.commit([])
    body = (await api.client.get(f"/v1/txs/0x{compute_tx_hash(raw).hex()}")).json()
    assert body["height"] == replayed, body
    assert body["events"][0]["fields"]["code"] == "DuplicateTrade", body
    assert TX_WINDOW_BLOCKS == NodeStore(api.store.path).tx_window_blocks == 1_000


async def test_a_restarted_node_still_answers_what_it_committed(
    api: Harness, tmp_path: Path
) -> None:
    """A venue that fails over to a node restarted since its batch committed learns its
    fate from the node's store: the same answer as before the restart."""
    raw = batch(api.box, 1, [MARK, 2 * MARK])
    api.commit([raw])
    path = f"/v1/txs/0x{compute_tx_hash(raw).hex()}"
    before = (await api.client.get(path)).json()
    api.store.close()
    pool = Mempool(make_clearing_check(lambda: api.box.state), max_tx_bytes=32 * 1024)
    with NodeStore(api.store.path, tx_window_blocks=WINDOW) as reopened:
        async with serve_app(new_app(api.box, pool, reopened), MAX_BODY) as client:
            after = await client.get(path)
    assert after.status_code == 200 and after.json() == before
    assert before["status"] == "committed" and before["code"] == "ok"


async def test_the_route_is_documented(api: Harness) -> None:
    document = (await api.client.get("/openapi.json")).json()
    operation = document["paths"]["/v1/txs/{hash}"]["get"]
    assert operation["operationId"] == "getTx" and "404" in operation["responses"]
    assert "TxOutcome" in document["components"]["schemas"]


@pytest.mark.slow
async def test_whole_nodes_answer_a_committed_batch_on_every_node(tmp_path: Path) -> None:
    async with open_node_network(tmp_path) as net:
        box = Sandbox.from_genesis_doc(copy.deepcopy(GENESIS), clock_ms=wall_clock_ms)
        raw = batch(box, 1, [MARK])  # alice and bob are unknown: the trade is rejected
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{net.homes[0].api_port}") as c:
            submitted = await c.post(
                "/v1/trade-batches", content=raw, headers={"content-type": "application/msgpack"}
            )
        assert submitted.status_code == 202, submitted.text
        path = f"/v1/txs/{submitted.json()['tx_hash']}"
        bodies = []
        with trio.fail_after(60):
            for home in net.homes[:2]:  # each commits the block in its own time
                while (body := await net.get_json(home, path)).get("status") != "committed":
                    await trio.sleep(0.1)
                bodies.append(body)
        assert body["code"] == "ok" and body["events"][-1]["kind"] == "trade_batch"
        assert body["events"][0]["kind"] == "trade_rejected"
        assert bodies[0] == bodies[1]
