"""The devnet's privacy audit: its scan sees each kind of leak (and not what is public),
its crawl of a real API reads every route, finds a route that leaks and refuses a
route it cannot read (CometBFT's audit: test_cometbft_privacy.py)."""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
import trio
import trio.testing

from clearing.governance.queries import get_configuration_view
from consensus.compact import compute_tx_hash
from consensus.types import Block
from devnet.privacy import (
    NUMBER,
    STRANGERS_GUESS,
    Answer,
    AuditError,
    Known,
    Secrets,
    audit,
    collect_secrets,
    crawl_public,
    find_leaks,
    get_configuration_figures,
    read_verifier_page,
    run_in_order,
)
from devnet.sandbox import Sandbox
from node.api.http import Request, Response, json_response
from node.api.openapi import RouteDoc
from node.api.server import ApiApp
from node.verifier.service import GENESIS_OPERATION
from node.verifier.service import OPERATION as VERIFIER_OPERATION
from tests.clearing.default.test_steps import BTC, give
from tests.node.apiserver import serve_app
from tests.node.test_api import ALICE as ALICE_KEY
from tests.node.test_api import BOB as BOB_KEY
from tests.node.test_api import GENESIS, MAX_BODY, NOW_MS, make_app

ALICE = bytes.fromhex("8f1c4d3e2b1a09f8e7d6c5b4a39281706f5e4d3c")
TX = bytes(range(40)) * 2


def secrets() -> Secrets:
    found = Secrets(addresses={ALICE.hex(): "alice"}, positions={("BTC-PERP", 25): "alice's"})
    found.add_amount(123_456_789, "alice's equity")
    found.add_amount(4_500, "alice's tiny cash")  # too few digits to look for
    found.add_tx(TX, "a batch")
    return found


def test_the_scan_sees_an_address_in_any_case_the_bytes_an_amount_and_a_position() -> None:
    checksummed = "0x8F1c4D3e2B1a09F8e7D6c5B4a39281706F5e4d3C"
    body = json.dumps(
        {
            "who": checksummed,
            "tx": "0x" + TX.hex(),
            "tx_hash": "0x" + compute_tx_hash(TX).hex(),
            "rows": [{"equity": 123_456_789}, {"instrument": "BTC-PERP", "quantity": 25}],
        }
    )
    assert [leak.what for leak in find_leaks("GET /x", body, secrets())] == [
        "alice's address",
        "the bytes of a batch",
        "the hash of a batch",
        "alice's equity (123456789)",
        "alice's (25)",
    ]


def test_the_scan_sees_an_amount_written_in_its_unit() -> None:
    """The status page writes 123,456,789 quanta of a 6-decimal token as `123.456789 USDC`."""
    for shown in ("123.456789 USDC", "1,234.56789 X", "12,345,678,900.00 Y"):
        body = f"<td>{shown}</td>"
        assert [leak.what for leak in find_leaks("GET /", body, secrets())] == [
            f"alice's equity ({shown.split()[0]})"
        ]
    public = "<td>1.00 USD</td><td>4,500</td><td>0.123 BTC</td><td>60,300.50 USD</td>"
    assert find_leaks("GET /", public, secrets()) == []


def test_the_scan_sees_a_transactions_bytes_in_base64_at_any_offset() -> None:
    """CometBFT's RPC shows each transaction as its base64, and a transaction is never
    the first of a block's: its bytes are found whatever the text around them."""
    for tx in (TX, b"x" + TX, b"xy" + TX[:-1]):
        found = secrets()
        found.add_tx(tx, "a batch")
        body = json.dumps({"txs": [base64.b64encode(b"another tx").decode(),
                                   base64.b64encode(tx).decode()]})  # fmt: skip
        assert "the bytes of a batch" in [leak.what for leak in find_leaks("GET /x", body, found)]
        assert find_leaks("GET /x", body.lower(), found) == []  # base64 is no hex


def test_the_scan_reads_event_stream_data_lines() -> None:
    body = 'event: fill\ndata: {"instrument":"BTC-PERP","quantity":25}\n\n'
    assert [leak.what for leak in find_leaks("GET /v1/events", body, secrets())] == ["alice's (25)"]


def test_public_figures_are_not_leaks() -> None:
    body = json.dumps(
        {
            "openInterest": [{"instrument": "BTC-PERP", "openInterest": 25}],  # an aggregate
            "hash": "0x0123456789abcdef123456789",  # digits inside hex are no amount
            "height": 4_500,
            "total": 1_123_456_789,  # another number that contains the secret's digits
            "other": {"instrument": "ETH-PERP", "quantity": 25},
        }
    )
    assert find_leaks("GET /v1/overview", body, secrets()) == []


def test_an_amount_a_public_price_matches_is_not_looked_for() -> None:
    """A loaded devnet's run (the crash came before the trading) left a member holding its
    opening 200 ETH-PERP lots: at a 5% scan range its initial margin is ten marks, and the
    page's mark price `21.0546 USD` has its digits."""
    mark = 21_054_600
    page = f"<td>ETH-PERP</td><td>{mark / 10**6:.4f} USD</td><td>123.456789 USD</td>"
    found = secrets()
    found.add_amount(10 * mark, "alice's initial margin")
    assert [leak.what for leak in find_leaks("GET /", page, found)] == [
        "alice's initial margin (21.0546)",
        "alice's equity (123.456789)",
    ]
    found.drop_public([mark, 60_000_000])
    assert [leak.what for leak in find_leaks("GET /", page, found)] == [
        "alice's equity (123.456789)"  # what no price matches is still looked for
    ]


def test_an_amount_the_configuration_shows_is_not_looked_for() -> None:
    """A CometBFT devnet's run left a member with a realised P&L of 100,800, the blocks a
    governance vote may last, which `GET /v1/governance/configuration` shows: the audit
    failed the run on a coincidence."""
    state = Sandbox.from_genesis_doc(copy.deepcopy(GENESIS)).state
    voting = state.genesis.governance.max_voting_blocks
    figures = get_configuration_figures(state)
    assert voting in figures and state.genesis.fee_to_insurance_bps in figures
    body = json.dumps(get_configuration_view(state))
    found = secrets()
    found.add_amount(voting, "alice's realised P&L on BTC-PERP")
    leak = f"alice's realised P&L on BTC-PERP ({voting})"
    assert [x.what for x in find_leaks("GET /v1/governance/configuration", body, found)] == [leak]
    found.drop_public(figures)
    assert find_leaks("GET /v1/governance/configuration", body, found) == []
    assert 123_456_789 in found.amounts  # what the configuration does not show is still looked for


async def test_the_reads_run_at_once_and_answer_in_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """What lets the crawl read its event streams side by side (each takes seconds):
    results come in the calls' order, never more than the limit run at once, and an
    error comes out as itself, not in a group. (Which two start first is trio's choice:
    it shuffles tasks started together.)"""
    running: list[int] = []
    most_at_once = 0

    def read(seconds: int) -> Callable[[], Awaitable[int]]:
        async def call() -> int:
            nonlocal most_at_once
            running.append(seconds)
            most_at_once = max(most_at_once, len(running))
            await trio.sleep(seconds)
            running.remove(seconds)
            return seconds

        return call

    assert await run_in_order([read(3), read(1), read(2)], 2) == [3, 1, 2]
    assert most_at_once == 2
    assert trio.current_time() <= 4  # side by side: 6 one after another

    async def refused() -> int:
        raise AuditError("refused")

    with pytest.raises(AuditError, match="refused"):
        await run_in_order([read(1), refused, read(2)], 3)


@pytest.fixture
async def public_api(tmp_path: Path) -> AsyncIterator[tuple[ApiApp, Sandbox, httpx.AsyncClient]]:
    box, _, store, app = make_app(tmp_path)
    give(box.state, ALICE_KEY.address, 10**9 + 7, lots=25)
    give(box.state, BOB_KEY.address, 10**12 + 11, lots=-25)
    async with serve_app(app, MAX_BODY) as client:
        yield app, box, client
    store.close()


def known(box: Sandbox) -> Known:
    params = {"height": ["1"], "hash": [STRANGERS_GUESS], "epoch": ["1"], "id": ["1"]}
    return Known(params, box.chain_id, ALICE_KEY, BOB_KEY, lambda: NOW_MS)


def api_secrets(box: Sandbox, app: ApiApp) -> Secrets:
    names = {ALICE_KEY.address: "alice", BOB_KEY.address: "bob"}
    stored = app.node.get_block(1)
    assert stored is not None
    return collect_secrets(box.state, names, Block.decode(stored.block).txs, set())


async def test_the_crawl_reads_every_public_route_and_finds_nothing_of_the_members(
    public_api: tuple[ApiApp, Sandbox, httpx.AsyncClient],
) -> None:
    app, box, client = public_api
    crawl = await crawl_public(client, str(client.base_url), known(box))
    served = [r for r in app.routes if r.doc.tier != "operator"]
    assert crawl.routes == len(served)
    assert sorted(a.where for a in crawl.own) == [
        "POST /v1/accounts/events (the member's own signature)",
        "POST /v1/accounts/proof (the member's own signature)",
        "POST /v1/accounts/query (the member's own signature)",
        "POST /v1/accounts/stream (the member's own signature)",
        "POST /v1/clearing-members/clients (the member's own signature)",
        "POST /v1/clients/account (the member's own signature)",
    ]
    assert audit(crawl, api_secrets(box, app), "alice") == []


async def test_a_public_route_that_shows_a_members_account_fails_the_audit(
    public_api: tuple[ApiApp, Sandbox, httpx.AsyncClient],
) -> None:
    app, box, client = public_api

    async def leaky(_: Request, __: dict[str, str]) -> Response:
        account = box.state.members[ALICE_KEY.address].sub_accounts[0]
        position = account.positions["BTC-PERP"]
        return json_response(
            200, {"rows": [{"instrument": "BTC-PERP", "quantity": position.quantity}]}
        )

    app.add_routes([(RouteDoc("GET", "/v1/leaky", "getLeaky", "oops", tier="public"), leaky)])
    crawl = await crawl_public(client, str(client.base_url), known(box))
    assert audit(crawl, api_secrets(box, app), "alice") == [
        "privacy: GET /v1/leaky shows alice's BTC-PERP position (25)"
    ]


async def test_the_owner_answers_at_a_later_height_are_seen_with_that_heights_secrets(
    public_api: tuple[ApiApp, Sandbox, httpx.AsyncClient],
) -> None:
    """Members go on trading while the audit reads: the node answers with the owner's
    position of a later height than the secrets were collected at. Those alone would call
    the scan blind; with the later height's secrets added, it sees the owner's answer."""
    app, box, client = public_api
    before = api_secrets(box, app)
    give(box.state, ALICE_KEY.address, 10**9 + 7, lots=30)
    give(box.state, BOB_KEY.address, 10**12 + 11, lots=-30)
    crawl = await crawl_public(client, str(client.base_url), known(box))
    assert audit(crawl, before, "alice") == [
        "privacy: the scan did not find alice's BTC-PERP position in the member's own "
        f"answers ({', '.join(f'{a.where}: {a.describe_status()}' for a in crawl.own)}): "
        "it would miss a leak"
    ]
    before.add(api_secrets(box, app))
    assert before.positions[BTC, 25] == "alice's BTC-PERP position"
    assert audit(crawl, before, "alice") == []


async def test_owner_answers_that_are_refusals_fail_the_audit_naming_their_status(
    public_api: tuple[ApiApp, Sandbox, httpx.AsyncClient],
) -> None:
    # signed at the epoch: the node refuses each of the owner's queries as stale, so the
    # scan never sees what it must be able to see; the failure says why, not what
    app, box, client = public_api
    stale = dataclasses.replace(known(box), clock_ms=lambda: 0)
    crawl = await crawl_public(client, str(client.base_url), stale)
    failures = audit(crawl, api_secrets(box, app), "alice")
    assert len(failures) == 2 and failures[0].startswith(
        "privacy: the scan did not find alice's address in the member's own answers ("
    )
    refused = re.findall(r"\(the member's own signature\): (\d+ \w+)", failures[0])
    assert len(refused) == len(crawl.own) and all(r.startswith("4") for r in refused), refused


async def test_a_route_the_audit_cannot_fill_fails_it(
    public_api: tuple[ApiApp, Sandbox, httpx.AsyncClient],
) -> None:
    app, box, client = public_api

    async def answer(_: Request, __: dict[str, str]) -> Response:
        return json_response(200, {})

    app.add_routes([(RouteDoc("GET", "/v1/x/{code}", "getX", "new", tier="public"), answer)])
    with pytest.raises(AuditError, match=r"/v1/x/\{code\}: the audit has no value for \{code\}"):
        await crawl_public(client, str(client.base_url), known(box))
    app.routes.pop()
    app.add_routes([(RouteDoc("POST", "/v1/y", "postY", "new", tier="member"), answer)])
    with pytest.raises(AuditError, match="a member route the audit cannot sign a request for"):
        await crawl_public(client, str(client.base_url), known(box))


def test_the_verifier_page_as_built_is_no_leak_but_a_changed_one_is_scanned() -> None:
    """Its minified code holds long numbers a member's amount may equal by chance; the
    page as `make install` built it cannot hold the run's data, a changed one can."""
    built = read_verifier_page()
    assert built is not None, "the verifier page is not built: run `make install`"
    found = secrets()
    number = next(int(n) for n in NUMBER.findall(built))
    found.add_amount(number, "alice's cash")
    assert Answer("GET /verify", built, VERIFIER_OPERATION).find_leaks(found) == []
    changed = built.replace("</body>", f"<p>0x{ALICE.hex()}</p></body>")
    leaks = Answer("GET /verify", changed, VERIFIER_OPERATION).find_leaks(found)
    assert {leak.what for leak in leaks} == {"alice's address", f"alice's cash ({number})"}


def test_the_genesis_served_is_the_published_configuration_not_a_leak() -> None:
    """`GET /v1/genesis` is the file the node started with, written before the run: the
    clearing members it names and its numbers are the network's configuration, which a
    member's amount may equal by chance."""
    found = secrets()
    found.add_amount(1_000_000, "alice's cash")
    genesis = json.dumps({"clearing_members": ["0x" + ALICE.hex()], "insurance": 1_000_000})
    assert Answer("GET /v1/genesis", genesis, GENESIS_OPERATION).find_leaks(found) == []
    assert Answer("GET /v1/status", genesis, "getStatus").find_leaks(found)
