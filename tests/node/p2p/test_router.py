"""Direct topics: a clique node's message reaches every peer from its publisher and is
not relayed; anyone else's is relayed as GossipSub does."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
import trio
from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import GossipSub
from libp2p.pubsub.pb import rpc_pb2

from node.p2p import P2PNode, Topic, open_p2p
from tests.node.p2p.support import MAX_NOTE, config, decode_note, note, receive

DIRECT = [Topic("tx", MAX_NOTE, decode_note, direct=True)]


@asynccontextmanager
async def hosts(names: list[str], links: list[tuple[int, int]]) -> AsyncIterator[list[P2PNode]]:
    async with AsyncExitStack() as stack:
        nodes = [await stack.enter_async_context(open_p2p(config(n), DIRECT)) for n in names]
        for a, b in links:
            await nodes[b].connect(nodes[a].listen_addrs()[0])
        for i, node in enumerate(nodes):
            await node.wait_for_mesh("tx", sum(i in link for link in links))
        yield nodes


async def test_a_clique_nodes_message_reaches_all_from_it_and_is_not_relayed() -> None:
    async with hosts(["a", "b", "c", "d"], list(itertools.combinations(range(4), 2))) as nodes:
        clique = frozenset(n.peer_id for n in nodes)
        for node in nodes:
            node.set_clique(clique)
        a, *others = nodes
        text = "y" * 200
        await a.publish("tx", note(text))
        for node in others:
            assert await receive(node, "tx") == (a.peer_id, text)
        flood = a.sent_bytes["tx"]
        # each of the others now floods one message of the same size; a peer's queue is
        # written in order, so once all are in, any relay of a's message was written too
        for node in others:
            await node.publish("tx", note(node.peer_id[-1] * 200))
        for node in others:
            heard = {await receive(node, "tx") for _ in range(2)}
            assert heard == {(o.peer_id, o.peer_id[-1] * 200) for o in others if o is not node}
    assert flood >= 3 * len(note(text))
    assert all(n.sent_bytes["tx"] < 1.2 * flood for n in others), [
        flood,
        *(n.sent_bytes["tx"] for n in others),
    ]


async def test_a_relay_inside_the_clique_is_only_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each node relays each message it hears; inside the clique that relay reaches
    nobody, so the library's publish (its RPC, our signed peer record) is not entered
    for it, and the message is cached as that publish would (for an IWANT)."""
    entered: list[bool] = []  # per call of the library's publish: our own message?
    library_publish = GossipSub.publish

    async def publish(self: GossipSub, forwarder: ID, msg: rpc_pb2.Message) -> None:
        assert self.pubsub is not None
        entered.append(forwarder == self.pubsub.my_id)
        await library_publish(self, forwarder, msg)

    monkeypatch.setattr(GossipSub, "publish", publish)
    async with hosts(["a", "b", "c"], list(itertools.combinations(range(3), 2))) as nodes:
        for node in nodes:
            node.set_clique(frozenset(n.peer_id for n in nodes))
        a, *others = nodes
        await a.publish("tx", note("once"))
        for node in others:
            assert await receive(node, "tx") == (a.peer_id, "once")
            assert len(node._router.mcache.window("tx")) == 1
    assert entered == [True]


@asynccontextmanager
async def clique_and_observer() -> AsyncIterator[list[P2PNode]]:
    """a, b and c, the clique, all connected; d, an observer, connected to a alone."""
    async with hosts(["a", "b", "c", "d"], [(0, 1), (0, 2), (1, 2), (0, 3)]) as nodes:
        clique = frozenset(n.peer_id for n in nodes[:3])
        for node in nodes:
            node.set_clique(clique)
        yield nodes


async def test_a_clique_nodes_message_is_relayed_to_peers_outside_the_clique() -> None:
    # a relays b's message to d, not to c
    async with clique_and_observer() as (a, b, c, d):
        await b.publish("tx", note("from a validator"))
        assert await receive(d, "tx") == (b.peer_id, "from a validator")
        assert await receive(c, "tx") == (b.peer_id, "from a validator")
        assert await receive(a, "tx") == (b.peer_id, "from a validator")
    assert c.sent_bytes["tx"] == 0 and a.sent_bytes["tx"] > 0


async def test_a_message_from_outside_the_clique_is_relayed() -> None:
    # a relays d's message to b and c
    async with clique_and_observer() as (a, b, c, d):
        await d.publish("tx", note("from an observer"))
        assert await receive(b, "tx") == (d.peer_id, "from an observer")
        assert await receive(c, "tx") == (d.peer_id, "from an observer")
    assert a.sent_bytes["tx"] > 0


async def test_adaptive_gossip_neither_slows_the_heartbeat_nor_keeps_a_time_per_message() -> None:
    """py-libp2p's adaptive gossip judged a mesh below `degree` (every mesh of a small
    network) unhealthy and slowed the heartbeat to 60 s: the mesh repaired once a minute
    and the message cache, shifted each heartbeat, held five minutes of gossip. With it
    off, the library still noted each published message's time, trimmed only by it. The
    library's heartbeat takes its health step every 30 s; this runs that step at once."""
    async with hosts(["a", "b"], [(0, 1)]) as nodes:
        a, b = nodes
        for i in range(3):
            await a.publish("tx", note(f"m{i}"))
            assert await receive(b, "tx") == (a.peer_id, f"m{i}")
        router = a._router
        assert sum(map(len, router.recent_message_deliveries.values())) == 0
        router.last_health_update = 0
        router._update_network_health()
        router._adapt_gossip_parameters()
        assert router.heartbeat_interval == config("a").heartbeat_s == 1


async def test_a_clique_nodes_message_is_relayed_to_a_member_not_linked_to_it() -> None:
    """a and c are not linked (a partition between them, a link that broke one way and
    was closed): each told b so (node/p2p/clique_links.py), and b relays each one's
    messages to the other; b's own reach both without a relay."""
    async with hosts(["a", "b", "c"], [(0, 1), (1, 2)]) as nodes:
        a, b, c = nodes
        for node in nodes:
            node.set_clique(frozenset(n.peer_id for n in nodes))
        with trio.fail_after(10):
            while {b._router.links.said.get(p) for p in (a.peer_id, c.peer_id)} != {
                frozenset({b.peer_id})
            }:
                await trio.sleep(0.05)
        assert b._router.links.misses(c.peer_id, a.peer_id)
        await a.publish("tx", note("from a"))
        assert await receive(c, "tx") == (a.peer_id, "from a")
        await c.publish("tx", note("from c"))
        assert await receive(a, "tx") == (c.peer_id, "from c")
        await b.publish("tx", note("from b"))
        assert await receive(a, "tx") == (b.peer_id, "from b")
        assert await receive(c, "tx") == (b.peer_id, "from b")


async def test_a_nodes_own_message_reaches_a_subscribed_peer_not_in_its_mesh() -> None:
    """Flood publish, on a topic that is not direct and without a clique: a peer outside
    the publisher's mesh (as one is while its GRAFT is on its way after a connection)
    still hears the publisher's own message."""
    relayed = [Topic("prices", MAX_NOTE, decode_note)]
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(open_p2p(config("a"), relayed))
        b = await stack.enter_async_context(open_p2p(config("b"), relayed))
        await b.connect(a.listen_addrs()[0])
        await a.wait_for_mesh("prices", 1)
        await b.wait_for_mesh("prices", 1)
        b._router.mesh["prices"].clear()
        await b.publish("prices", note("outside the mesh"))
        assert await receive(a, "prices") == (b.peer_id, "outside the mesh")
