"""On a real 4-validator network (libp2p on loopback, SQLite, HTTP API): a member's
history survives a restart of its node, a node whose store predates the history rebuilds
it from its blocks, and both match the member's own replay of its fills from the
committed blocks."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from clearing.eip712 import compute_signable, sign_typed
from clearing.transition.member_requests import ACCOUNT_EVENTS_FIELDS, ACCOUNT_PROOF_FIELDS
from clearing.transition.trade import Trade, TradeBatch, sign_trade_batch
from clearing.transition.tx import decode_tx, encode_tx
from clearnode.client.sandbox_keys import MemberKey, derive_ed25519_key, derive_member_key
from consensus.types import Block
from node.clock import wall_clock_ms
from node.storage import NodeStore
from tests.clearing.support import new_sandbox
from tests.node.netproc import ORACLE_OFF, SHORT_TIMEOUTS, NodeHome
from tests.node.netsupport import MSGPACK, fund_and_authorise
from tests.node.nodenet import NodeNetwork, open_node_network

pytestmark = pytest.mark.slow


def sign_member_query(
    member: MemberKey, chain_id: int, kind: str = "AccountEvents", middle: int = 0
) -> dict[str, Any]:
    """A member's signed query body (`kind` AccountEvents: from height `middle`;
    AccountProof: at height `middle`, 0 the latest), issued now."""
    fields = ACCOUNT_EVENTS_FIELDS if kind == "AccountEvents" else ACCOUNT_PROOF_FIELDS
    message = {"member": "0x" + member.address.hex(), fields[1]["name"]: middle,
               "issuedAtMs": int(time.time() * 1000)}  # fmt: skip
    signable = compute_signable(chain_id, kind, fields, message)
    signature = sign_typed(member.private_key, signable)
    return {"chainId": chain_id, "message": message, "signature": "0x" + signature.hex()}


async def read_history(home: NodeHome, member: MemberKey, chain_id: int) -> list[Any]:
    """Every page of `member`'s history from `home`'s API, signed now."""
    events: list[Any] = []
    cursor = None
    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            body = {**sign_member_query(member, chain_id),
                    **({} if cursor is None else {"cursor": cursor})}  # fmt: skip
            url = f"http://127.0.0.1:{home.api_port}/v1/accounts/events"
            response = await client.post(url, json=body)
            assert response.status_code == 200, response.text
            page = response.json()
            events += page["events"]
            if (cursor := page["nextCursor"]) is None:
                return events


def replay_fills(home: NodeHome, member: bytes) -> list[tuple[int, str, int, int]]:
    """The member's own account of its fills from the node's committed blocks."""
    with NodeStore(home.db) as store:
        txs = [raw for stored in store.iter_blocks(0) for raw in Block.decode(stored.block).txs]
    return get_member_fills(txs, member)


def get_member_fills(txs: Iterable[bytes], member: bytes) -> list[tuple[int, str, int, int]]:
    """Every trade naming `member` in the committed `txs`' batches (these are all cleared:
    the members are funded and flat), as (trade id, side, qty, price)."""
    fills = []
    for raw in txs:
        tx = decode_tx(raw)
        if isinstance(tx, TradeBatch):
            for t in tx.trades:
                for side, who in (("buy", t.buyer), ("sell", t.seller)):
                    if who == member:
                        fills.append((t.trade_id, side, t.quantity, t.price))
    return fills


def get_fills(events: list[Any]) -> list[tuple[int, str, int, int]]:
    return [
        (f["trade_id"], f["side"], f["quantity"], f["price"])
        for f in (e["fields"] for e in events if e["kind"] == "fill")
    ]


async def wait_for_fills(net: NodeNetwork, member: MemberKey, chain_id: int, count: int) -> None:
    with trio.fail_after(60):
        while len(get_fills(await read_history(net.homes[0], member, chain_id))) < count:
            await trio.sleep(0.2)


async def test_history_survives_a_restart_and_matches_the_member_s_replay(
    tmp_path: Path,
) -> None:
    box = new_sandbox()
    box.clock_ms = wall_clock_ms
    alice, bob = derive_member_key("m0"), derive_member_key("m1")
    async with (
        open_node_network(tmp_path, extra_config=ORACLE_OFF + SHORT_TIMEOUTS) as net,
        httpx.AsyncClient(timeout=10) as client,
    ):
        await net.wait_for_height(1)
        url = f"http://127.0.0.1:{net.homes[0].api_port}"
        await fund_and_authorise(client, url, box, (alice, bob))
        await wait_for_event(net, alice, box.chain_id, "venue_authorisation")
        venue = derive_ed25519_key("venue-alpha")
        for batch_id in (1, 2):
            trades = (
                Trade(2 * batch_id, "BTC-PERP", alice.address, 0, bob.address, 0, 60_000_000, 2),
                Trade(2 * batch_id + 1, "BTC-PERP", bob.address, 0, alice.address, 0,
                      60_000_000, 2),
            )  # fmt: skip
            batch = encode_tx(
                sign_trade_batch(venue, box.chain_id, "alpha", batch_id, trades, *box.get_times())
            )
            response = await client.post(url + "/v1/trade-batches", content=batch, headers=MSGPACK)
            assert response.status_code == 202, response.text
        await wait_for_fills(net, alice, box.chain_id, 4)
        before = await read_history(net.homes[0], alice, box.chain_id)
        replayed = replay_fills(net.homes[0], alice.address)
        assert get_fills(before) == replayed and len(replayed) == 4
        assert {e["kind"] for e in before} >= {"collateral_credited", "venue_authorisation"}

        restarted, upgraded = net.homes[0], net.homes[1]
        await net.wait_for_height(net.get_height(restarted))  # every node has the fills
        await net.stop(restarted)
        await net.start(restarted)
        assert await read_history(restarted, alice, box.chain_id) == before

        # a store written before the history existed: the history is rebuilt from blocks
        await net.stop(upgraded)
        with sqlite3.connect(upgraded.db) as db:
            db.execute("DELETE FROM history")
            db.execute("UPDATE meta SET value = 0 WHERE key = 'history_height'")
        await net.start(upgraded)
        assert await read_history(upgraded, alice, box.chain_id) == before


async def wait_for_event(net: NodeNetwork, member: MemberKey, chain_id: int, kind: str) -> None:
    with trio.fail_after(60):
        while not any(
            e["kind"] == kind for e in await read_history(net.homes[0], member, chain_id)
        ):
            await trio.sleep(0.2)
