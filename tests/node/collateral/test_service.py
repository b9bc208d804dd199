"""The bridge service's handling of equivocation: a peer's second content for a deposit
is logged with both and not pooled; this validator never gossips a second one itself."""

from __future__ import annotations

import dataclasses
import logging
from types import SimpleNamespace

import pytest
import trio

from bridge.observation import sign_observation
from clearing.state import ClearingState, initialize_state
from node.collateral.service import BridgeNode
from node.p2p import Delivery
from node.p2p.topics import BRIDGE
from tests.node.collateral.support import CONSENSUS_KEYS, get_genesis, make_observation

GENESIS = get_genesis()
NET = GENESIS.chain_id


class FakeP2P:
    """Records publications; serves the given deliveries, then ends."""

    def __init__(self, deliveries: list[Delivery]) -> None:
        self.published: list[bytes] = []
        self.send, self.receive = trio.open_memory_channel[Delivery](len(deliveries) + 1)
        for delivery in deliveries:
            self.send.send_nowait(delivery)
        self.send.close()

    async def publish(self, topic: str, data: bytes) -> None:
        assert topic == BRIDGE
        self.published.append(data)

    def messages(self, topic: str) -> trio.MemoryReceiveChannel[Delivery]:
        return self.receive


def make_node(
    deliveries: list[Delivery], state: ClearingState | None = None, validator: int | None = 0
) -> tuple[BridgeNode, FakeP2P]:
    """Validator `validator`'s (None: a full node's) bridge service at `state` (genesis')."""
    p2p = FakeP2P(deliveries)
    key = None if validator is None else CONSENSUS_KEYS[validator]
    committed = initialize_state(GENESIS) if state is None else state
    ctx = SimpleNamespace(genesis=GENESIS, p2p=p2p, state=committed, validator_key=key)
    return BridgeNode(ctx), p2p  # type: ignore[arg-type]


async def test_a_validator_never_gossips_a_second_content_for_one_deposit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    node, p2p = make_node([])
    first = make_observation(GENESIS)
    second = dataclasses.replace(first, quanta=6)
    await node.send_deposit(sign_observation(CONSENSUS_KEYS[0], NET, first))
    with caplog.at_level(logging.ERROR):
        await node.send_deposit(sign_observation(CONSENSUS_KEYS[0], NET, second))
    assert len(p2p.published) == 1 and list(node.credits.entries[first.key]) == [first]
    assert (
        "own observation not gossiped" in caplog.text and "quanta 5 kept, 6 refused" in caplog.text
    )


async def test_a_peers_equivocation_is_logged_with_both_and_not_pooled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = make_observation(GENESIS)
    second = dataclasses.replace(first, member=bytes([8]) * 20)
    deliveries = [
        Delivery(BRIDGE, "relay", sign_observation(CONSENSUS_KEYS[1], NET, o))
        for o in (first, second)
    ]
    node, _ = make_node(deliveries)
    with caplog.at_level(logging.WARNING):
        await node.receive()
    assert list(node.credits.entries[first.key]) == [first]
    assert "validator equivocation relayed by relay" in caplog.text
    assert f"member 0x{first.member.hex()} kept, 0x{second.member.hex()} refused" in caplog.text
