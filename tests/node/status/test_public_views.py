"""After a default, the public views (GET /v1/status, GET /v1/overview, the status page)
show the clearing house's lots and the default in aggregate only: no lot quantity, no
instrument of the defaulter's, no member named in a waterfall step.

The real API and status routes over HTTP on 127.0.0.1, on a real clearing state in
which a member defaulted and its lots went to the house's auction.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import httpx

from clearing.default.house import HOUSE
from clearing.sandbox import Sandbox
from node.api.app import ApiApp
from node.api.node_interface import LocalNode
from node.api.tiers import OPERATOR, PUBLIC, Listener
from node.mempool import Mempool
from node.status.service import StatusPage
from node.status.units import Unit, format_shown
from node.txcheck import make_clearing_check
from tests.clearing.default.test_margin_call import A, C, new_box
from tests.clearing.default.test_steps import BTC, give
from tests.clearing.support import USDC
from tests.node.apiserver import serve_app
from tests.node.status.test_overview import commit

DEFAULTED_LOTS = 1237  # distinctive: it must not appear in any public view
OTHER_LONG = bytes([9]) * 20


def default_into_the_house() -> tuple[Sandbox, list[object]]:
    """A holds DEFAULTED_LOTS long with negative equity: it defaults in the next block and
    every lot goes to the house (the example genesis lists no backstop)."""
    box = new_box()
    box.apply([box.credit(HOUSE[0], USDC, 10**11)])  # the insurance fund
    give(box.state, A, -1_000, lots=DEFAULTED_LOTS)
    give(box.state, OTHER_LONG, 10**12, lots=100)  # open interest is not A's position
    give(box.state, C, 10**13, lots=-DEFAULTED_LOTS - 100)
    block = box.apply([])
    house = box.state.members[HOUSE[0]].sub_accounts[0].positions[BTC].quantity
    assert house == DEFAULTED_LOTS and box.state.auctions  # the premise: lots at auction
    kinds = [e.kind for e in block.events]
    assert "liquidated" in kinds and "auction_opened" in kinds
    return box, [block]


async def crawl(box: Sandbox, blocks: list[object], listener: Listener = PUBLIC) -> dict[str, str]:
    pool = Mempool(make_clearing_check(lambda: box.state), max_tx_bytes=32 * 1024)
    app = ApiApp(LocalNode(box.chain_id, "crawl", pool, lambda: box.state))
    ctx = SimpleNamespace(
        config=SimpleNamespace(moniker="crawl"),
        state=box.state,
        api=app,
        p2p=SimpleNamespace(connected_peers=lambda: []),
    )
    page = StatusPage(ctx)  # type: ignore[arg-type]
    for block in blocks:
        commit(page.journal, block.height, block)  # type: ignore[attr-defined]
        page.history.record(box.state, page.journal.blocks[0])  # what the charts draw
    app.add_routes(page.routes())
    texts = {}
    async with serve_app(app, listener=listener) as client:
        for path in ("/v1/status", "/v1/overview", "/", "/status"):
            response = await client.get(path)
            assert response.status_code == 200, (path, response.text)
            texts[path] = response.text
    return texts


async def test_no_public_view_shows_the_house_lots_or_the_defaulters_position() -> None:
    box, blocks = default_into_the_house()
    texts = await crawl(box, blocks)
    for path, text in texts.items():
        assert not re.search(rf"\b{DEFAULTED_LOTS}\b", text), path
        assert f"{DEFAULTED_LOTS:,}" not in text, path  # nor as the page groups thousands
        assert "quantity" not in text and "counterparty" not in text, path
    overview = httpx.Response(200, text=texts["/v1/overview"]).json()
    fund = overview["clearing_house"]["insurance_fund"]
    assert (fund["positions"], fund["open_auctions"]) == (1, 1)
    shown = {(d["kind"], d["events"]) for d in overview["defaults"]}
    assert ("liquidated", 1) in shown and ("collateral_seized", 1) in shown
    assert all(set(d) == {"height", "kind", "events", "amount"} for d in overview["defaults"])
    assert "in 1 instrument(s), 1 open auction(s)" in texts["/"]
    assert "members" not in overview and "cover_losses" not in texts["/v1/status"]
    assert overview["open_interest"][BTC] is None  # two longs and one short hold it
    assert overview["margin"]["accounts"] >= 3  # counted, not listed
    for member in (A, C, OTHER_LONG):
        assert all(member.hex() not in text.lower() for text in texts.values())


async def test_members_amounts_in_their_unit_are_on_the_operators_page_only() -> None:
    """The page formats amounts (1,234.5 USDC): a member's figure in that form is no more
    public than the integer."""
    box, blocks = default_into_the_house()
    operator, public = await crawl(box, blocks, OPERATOR), await crawl(box, blocks)
    asset = box.genesis.settlement_asset
    money = Unit(asset.symbol, asset.decimals)
    members = httpx.Response(200, text=operator["/v1/overview"]).json()["members"]
    figures = {format_shown(m[k], money) for m in members for k in ("equity", "initial_margin")}
    figures -= {format_shown(0, money)}
    assert figures and all(f in operator["/"] for f in figures)
    assert not [f for f in figures if f in public["/"]]


async def test_the_operator_listener_shows_each_members_margin_health() -> None:
    box, blocks = default_into_the_house()
    texts = await crawl(box, blocks, OPERATOR)
    overview = httpx.Response(200, text=texts["/v1/overview"]).json()
    rows = {row["member"]: row for row in overview["members"]}
    assert overview["open_interest"][BTC] == DEFAULTED_LOTS + 100
    assert "0x" + C.hex() in rows and "0x" + OTHER_LONG.hex() in rows
    assert (
        "id='members'" in texts["/"]
        and "cover_losses" in overview["clearing_house"]["default_fund"]
    )
