"""After a default, the public views (GET /v1/status, GET /v1/overview, the status page)
show the clearing house's lots and the default in aggregate only: no lot quantity, no
instrument of the defaulter's, no member named in a waterfall step. A sum over fewer
than `min_public_contributors` members, or two sums whose difference is fewer members'
figures, are withheld there (node/api/disclosure.py).

The real API and status routes over HTTP on 127.0.0.1, on a real clearing state in
which a member defaulted and its lots went to the house's auction.
"""

from __future__ import annotations

import re
from dataclasses import replace
from types import SimpleNamespace

import httpx

from clearing.default.house import HOUSE
from clearing.risk.engine import get_member_risk
from devnet.sandbox import Sandbox
from node.api.node_interface import LocalNode
from node.api.server import ApiApp
from node.api.tiers import OPERATOR, PUBLIC, Listener
from node.mempool import Mempool
from node.status.service import StatusPage
from node.status.units import Unit, format_shown
from node.txcheck import make_clearing_check
from tests.clearing.default import test_crash_ledger as crash
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
    assert all(
        set(d) == {"height", "kind", "events", "amount", "withheld"} for d in overview["defaults"]
    )
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


def size_the_fund(box: Sandbox) -> list[object]:
    """Blocks up to and including the next epoch's, which sizes the default fund."""
    blocks: list[object] = []
    while not blocks or box.state.height % box.genesis.epoch_length_blocks:
        blocks.append(box.apply([]))
    return blocks


def one_exposed_member() -> tuple[Sandbox, list[object], int]:
    """As the devnet's end can be: the defaulters' lots sit with the house and one member
    holds the only other risk. Its stress loss beyond initial margin (stress_multiple 2,
    a linear perpetual) is its initial margin, so the fund's Cover-2 total is that
    member's initial margin; the member posts it in full."""
    box = crash.crash_box()
    give(box.state, crash.A.address, 10**12, lots=40)
    give(box.state, HOUSE[0], 10**12, lots=-40)
    blocks = size_the_fund(box)
    risk = get_member_risk(box.state, crash.A.address, 0)
    assert risk is not None and risk.initial_margin >= 10**6
    record = box.state.members[crash.A.address]
    assert record.default_fund_required == record.default_fund == risk.initial_margin
    return box, blocks, risk.initial_margin


async def test_a_default_fund_of_one_contributor_is_withheld_from_every_public_view() -> None:
    box, blocks, margin = one_exposed_member()
    operator, public = await crawl(box, blocks, OPERATOR), await crawl(box, blocks)
    asset = box.genesis.settlement_asset
    shown = format_shown(margin, Unit(asset.symbol, asset.decimals))
    fund = httpx.Response(200, text=operator["/v1/overview"]).json()["clearing_house"]
    assert fund["default_fund"]["required"] == margin  # the operator's view keeps it
    assert shown in operator["/"]
    for path, text in public.items():
        assert not re.search(rf"\b{margin}\b", text) and shown not in text, path
    overview = httpx.Response(200, text=public["/v1/overview"]).json()
    df = overview["clearing_house"]["default_fund"]
    assert (df["posted"], df["required"], df["contributors"]) == (None, None, 1)
    assert df["withheld"] == dict.fromkeys(
        ("posted", "required"), "withheld: fewer than 3 contributors"
    )
    history = overview["history"]
    assert history["height"] and set(history["default_fund_required"]) <= {0, None}
    assert "withheld: fewer than 3 contributors" in public["/"]


async def test_required_less_posted_never_shows_one_members_shortfall() -> None:
    """Four members owe the fund and three posted their part; the fourth, with no free
    equity, posted nothing: required less posted would be its requirement."""
    box = crash.crash_box()
    crash.trades(box)  # A and B short of equity for their parts, C and D rich
    give(box.state, crash.B.address, 10**12)  # B can pay now; A still cannot
    size_the_fund(box)
    blocks = size_the_fund(box)
    members = [box.state.members[m.address] for m in (crash.A, crash.B, crash.C, crash.D)]
    short = [m.default_fund_required - m.default_fund for m in members]
    assert sorted(short)[:3] == [0, 0, 0] and max(short) > 0  # the premise: one short
    public = httpx.Response(200, text=(await crawl(box, blocks))["/v1/overview"]).json()
    df = public["clearing_house"]["default_fund"]
    assert df["required"] == sum(m.default_fund_required for m in members)
    assert df["posted"] is None and "difference" in df["withheld"]["posted"]
    assert max(short) not in [d["amount"] for d in public["defaults"]]


async def test_the_public_threshold_is_the_genesis_min_public_contributors() -> None:
    box, blocks, _ = one_exposed_member()
    box.state.genesis = replace(box.state.genesis, min_public_contributors=4)
    give(box.state, OTHER_LONG, 10**12, lots=1)
    give(box.state, C, 10**12, lots=-1)
    give(box.state, A, 10**12, lots=1)
    give(box.state, HOUSE[0], 10**12, lots=-1)  # three long, two short: under 4 a side
    overview = httpx.Response(200, text=(await crawl(box, blocks))["/v1/overview"]).json()
    assert overview["open_interest"][BTC] is None
    assert overview["min_public_contributors"] == 4
    assert overview["clearing_house"]["default_fund"]["withheld"]["required"] == (
        "withheld: fewer than 4 contributors"
    )
