"""The SDK's calls for clearing members and their clients (docs/clearing-members.md): a
member offers an account, the client accepts it, each reads what it may see, and the
refusals come back typed.

The SDK's `Client` over the real API on 127.0.0.1, in front of a sandbox whose
genesis names clearing members and clients (tests/clearing/default/test_clients.py);
blocks are committed from the mempool as a node commits them, at the sandbox's block
times (requests are signed at and expire by them: `net.times()`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from clearing.transition.block import BlockResult
from clearnode.client import Client, Member, NotFound, Unauthorized
from devnet.sandbox import Sandbox
from node.api.node_interface import LocalNode
from node.api.server import ApiApp
from node.mempool import Mempool
from node.txcheck import make_clearing_check
from tests.clearing.default.test_clients import OMNI, M, N, S, X, start
from tests.node.apiserver import serve_app
from tests.node.test_api import MAX_BODY

MEMBER, BACKUP, NEWCOMER = (Member(k.private_key) for k in (M, N, X))


@dataclass
class Harness:
    box: Sandbox
    pool: Mempool
    node: Client

    def times(self) -> dict[str, int]:
        issued, expiry = self.box.get_times()
        return {"issued_at_ms": issued, "expires_ms": expiry}

    def commit(self) -> BlockResult:
        txs = self.pool.reap(10**6)
        self.pool.update(txs)
        return self.box.apply(txs)


@pytest.fixture
async def net() -> AsyncIterator[Harness]:
    box = start()  # M guarantees OMNI (omnibus) and S (segregated), both backed by N
    pool = Mempool(make_clearing_check(lambda: box.state), max_tx_bytes=32 * 1024)
    local = LocalNode(box.chain_id, "test-node", pool, lambda: box.state)
    async with serve_app(ApiApp(local), MAX_BODY) as http:
        yield Harness(box, pool, Client(str(http.base_url), box.chain_id, http=http))


async def test_a_member_offers_an_account_and_the_client_accepts_it(net: Harness) -> None:
    with pytest.raises(NotFound) as refused:
        await net.node.client_account(NEWCOMER)
    assert refused.value.type == "NotAClient"

    await net.node.offer_client_account(
        MEMBER, NEWCOMER.address, "segregated", BACKUP.address, **net.times()
    )
    assert [r.code for r in net.commit().tx_results] == ["ok"]
    view = await net.node.client_account(NEWCOMER)
    assert view["clearingMember"] is None
    assert view["offers"] == [{"clearingMember": MEMBER.address_hex, "model": "segregated",
                               "backup": BACKUP.address_hex}]  # fmt: skip

    await net.node.accept_client_account(
        NEWCOMER, MEMBER.address, "segregated", BACKUP.address, **net.times()
    )
    assert [r.code for r in net.commit().tx_results] == ["ok"]
    view = await net.node.client_account(NEWCOMER)
    assert (view["clearingMember"], view["model"], view["backup"], view["offers"]) == (
        MEMBER.address_hex, "segregated", BACKUP.address_hex, [],
    )  # fmt: skip

    risk = await net.node.client_risk(MEMBER)
    assert (risk["admitted"], risk["clientCount"], risk["nextOffset"]) == (True, 3, None)
    clients = {c["client"]: c for c in risk["clients"]}
    assert set(clients) == {"0x" + k.address.hex() for k in (OMNI, S, X)}
    assert clients[NEWCOMER.address_hex]["model"] == "segregated"


async def test_refusals_come_back_typed_with_the_node_s_reason(net: Harness) -> None:
    # Admission cannot refuse these (the offer may be pending beside the acceptance):
    # the block does, and changes nothing.
    await net.node.accept_client_account(NEWCOMER, MEMBER.address, "omnibus", **net.times())
    await net.node.offer_client_account(MEMBER, NEWCOMER.address, "net", **net.times())
    assert [r.code for r in net.commit().tx_results] == ["NoClientOffer", "UnknownSegregationModel"]
    assert NEWCOMER.address not in net.box.state.clients
    assert not [key for key in net.box.state.client_offers if key[0] == NEWCOMER.address]
    with pytest.raises(NotFound) as not_member:
        await net.node.client_risk(NEWCOMER)
    assert not_member.value.type == "NotAClearingMember"
    forged = MEMBER.client_risk_query(net.box.chain_id)
    forged["message"]["member"] = BACKUP.address_hex  # M's signature over N's query
    with pytest.raises(Unauthorized) as unsigned:
        await net.node.post_json("/v1/clearing-members/clients", json=forged)
    assert unsigned.value.type == "BadSignature"
