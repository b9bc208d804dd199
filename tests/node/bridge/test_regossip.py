"""A validator's own bridge messages are gossiped again until the ledger settles them:
2 s after they were sent, then ever more sparsely."""

from __future__ import annotations

from types import SimpleNamespace

import trio
import trio.testing

from clearing.state import initialize_state
from node.bridge.bridge_node import MAX_REGOSSIP_S, REGOSSIP_S, BridgeNode, OwnMessage
from node.p2p.topics import BRIDGE
from tests.node.bridge.support import get_genesis

GENESIS = get_genesis()


class Gossip:
    """What the node publishes, with the (mock) time of each publish."""

    def __init__(self) -> None:
        self.published: list[tuple[float, bytes]] = []

    async def publish(self, topic: str, data: bytes) -> None:
        assert topic == BRIDGE
        self.published.append((trio.current_time(), data))


def test_a_message_is_due_again_at_doubling_intervals_up_to_a_cap() -> None:
    own = OwnMessage.sent_at(b"attestation", 100.0)
    dues = [own.due]
    for _ in range(5):
        own.resent_at(own.due)
        dues.append(own.due)
    assert REGOSSIP_S == 2.0 and MAX_REGOSSIP_S == 16.0
    assert dues == [102.0, 106.0, 114.0, 130.0, 146.0, 162.0]


async def test_unsettled_messages_are_regossiped_when_due_and_settled_ones_never(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gossip = Gossip()
    ctx = SimpleNamespace(genesis=GENESIS, p2p=gossip, state=initialize_state(GENESIS),
                          validator_key=None)  # fmt: skip
    node = BridgeNode(ctx)  # type: ignore[arg-type]
    node.own[("credit", 1)] = OwnMessage.sent_at(b"first", trio.current_time())
    async with trio.open_nursery() as nursery:
        nursery.start_soon(node.regossip)
        await trio.sleep(9.0)
        node.own[("credit", 2)] = OwnMessage.sent_at(b"second", trio.current_time())
        await trio.sleep(31.5)
        del node.own[("credit", 1)]  # settled by a block
        await trio.sleep(20.0)
        nursery.cancel_scope.cancel()
    sent = {data: [t for t, d in gossip.published if d == data] for data in (b"first", b"second")}
    # looked at every 2 s: due at 2, 6, 14, 30, then every 16 s until settled at 40.5
    assert sent[b"first"] == [2.0, 6.0, 14.0, 30.0]
    # sent at 9: due at 11, seen at 12; then 4, 8, 16 and 16 s after each re-send
    assert sent[b"second"] == [12.0, 16.0, 24.0, 40.0, 56.0]
