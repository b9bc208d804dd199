"""GossipSub with direct topics: what a node of the clique publishes there reaches every
peer from its publisher, and nobody relays it.

The validators' nodes all connect to each other (each lists the others as persistent
peers, docs/operator.md). GossipSub floods a message to the publisher's mesh and each
receiver relays it to its own mesh, so among n fully connected nodes every message is
sent (n - 1)^2 times: 9 copies of each transaction and vote with 4 validators, 36 with
7, where n - 1 reach everyone, and py-libp2p spends milliseconds of CPU on each.
On a direct topic (`tx`, `consensus`), a node sends its own message to every peer
subscribed to the topic (go-libp2p's flood publish), and a message whose origin is a
node of the clique is relayed only to peers outside it (full nodes and observers, which
may connect to a few validators only). A message from anyone else (a full node or
observer taking a member's transaction) is relayed as on any topic. A clique node a
link failure cut off from a publisher still hears its votes and proposals when a
height stalls: every node re-gossips all it holds of the height as its own
(`Engine.gossip`); the transactions it lacks it fetches when a compact proposal names
them (node/txfetch.py). Without a clique (a genesis naming no validator's peer id)
every topic relays as GossipSub does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import GossipSub


class Router(GossipSub):
    """py-libp2p's GossipSub with direct topics (see the module's docstring)."""

    def __init__(self, *args: Any, direct_topics: frozenset[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.direct_topics = direct_topics
        self.clique: frozenset[str] | None = None
        """The clique's peer ids (the validators' nodes), None: unknown, relay everything."""

    def _get_peers_to_send(
        self,
        topic_ids: Iterable[str],
        msg_forwarder: ID,
        origin: ID,
        msg_id: bytes | None = None,
    ) -> Iterator[ID]:
        topics = list(topic_ids)
        direct = self.clique is not None and set(topics) <= self.direct_topics
        if not direct:
            yield from super()._get_peers_to_send(topics, msg_forwarder, origin, msg_id)
            return
        assert self.pubsub is not None and self.clique is not None
        own = self.pubsub.my_id
        if msg_forwarder == origin == own:
            yield from {p for t in topics for p in self.pubsub.peer_topics.get(t, ()) if p != own}
            return
        peers = super()._get_peers_to_send(topics, msg_forwarder, origin, msg_id)
        if str(origin) in self.clique:
            peers = (p for p in peers if str(p) not in self.clique)
        yield from peers
