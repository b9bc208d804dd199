"""POST /v1/clearing-members/clients and /v1/clients/account: a clearing member reads its
clients' risk, a client its clearing relationship and the offers made to it; each signed
by its own key. A client account opened over the API: the member's offer and the
client's acceptance as member requests. And a port in the history of both sides.

The real API over HTTP on 127.0.0.1 over a sandbox whose genesis names clearing
members and clients (tests/clearing/default/test_clients.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from clearing.eip712 import compute_signable, sign_typed
from clearing.transition.block import BlockResult
from clearing.transition.member_requests import CLIENTS_QUERY_FIELDS
from clearnode.client.sandbox_keys import MemberKey
from clearnode.client.signers import get_member_request_body, hex0x
from devnet.sandbox import Sandbox
from node.api.node_interface import LocalNode
from node.api.server import ApiApp
from node.history.indexer import get_named_members, get_own_event
from node.mempool import Mempool
from node.txcheck import make_clearing_check
from tests.clearing.default.test_clients import ETH, OMNI, M, N, S, X, crash, start
from tests.clearing.test_client_requests import accept, offer
from tests.node.apiserver import serve_app
from tests.node.test_api import MAX_BODY, NOW_MS


@dataclass
class Harness:
    box: Sandbox
    pool: Mempool
    client: httpx.AsyncClient


@pytest.fixture
async def api() -> AsyncIterator[Harness]:
    box = start()  # M guarantees OMNI (omnibus) and S (segregated), both backed by N
    pool = Mempool(make_clearing_check(lambda: box.state), max_tx_bytes=32 * 1024)
    node = LocalNode(box.chain_id, "test-node", pool, lambda: box.state)
    async with serve_app(ApiApp(node, clock_ms=lambda: NOW_MS), MAX_BODY) as client:
        yield Harness(box, pool, client)


def query(box: Sandbox, kind: str, member: MemberKey, offset: int = 0,
          signer: MemberKey | None = None) -> dict[str, Any]:  # fmt: skip
    message = {"member": hex0x(member.address), "offset": offset, "issuedAtMs": NOW_MS}
    signable = compute_signable(box.chain_id, kind, CLIENTS_QUERY_FIELDS, message)
    signature = sign_typed((signer or member).private_key, signable)
    return {"chainId": box.chain_id, "message": message, "signature": hex0x(signature)}


async def test_a_clearing_member_reads_its_clients_risk(api: Harness) -> None:
    body = query(api.box, "ClientRiskQuery", M)
    response = await api.client.post("/v1/clearing-members/clients", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    view = response.json()
    assert (view["admitted"], view["clientCount"], view["nextOffset"]) == (True, 2, None)
    by_client = {c["client"]: c for c in view["clients"]}
    assert set(by_client) == {hex0x(OMNI.address), hex0x(S.address)}
    s = by_client[hex0x(S.address)]
    assert (s["model"], s["backup"]) == ("segregated", hex0x(N.address))
    (sub,) = s["subAccounts"]
    assert sub["positions"] == [{"instrument": ETH, "quantity": 10}]
    assert sub["equity"] > sub["initialMargin"] > 0 and sub["shortfall"] == 0
    assert "signature" not in response.text and "private" not in response.text


async def test_only_the_member_itself_reads_them(api: Harness) -> None:
    forged = query(api.box, "ClientRiskQuery", M, signer=S)  # its client signs for it
    response = await api.client.post("/v1/clearing-members/clients", json=forged)
    assert (response.status_code, response.json()["error"]["type"]) == (401, "BadSignature")
    response = await api.client.post(
        "/v1/clearing-members/clients", json=query(api.box, "ClientRiskQuery", X)
    )
    assert (response.status_code, response.json()["error"]["type"]) == (404, "NotAClearingMember")


async def test_a_client_opens_its_account_over_the_api_and_reads_it(api: Harness) -> None:
    response = await api.client.post(
        "/v1/clients/account", json=query(api.box, "ClientAccountQuery", X)
    )
    assert (response.status_code, response.json()["error"]["type"]) == (404, "NotAClient")
    view = await commit_and_read(api, offer(api.box, M, X, "omnibus", N.address))
    assert view["clearingMember"] is None
    assert view["offers"] == [
        {"clearingMember": hex0x(M.address), "model": "omnibus", "backup": hex0x(N.address)}
    ]
    view = await commit_and_read(api, accept(api.box, X, M, "omnibus", N.address))
    assert (view["clearingMember"], view["model"], view["offers"]) == (
        hex0x(M.address),
        "omnibus",
        [],
    )


async def commit_and_read(api: Harness, record: Any) -> dict[str, Any]:
    """Send ``record`` as a wallet does, commit it, and read X's clearing relationship."""
    body = get_member_request_body(record, api.box.chain_id)
    response = await api.client.post("/v1/member-requests", json=body)
    assert response.status_code == 202, response.text
    assert [r.code for r in commit(api).tx_results] == ["ok"]
    response = await api.client.post(
        "/v1/clients/account", json=query(api.box, "ClientAccountQuery", X)
    )
    view: dict[str, Any] = response.json()
    return view


def commit(api: Harness) -> BlockResult:
    """A block of what the mempool admitted, as a node commits it."""
    txs = api.pool.reap(10**6)
    api.pool.update(txs)
    return api.box.apply(txs)


def test_a_ported_client_and_its_new_member_read_the_port_in_their_history() -> None:
    box = start()
    (port,) = [e for e in crash(box) if e.kind == "ported" and e.get("client") == S.address]
    assert get_named_members(port) == {S.address, N.address}
    assert get_own_event(port, S.address).get("clearing_member") == N.address
    assert get_own_event(port, N.address).get("client") == S.address
