"""POST /v1/accounts/events: a member reads its own end-of-block events (margin calls,
conversions of collateral), signed as the account query is; nobody else reads them.

The real API over HTTP on 127.0.0.1 and blocks built by the clearing sandbox, handed to
the API as the runtime's commit listener does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from clearing.block import BlockResult
from clearing.default.house import HOUSE
from clearing.eip712 import compute_signable, sign_typed
from clearing.events import make_event
from clearing.sandbox import Sandbox
from clearing.tx import TxRecord, encode_tx
from node.api.app import ApiApp
from node.api.bodies import ACCOUNT_EVENTS_FIELDS
from node.api.member_events import RecentMemberEvents
from node.api.service import LocalNode
from node.mempool import Mempool
from node.txcheck import make_clearing_check
from tests.clearing.default.test_margin_call import new_box
from tests.clearing.default.test_steps import give
from tests.clearing.support import USDC, WETH
from tests.node.apiserver import serve_app
from tests.node.test_api import ALICE, BOB, MAX_BODY, NOW_MS

WINDOW = 4


@dataclass
class Harness:
    box: Sandbox
    app: ApiApp
    client: httpx.AsyncClient

    def commit(self, records: Sequence[TxRecord] = ()) -> BlockResult:
        """Apply a block as the node does: clearing, then the API's commit listener."""
        txs = [encode_tx(r) for r in records]
        result = self.box.apply(txs)
        self.app.record_block(txs, result)
        return result


@pytest.fixture
async def api() -> AsyncIterator[Harness]:
    box = new_box()  # the example genesis with a 3-block margin call deadline
    pool = Mempool(make_clearing_check(lambda: box.state), max_tx_bytes=32 * 1024)
    node = LocalNode(box.chain_id, "test-node", pool, lambda: box.state)
    app = ApiApp(node, clock_ms=lambda: NOW_MS, tx_window_blocks=WINDOW)
    async with serve_app(app, MAX_BODY) as client:
        yield Harness(box, app, client)


def events_query(
    box: Sandbox, member: bytes, from_height: int = 0, signer: bytes | None = None
) -> dict[str, Any]:
    message = {"member": "0x" + member.hex(), "fromHeight": from_height, "issuedAtMs": NOW_MS}
    signable = compute_signable(box.chain_id, "AccountEvents", ACCOUNT_EVENTS_FIELDS, message)
    signature = sign_typed(signer or ALICE.private_key, signable)
    return {"chainId": box.chain_id, "message": message, "signature": "0x" + signature.hex()}


async def read_events(api: Harness, member: bytes, **query: Any) -> dict[str, Any]:
    response = await api.client.post(
        "/v1/accounts/events", json=events_query(api.box, member, **query)
    )
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


async def test_pages_follow_heights_and_the_window_forgets_old_blocks(api: Harness) -> None:
    heights = [open_call(api).height]
    for _ in range(2):
        heights.append(api.commit().height)
    first = await read_events(api, ALICE.address)
    assert first["oldestHeight"] == heights[0] and first["nextHeight"] is None
    later = await read_events(api, ALICE.address, from_height=heights[0] + 1)
    assert all(e["height"] > heights[0] for e in later["events"])
    for _ in range(WINDOW):
        api.commit()
    gone = await read_events(api, ALICE.address)
    assert all(e["height"] > heights[0] for e in gone["events"])
    assert gone["oldestHeight"] > heights[0]


def test_a_page_ends_at_a_block_boundary_with_the_next_height() -> None:
    store = RecentMemberEvents(window=10)
    for height in (1, 2, 3):
        events = tuple(make_event("x", member=ALICE.address, n=n) for n in range(2))
        store.record_block(BlockResult(height, (), events, bytes(32)))
    page = store.get_page(ALICE.address, 0, limit=3)
    assert [e.height for e in page.events] == [1, 1, 2, 2] and page.next_height == 3
    rest = store.get_page(ALICE.address, 3, limit=3)
    assert [e.height for e in rest.events] == [3, 3] and rest.next_height is None
    assert store.get_page(BOB.address, 0).events == []


def test_each_party_reads_its_own_side_and_the_house_stays_named() -> None:
    store = RecentMemberEvents(window=10)
    taken = make_event(
        "liquidated",
        member=ALICE.address,
        sub_account=0,
        instrument="BTC-PERP",
        quantity=5,
        counterparty=BOB.address,
        counterparty_sub_account=2,
    )
    sold = make_event("collateral_sold", member=BOB.address, sub_account=0, quanta=4,
                      counterparty=HOUSE[0], counterparty_sub_account=0)  # fmt: skip
    store.record_block(BlockResult(1, (), (taken, sold), bytes(32)))
    (alices,) = store.get_page(ALICE.address, 0).events
    assert dict(alices.event.data) == {"member": ALICE.address, "sub_account": 0,
                                       "instrument": "BTC-PERP", "quantity": 5}  # fmt: skip
    bobs = [dict(e.event.data) for e in store.get_page(BOB.address, 0).events]
    assert bobs[0] == {"instrument": "BTC-PERP", "quantity": 5, "counterparty": BOB.address,
                       "counterparty_sub_account": 2}  # fmt: skip
    assert bobs[1]["counterparty"] == HOUSE[0]  # the clearing house is no member's secret
