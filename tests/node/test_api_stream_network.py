"""On a real 4-validator network (`clearnode start` processes, libp2p on loopback, SQLite):
while two members trade, the public event stream of a node carries block headers and
nothing of theirs, and a member's signed stream carries its own fills as they commit."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from clearing.eip712 import compute_signable, sign_typed
from clearing.transition.member_requests import ACCOUNT_EVENTS_FIELDS
from clearing.transition.trade import Trade, sign_trade_batch
from clearing.transition.tx import encode_tx
from clearnode.client.sandbox_keys import MemberKey, derive_ed25519_key, derive_member_key
from node.clock import wall_clock_ms
from tests.clearing.support import new_sandbox
from tests.node.netproc import ORACLE_OFF, SHORT_TIMEOUTS
from tests.node.netsupport import MSGPACK, fund_and_authorise
from tests.node.nodenet import open_node_network

pytestmark = pytest.mark.slow

LOTS, PRICE = 13, 60_123_000
"""Numbers no public fact happens to hold."""


def stream_body(member: MemberKey, chain_id: int) -> dict[str, Any]:
    message = {"member": "0x" + member.address.hex(), "fromHeight": 0,
               "issuedAtMs": time.time_ns() // 1_000_000}  # fmt: skip
    signable = compute_signable(chain_id, "AccountStream", ACCOUNT_EVENTS_FIELDS, message)
    signature = sign_typed(member.private_key, signable)
    return {"chainId": chain_id, "message": message, "signature": "0x" + signature.hex()}


async def test_the_public_stream_shows_blocks_and_a_member_s_stream_its_fills(
    tmp_path: Path,
) -> None:
    box = new_sandbox()
    box.clock_ms = wall_clock_ms
    alice, bob = derive_member_key("m0"), derive_member_key("m1")
    public = bytearray()
    fills: list[dict[str, Any]] = []
    async with (
        open_node_network(tmp_path, extra_config=ORACLE_OFF + SHORT_TIMEOUTS) as net,
        httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as client,
        trio.open_nursery() as nursery,
    ):
        await net.wait_for_height(1)
        url = f"http://127.0.0.1:{net.homes[0].api_port}"
        subscribed = trio.Event()

        async def read_public() -> None:
            async with client.stream("GET", url + "/v1/events") as response:
                async for chunk in response.aiter_bytes():
                    public.extend(chunk)
                    subscribed.set()

        async def read_own() -> None:
            body = stream_body(alice, box.chain_id)
            async with client.stream("POST", url + "/v1/accounts/stream", json=body) as response:
                assert response.status_code == 200
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        row = json.loads(line[6:])
                        if row["kind"] == "fill":
                            fills.append(row)

        nursery.start_soon(read_public)
        nursery.start_soon(read_own)
        await subscribed.wait()
        hashes = await fund_and_authorise(client, url, box, (alice, bob))
        venue = derive_ed25519_key("venue-alpha")
        with trio.fail_after(60):
            batch_id = 0
            while len(fills) < 2:  # resubmitted until the authorisations have committed
                batch_id += 1
                trades = (Trade(batch_id, "BTC-PERP", alice.address, 0, bob.address, 0,
                                PRICE, LOTS),)  # fmt: skip
                batch = encode_tx(
                    sign_trade_batch(
                        venue, box.chain_id, "alpha", batch_id, trades, *box.get_times()
                    )
                )
                response = await client.post(
                    url + "/v1/trade-batches", content=batch, headers=MSGPACK
                )
                assert response.status_code == 202, response.text
                hashes.append(response.json()["tx_hash"])
                await trio.sleep(0.5)
        height = max(f["height"] for f in fills)
        with trio.fail_after(30):
            while f'"height":{height + 1},'.encode() not in public:
                await trio.sleep(0.1)
        nursery.cancel_scope.cancel()
    sides = {(f["fields"]["side"], f["fields"]["quantity"], f["fields"]["price"]) for f in fills}
    assert sides == {("buy", LOTS, PRICE)}
    assert all(f["fields"]["member"] == "0x" + alice.address.hex() for f in fills)
    text = public.decode()
    assert set(re.findall(r"^event: (\S+)$", text, re.MULTILINE)) <= {"block", "prices"}
    assert f'"height":{height},' in text
    for member in (alice, bob):
        assert member.address.hex() not in text.lower()
    for tx_hash in hashes:
        assert tx_hash[2:] not in text
    assert str(PRICE) not in text and not re.search(rf"\b{LOTS}\b", text)
    assert "fill" not in text and "member" not in text
