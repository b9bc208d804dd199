"""GossipSub with direct topics: what a node of the clique publishes there reaches every
peer from its publisher, and nobody relays it.

The validators' nodes all connect to each other (each lists the others as persistent
peers, docs/operator.md). GossipSub floods a message to the publisher's mesh and each
receiver relays it to its own mesh, so among n fully connected nodes every message is
sent (n - 1)^2 times: 9 copies of each transaction and vote with 4 validators, 36 with
7, where n - 1 reach everyone, and py-libp2p spends milliseconds of CPU on each.
A node sends its own message to every peer subscribed to the topic, on every topic
(go-libp2p's flood publish, on there by default): the mesh alone misses a peer whose
GRAFT is still on its way, and a node just connected published to an empty mesh, so its
price, proof share or bridge observation (and, without a clique, a transaction taken
with 202) reached nobody. On a direct topic (`tx`, `consensus`), a message whose origin
is a node of the clique is relayed only to peers outside it (full nodes and observers,
which may connect to a few validators only), and to the clique peers that said they are not
linked to its origin (node/p2p/clique_links.py: a link between two validators that
broke). A message from anyone else (a full node or observer taking a member's
transaction) is relayed as on any topic. A clique node a
link failure cut off from a publisher asks a peer for what it missed as soon as that
peer's message shows it (consensus/repair.py, node/engine/repair_fetch.py: a proposal a vote
names, the commit of a height the peer moved past), the transactions a compact proposal
names when it comes (node/p2p/txfetch.py), and hears the rest when a height stalls: every
node re-gossips what it holds of the height's live rounds as its own (`Engine.gossip`). Without a
clique (a genesis naming no validator's peer id) every topic relays as GossipSub does.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any

from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import GossipSub
from libp2p.pubsub.pb import rpc_pb2

from node.p2p.clique_links import CliqueLinks


class Router(GossipSub):
    """py-libp2p's GossipSub with direct topics (see the module's docstring)."""

    def __init__(self, *args: Any, direct_topics: frozenset[str], **kwargs: Any) -> None:
        # py-libp2p 0.8.1's adaptive gossip judges a mesh below `degree` unhealthy (every
        # mesh of a network of up to 7 validators) and then sets the heartbeat to 60 s,
        # not faster as it means to: the mesh was repaired once a minute, and the message
        # cache, shifted by the heartbeat, held five minutes of gossip, some 20,000
        # messages and 80 MB at 2,000 trades/s (python -m bench soak). Off, it still
        # notes the time of every message published and never trims that list.
        super().__init__(*args, **{**kwargs, "adaptive_gossip_enabled": False})
        self.recent_message_deliveries = defaultdict(partial(deque, maxlen=0))  # type: ignore[arg-type]
        self.direct_topics = direct_topics
        self.clique: frozenset[str] | None = None
        """The clique's peer ids (the validators' nodes), None: unknown, relay everything."""
        self.links = CliqueLinks()
        """What each clique peer said it is linked to."""

    def _get_peers_to_send(
        self,
        topic_ids: Iterable[str],
        msg_forwarder: ID,
        origin: ID,
        msg_id: bytes | None = None,
    ) -> Iterator[ID]:
        topics = list(topic_ids)
        assert self.pubsub is not None
        own = self.pubsub.my_id
        if msg_forwarder == origin == own:
            yield from self._get_subscribed(topics) - {own}
            return
        direct = self.clique is not None and set(topics) <= self.direct_topics
        if not direct:
            yield from super()._get_peers_to_send(topics, msg_forwarder, origin, msg_id)
            return
        assert self.clique is not None
        peers = super()._get_peers_to_send(topics, msg_forwarder, origin, msg_id)
        if str(origin) not in self.clique:
            yield from peers
            return
        yield from (p for p in peers if str(p) not in self.clique)
        yield from self._get_cut_off(topics, msg_forwarder, origin)

    def _get_subscribed(self, topics: list[str]) -> set[ID]:
        """The peers subscribed to any of `topics`."""
        assert self.pubsub is not None
        return {p for t in topics for p in self.pubsub.peer_topics.get(t, ())}

    def _get_cut_off(self, topics: list[str], forwarder: ID, origin: ID) -> Iterator[ID]:
        """The clique peers subscribed to `topics` that said they are not linked to
        `origin`, a clique member (node/p2p/clique_links.py): they hear its messages
        only through a relay."""
        assert self.pubsub is not None
        cut_off = self.links.get_cut_off(str(origin))
        if not cut_off:
            return
        subscribed = self._get_subscribed(topics)
        skip = {forwarder, self.pubsub.my_id}
        yield from (p for p in subscribed - skip if str(p) in cut_off)

    async def publish(self, msg_forwarder: ID, pubsub_msg: rpc_pb2.Message) -> None:
        """The library's publish, unless it is a relay that reaches nobody (the clique's
        messages relayed by a clique node with no peer outside it): then only what that
        publish keeps is kept, the spam and equivocation records and the message cache
        (an IWANT may ask for it). The library would still build the RPC and our signed
        peer record (our addresses parsed again for each: about 100 µs) for nobody, and
        every node relays every message of the others: most of an idle node's gossip
        CPU. Nothing else of that publish applies: it notifies v1.3 observers and sends
        IDONTWANT to v1.2 peers, and our protocols are v1.1 and v1.0."""
        if not self._reaches_nobody(msg_forwarder, pubsub_msg):
            await super().publish(msg_forwarder, pubsub_msg)
        elif self._check_spam_protection(msg_forwarder, pubsub_msg) and self._check_equivocation(
            pubsub_msg
        ):
            self.mcache.put(pubsub_msg)

    def _reaches_nobody(self, forwarder: ID, msg: rpc_pb2.Message) -> bool:
        """A relay on direct topics of a clique node's message with no peer to send it to
        (`_get_peers_to_send`, as the library's publish asks it) and no peer subscribed
        whose gossip stream is not open yet (the library queues for such a peer)."""
        assert self.pubsub is not None
        topics = list(msg.topicIDs)
        if self.clique is None or forwarder == self.pubsub.my_id:
            return False
        origin = ID(msg.from_id)
        if not set(topics) <= self.direct_topics or str(origin) not in self.clique:
            return False
        connected = self.pubsub.peers
        if any(p in connected for p in self._get_peers_to_send(topics, forwarder, origin)):
            return False
        subscribed = self._get_subscribed(topics)
        return all(
            p in self.peer_protocol or p in self.direct_peers
            for p in subscribed - {forwarder, origin}
        )
