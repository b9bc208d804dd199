"""The public event stream's broker: only kinds declared public in STREAM_KINDS, with
exactly their declared fields, go on it; a slow subscriber is dropped, never waited for."""

from __future__ import annotations

import pytest
import trio

from node.api.events import STREAM_KINDS, EventBroker, UndeclaredEvent

BLOCK = {
    "height": 2, "hash": "0x11", "state_root": "0x22", "time_ms": 0, "txs": 1, "rejected": 0
}  # fmt: skip
MEMBER_FACTS = {
    "member", "counterparty", "sub_account", "tx_hash", "trade_id", "quantity", "amount",
    "quanta", "cash", "equity", "fields",
}  # fmt: skip
"""Field names of a member's own facts (history rows, transaction results)."""


@pytest.mark.parametrize(
    ("kind", "payload", "why"),
    [
        ("tx_accepted", {"tx_hash": "0x" + "ab" * 32}, "is not declared"),
        ("fill", {"member": "0x" + "01" * 20, "quantity": 7}, "is not declared"),
        ("account_event", dict.fromkeys(STREAM_KINDS["account_event"].fields), "for member"),
        ("block", {**BLOCK, "member": "0x" + "01" * 20}, "has fields"),
        ("block", {k: v for k, v in BLOCK.items() if k != "hash"}, "has fields"),
    ],
)
async def test_an_undeclared_event_is_not_published_on_the_public_stream(
    kind: str, payload: dict[str, object], why: str
) -> None:
    broker = EventBroker()
    receive = broker.subscribe()
    with pytest.raises(UndeclaredEvent, match=why) as raised:
        broker.publish(kind, payload)
    assert (raised.value.kind, raised.value.audience) == (kind, "public")
    with pytest.raises(trio.WouldBlock):
        receive.receive_nowait()
    broker.publish("block", BLOCK)
    assert receive.receive_nowait().startswith(b"id: 1\nevent: block\n")


def test_public_kinds_carry_no_member_s_facts() -> None:
    public = {k: v for k, v in STREAM_KINDS.items() if v.audience == "public"}
    assert set(public) == {"block", "prices", "governance"}
    assert all(not (set(v.fields) & MEMBER_FACTS) for v in public.values())


async def test_a_slow_public_subscriber_is_dropped_without_blocking_publish() -> None:
    broker = EventBroker(buffer=2)
    slow, fast = broker.subscribe(), broker.subscribe()
    for height in range(1, 5):  # returns at once each time
        broker.publish("block", {**BLOCK, "height": height})
        assert f'"height":{height},'.encode() in fast.receive_nowait()
    assert broker.subscriber_count == 1
    held = [slow.receive_nowait(), slow.receive_nowait()]
    assert [frame.split(b"\n")[0] for frame in held] == [b"id: 1", b"id: 2"]
    with pytest.raises(trio.EndOfChannel):
        await slow.receive()
