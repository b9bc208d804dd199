"""POST /v1/accounts/stream: a member's own events, live, over the real API on 127.0.0.1,
with blocks built by the devnet's sandbox and saved with their history in a NodeStore
file, then published as the runtime does; and what GET /v1/events, which anyone can
open, carries meanwhile."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio

from clearing.eip712 import compute_signable, sign_typed
from clearing.events import make_event
from clearing.transition.member_requests import ACCOUNT_EVENTS_FIELDS
from clearing.transition.tx import encode_tx
from clearnode.client.sandbox_keys import MemberKey, derive_member_key
from devnet.sandbox import Sandbox
from node.api import member_stream
from node.api.member_stream import MemberStreams
from node.storage import NodeStore
from node.storage.history_store import BlockHistory, HistoryRow
from tests.clearing.default.test_steps import give
from tests.clearing.support import USDC
from tests.clearing.test_trade import VENUE, make_batch, make_trade
from tests.node.test_api_member_history import Harness as HistoryHarness
from tests.node.test_api_member_history import serve_harness

ROOT = Path(__file__).resolve().parents[2]
TRADERS = [derive_member_key(f"trader-{n}") for n in range(4)]
DEFAULTER = derive_member_key("defaulter")
LOTS, PRICE = 7, 60_123_000
"""Numbers no public fact happens to hold, so their absence from the bytes means something."""


class Harness(HistoryHarness):
    def fund(self) -> None:
        self.commit(
            [*(self.box.credit(m.address, USDC, 10**12) for m in TRADERS),
             *(self.box.authorise(m, VENUE) for m in TRADERS)]
        )  # fmt: skip

    def trade(self, batch_id: int, buyer: MemberKey, seller: MemberKey) -> bytes:
        raw = encode_tx(
            make_batch(self.box, [make_trade(batch_id, buyer, seller, PRICE, LOTS)], batch_id)
        )
        self.commit([raw])
        return raw


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Harness]:
    async with serve_harness(tmp_path) as parts:
        yield Harness(*parts)


def stream_body(
    box: Sandbox, member: MemberKey, from_height: int = 0, issued_ms: int | None = None,
    signer: MemberKey | None = None,
) -> dict[str, Any]:  # fmt: skip
    message = {
        "member": "0x" + member.address.hex(),
        "fromHeight": from_height,
        "issuedAtMs": now_ms() if issued_ms is None else issued_ms,
    }
    signable = compute_signable(box.chain_id, "AccountStream", ACCOUNT_EVENTS_FIELDS, message)
    signature = sign_typed((signer or member).private_key, signable)
    return {"chainId": box.chain_id, "message": message, "signature": "0x" + signature.hex()}


@dataclass(frozen=True)
class Frame:
    id: str
    event: str
    data: Any


async def read_frames(lines: AsyncIterator[str], count: int, timeout_s: float = 10) -> list[Frame]:
    """The next `count` SSE frames (comments skipped)."""
    frames: list[Frame] = []
    fields: dict[str, str] = {}
    with trio.fail_after(timeout_s):
        async for line in lines:
            if line == "" and fields:
                frames.append(Frame(fields["id"], fields["event"], json.loads(fields["data"])))
                fields = {}
                if len(frames) == count:
                    return frames
            elif not line.startswith(":") and line:
                name, _, value = line.partition(": ")
                fields[name] = value
    return frames


async def read_history(api: Harness, member: MemberKey) -> list[dict[str, Any]]:
    message = {"member": "0x" + member.address.hex(), "fromHeight": 0, "issuedAtMs": now_ms()}
    signable = compute_signable(api.box.chain_id, "AccountEvents", ACCOUNT_EVENTS_FIELDS, message)
    body = {"chainId": api.box.chain_id, "message": message,
            "signature": "0x" + sign_typed(member.private_key, signable).hex()}  # fmt: skip
    response = await api.client.post("/v1/accounts/events", json=body)
    assert response.status_code == 200, response.text
    return list(response.json()["events"])


async def test_the_public_stream_names_no_member_after_trades_and_a_default(
    api: Harness,
) -> None:
    alice, bob, carol, dave = TRADERS
    public = bytearray()
    async with api.client.stream("GET", "/v1/events") as response:
        async with aclosing(response.aiter_bytes()) as chunks:
            public += await anext(chunks)  # ": connected": we are subscribed
            api.fund()
            batch = make_batch(api.box, [make_trade(1, alice, bob, PRICE, LOTS)], 1)
            submitted = await api.client.post(
                "/v1/trade-batches", json={"tx": "0x" + encode_tx(batch).hex()}
            )
            assert submitted.status_code == 202, submitted.text
            api.commit([batch])
            api.trade(2, carol, dave)
            give(api.box.state, DEFAULTER.address, 100_000_000, lots=100)  # below maintenance
            give(api.box.state, bytes([3]) * 20, 10**12, lots=-100)
            defaulted = api.commit()
            assert {"liquidated", "auction_opened"} <= {e.kind for e in defaulted.events}
            with trio.fail_after(10):
                while f'"height":{defaulted.height},'.encode() not in public:
                    public += await anext(chunks)
    text = public.decode()
    kinds = set(re.findall(r"^event: (\S+)$", text, re.MULTILINE))
    assert kinds == {"block", "prices"}
    assert text.count("event: block") == defaulted.height
    for member in [*TRADERS, DEFAULTER]:
        assert member.address.hex() not in text.lower()
    assert submitted.json()["tx_hash"][2:] not in text
    for private in ("member", "quantity", "trade", "liquidat", "auction", str(PRICE)):
        assert private not in text
    assert not re.search(rf"\b{LOTS}\b", text)


async def test_a_member_streams_its_own_fills_and_not_another_s(api: Harness) -> None:
    alice, bob, carol, dave = TRADERS
    api.fund()
    api.trade(1, alice, bob)  # before the subscription: read from the store
    body = stream_body(api.box, alice)
    async with api.client.stream("POST", "/v1/accounts/stream", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        assert "no-store" in response.headers["cache-control"]
        async with aclosing(response.aiter_lines()) as lines:
            stored = await read_frames(lines, 4)  # deposit, authorisation, fill, its fee
            api.trade(2, carol, dave)
            api.trade(3, bob, alice)  # after it: live
            live = await read_frames(lines, 1)
    frames = stored + live
    assert {f.event for f in frames} == {"account_event"}
    fills = [f.data for f in frames if f.data["kind"] == "fill"]
    assert [(f["height"], f["fields"]["side"], f["fields"]["trade_id"]) for f in fills] == [
        (2, "buy", 1), (4, "sell", 3)
    ]  # fmt: skip
    assert all(f.data["fields"]["member"] == "0x" + alice.address.hex() for f in frames)
    seen = json.dumps([f.data for f in frames])
    for other in (bob, carol, dave):
        assert other.address.hex() not in seen
    # the same rows, in the same shape, as the member's history page
    assert [f.data for f in frames] == (await read_history(api, alice))[: len(frames)]
    assert [json.loads(f.id) for f in frames] == [
        {"height": f.data["height"], "seq": f.data["seq"]} for f in frames
    ]


async def test_a_subscription_opens_one_stream_and_only_its_member_s(api: Harness) -> None:
    alice, bob, *_ = TRADERS
    body = stream_body(api.box, alice)
    async with api.client.stream("POST", "/v1/accounts/stream", json=body) as first:
        assert first.status_code == 200
    replayed = await api.client.post("/v1/accounts/stream", json=body)
    assert replayed.status_code == 401, replayed.text
    assert replayed.json()["error"]["type"] == "ReplayedSubscription"
    stale = await api.client.post(
        "/v1/accounts/stream", json=stream_body(api.box, alice, issued_ms=now_ms() - 120_000)
    )
    assert stale.json()["error"]["type"] == "StaleQuery"
    forged = await api.client.post(
        "/v1/accounts/stream", json=stream_body(api.box, alice, signer=bob)
    )
    assert (forged.status_code, forged.json()["error"]["type"]) == (401, "BadSignature")
    # an AccountEvents signature is not an AccountStream one
    message = {"member": "0x" + alice.address.hex(), "fromHeight": 0, "issuedAtMs": now_ms()}
    signable = compute_signable(api.box.chain_id, "AccountEvents", ACCOUNT_EVENTS_FIELDS, message)
    events_body = {"chainId": api.box.chain_id, "message": message,
                   "signature": "0x" + sign_typed(alice.private_key, signable).hex()}  # fmt: skip
    other_kind = await api.client.post("/v1/accounts/stream", json=events_body)
    assert other_kind.json()["error"]["type"] == "BadSignature"


@pytest.mark.parametrize("resume_by", ["Last-Event-ID", "cursor"])
async def test_a_resumed_stream_has_no_gap_and_no_duplicate(
    api: Harness, monkeypatch: pytest.MonkeyPatch, resume_by: str
) -> None:
    monkeypatch.setattr(member_stream, "PAGE_EVENTS", 2)  # the backlog in several pages
    alice, bob, *_ = TRADERS
    api.fund()
    api.trade(1, alice, bob)
    async with api.client.stream(
        "POST", "/v1/accounts/stream", json=stream_body(api.box, alice)
    ) as response:
        async with aclosing(response.aiter_lines()) as lines:
            before = await read_frames(lines, 2)
    for batch_id in range(2, 6):  # committed while the member is away
        api.trade(batch_id, bob if batch_id % 2 else alice, alice if batch_id % 2 else bob)
    body, headers = stream_body(api.box, alice), {}
    if resume_by == "cursor":
        body["cursor"] = json.loads(before[-1].id)
    else:
        headers["Last-Event-ID"] = before[-1].id
    async with api.client.stream(
        "POST", "/v1/accounts/stream", json=body, headers=headers
    ) as response:
        assert response.status_code == 200, await response.aread()
        async with aclosing(response.aiter_lines()) as lines:
            stored = await read_history(api, alice)
            after = await read_frames(lines, len(stored) - len(before))
            api.trade(6, alice, bob)  # and a live one: its fill and fee
            history = await read_history(api, alice)
            after += await read_frames(lines, len(history) - len(stored))
    assert len(history) > len(stored)
    assert [f.data for f in before + after] == history
    assert len(stored) > len(before) + 2 * member_stream.PAGE_EVENTS


async def test_a_block_committed_while_the_backlog_is_read_is_sent_once(
    api: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob, *_ = TRADERS
    api.fund()
    read_history_rows = api.store.read_history

    def read_after_a_commit(
        member: bytes, after: tuple[int, int] | None, limit: int
    ) -> list[HistoryRow]:
        if api.box.state.height < 2:  # the first read: a block commits (and is published) now
            trio.from_thread.run_sync(api.trade, 1, alice, bob)
        return read_history_rows(member, after, limit)

    monkeypatch.setattr(api.store, "read_history", read_after_a_commit)
    body = stream_body(api.box, alice)
    async with api.client.stream("POST", "/v1/accounts/stream", json=body) as response:
        async with aclosing(response.aiter_lines()) as lines:
            frames = await read_frames(lines, 4)  # deposit, authorisation, fill, fee
            api.trade(2, bob, alice)
            frames += await read_frames(lines, 1)
    history = await read_history(api, alice)
    assert [f.data for f in frames] == history[: len(frames)]
    assert frames[-1].data["height"] == 3  # the next block's row, not the fill again


async def test_a_bad_last_event_id_is_refused(api: Harness) -> None:
    for bad in ("12-3", '{"height":-1,"seq":0}', "x" * 100):
        response = await api.client.post(
            "/v1/accounts/stream",
            json=stream_body(api.box, TRADERS[0]),
            headers={"Last-Event-ID": bad},
        )
        assert (response.status_code, response.json()["error"]["type"]) == (400, "BadCursor")


def rows(member: bytes, height: int) -> BlockHistory:
    fill = make_event("fill", member=member, sub_account=0, quantity=1)
    return BlockHistory(height, [HistoryRow(member, height, 0, "tx", 0, fill)])


async def test_a_slow_member_is_dropped_without_blocking_publish(tmp_path: Path) -> None:
    alice, bob = TRADERS[0].address, TRADERS[1].address
    with NodeStore(tmp_path / "node.db") as store:
        streams = MemberStreams(store, buffer=2)
        slow = streams.stream(store, alice, (0, -1))
        assert await anext(slow) == b": connected\n\n"  # subscribed; reads nothing more
        with streams.subscribe(bob) as fast:
            for height in range(1, 6):  # returns at once each time: nobody is waited for
                streams.publish_history(rows(alice, height))
                streams.publish_history(rows(bob, height))
                assert fast.receive_nowait().height == height
            assert streams.subscriber_count == 1  # bob's, which kept up
        frames = [frame async for frame in slow]  # what it held, then the end: no gap
        assert streams.subscriber_count == 0
    heights = [json.loads(f.split(b"\n")[0][4:])["height"] for f in frames]
    assert heights == [1, 2]
