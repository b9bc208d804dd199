"""GossipSub topics as a node sees them: each message checked at the first hop (size cap,
decoder, admission) before it is relayed, then handed to the topic's inbox; publishing
bounded by the peers' queues.

py-libp2p's pubsub (node/p2p/pubsub.py) calls `Gossip.validate` on every message and
hands accepted ones to a 32-slot subscription, which a task of `Gossip.subscribe` drains into the
topic's larger inbox.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import trio
from libp2p.peer.id import ID
from libp2p.pubsub.pb import rpc_pb2

from node.p2p.door import Door
from node.p2p.errors import MessageTooLarge, UnknownTopic
from node.p2p.probes import QuietLinks
from node.p2p.pubsub import Pubsub
from node.p2p.scoring import Offence, PeerScores
from node.worktime import GOSSIP_DECODE, WorkTime

log = logging.getLogger(__name__)

DECODED_STASH = 4096
"""Decoded values waiting between validation and delivery (bounded: a full inbox drops)."""
REJECTED_MEMORY = 16384
"""Ids of refused messages remembered, so their re-deliveries cost nothing."""


@dataclass(frozen=True)
class Topic:
    """A GossipSub topic: size cap and decoder, applied at the first hop before relaying.

    `decode` turns bytes into the value handed to subscribers and raises one of
    `rejects` for anything malformed or invalid; such a message is dropped, not
    relayed, and its forwarder is scored down. It raises one of `ignores` for a
    message that proves nothing against anyone: validly signed but merely too old
    or too early (re-delivered after a restart, late on a loaded network, from a
    validator whose clock is off). Such a message is dropped and not relayed, and
    nobody loses points; `ignores` are checked before `rejects`, so they may be
    subclasses of them.
    """

    name: str
    max_bytes: int
    decode: Callable[[bytes], object]
    rejects: tuple[type[Exception], ...] = (ValueError,)
    ignores: tuple[type[Exception], ...] = ()
    inbox: int = 1024
    direct: bool = False
    """Published by a node of the clique (the validators' nodes), a message reaches every
    peer from its publisher and is not relayed (node/p2p/router.py)."""
    admit: Callable[[str, str, object], bool | Offence] | None = None
    """Stateful first-hop admission of a decoded value (rate limits), run once per message
    with the forwarder's and the publisher's peer ids: True relays it, False drops it
    unpenalised (an honest forwarder may relay what this node's budget refuses), an
    Offence drops it and penalises the forwarder."""


@dataclass(frozen=True)
class Delivery:
    """A validated message from another node."""

    topic: str
    sender: str
    value: object


class Gossip:
    """A host's topics: their first-hop checks, inboxes and publishing."""

    def __init__(
        self,
        host: Any,
        pubsub: Pubsub,
        topics: Sequence[Topic],
        door: Door,
        scores: PeerScores,
        quiet: QuietLinks,
        publish_wait_s: float,
        publish_queue_high: int,
        counters: Counter[tuple[str, str]],
        work: WorkTime,
    ) -> None:
        self._host = host
        self._pubsub = pubsub
        self._door = door
        self._scores = scores
        self._quiet = quiet
        self._publish_wait_s = publish_wait_s
        self._publish_queue_high = publish_queue_high
        self._counters = counters
        self._work = work
        self._topics = {t.name: t for t in topics}
        self._inboxes: dict[
            str, tuple[trio.MemorySendChannel[Delivery], trio.MemoryReceiveChannel[Delivery]]
        ] = {t.name: trio.open_memory_channel[Delivery](t.inbox) for t in topics}
        self._stash: OrderedDict[bytes, object] = OrderedDict()
        self._rejected: OrderedDict[bytes, None] = OrderedDict()
        self._lagging: set[Any] = set()
        """Peers whose long queue made a publish wait its whole `publish_wait_s`: they
        hold no publish back until their queue has drained."""

    async def subscribe(self, nursery: trio.Nursery) -> None:
        """Subscribes to every topic, each message checked by `validate`; `nursery` owns
        the tasks that fill the inboxes."""
        for topic in self._topics.values():
            self._pubsub.set_topic_validator(topic.name, self.validate, False)
            subscription = await self._pubsub.subscribe(topic.name)
            nursery.start_soon(self._pump, topic, subscription)

    def get_topic(self, name: str) -> Topic:
        """The topic this node serves as `name` (its admit holds first-hop state to read)."""
        topic = self._topics.get(name)
        if topic is None:
            raise UnknownTopic(name, tuple(self._topics))
        return topic

    def messages(self, topic: str) -> trio.MemoryReceiveChannel[Delivery]:
        """Validated messages of other nodes on `topic` (own publications are not echoed)."""
        return self._inboxes[self.get_topic(topic).name][1]

    async def publish(self, topic: str, data: bytes) -> None:
        """Gossips `data`; waits while a peer queue is long (py-libp2p drops past 32), but
        at most `publish_wait_s`: a peer whose queue does not drain (py-libp2p ends a
        peer's sending loop at a failed write yet keeps queueing for it) then misses the
        message, instead of every peer missing every message.

        Such a peer then lags, and holds no publish back until its queue is empty: a
        slow reader (a starved full node) would otherwise cost every message of ours
        `publish_wait_s`, and the validators' consensus would move at its pace."""
        spec = self.get_topic(topic)
        if len(data) > spec.max_bytes:
            raise MessageTooLarge(f"message on {topic}", len(data), spec.max_bytes)
        with trio.move_on_after(self._publish_wait_s) as waited:
            while long := self._get_long_queues():
                await trio.sleep(0.002)
        if waited.cancelled_caught:
            self._lagging |= long
            self._counters[topic, "publish_wait_expired"] += 1
        await self._pubsub.publish(topic, data)
        self._counters[topic, "published"] += 1

    def is_congested(self) -> bool:
        """Whether a publish now would wait for a long peer queue (see `publish`)."""
        return bool(self._get_long_queues())

    def _get_long_queues(self) -> set[Any]:
        """Peers a publish waits for: a long queue, not lagging (a drained one no longer
        lags; a disconnected one is forgotten)."""
        queues = self._pubsub.peer_queues
        self._lagging = {p for p in self._lagging if p in queues and len(queues[p]) > 0}
        high = self._publish_queue_high
        return {p for p, q in queues.items() if len(q) > high and p not in self._lagging}

    def validate(self, forwarder: ID, msg: rpc_pb2.Message) -> bool:
        """First-hop check: cap, decode, validate. Decoded value is kept for delivery.

        py-libp2p marks only accepted messages as seen, so a refused one comes back
        with every re-delivery; it is refused again at once, and its forwarder is
        penalised once per message, not once per copy.
        """
        if forwarder == self._host.get_id():
            return True
        self._quiet.note_heard(str(forwarder), trio.current_time())
        peer = str(forwarder)
        key = msg.from_id + msg.seqno
        spec = self._topics.get(msg.topicIDs[0]) if len(msg.topicIDs) == 1 else None
        name = "(unknown topic)" if spec is None else spec.name
        if key in self._rejected:
            self._counters[name, "rejected_again"] += 1
            return False
        if self._door.is_banned(peer):
            # Not remembered: an honest forwarder may relay the same message later.
            self._counters[name, "from_banned"] += 1
            return False
        if not self._door.is_allowed(peer):
            self._counters[name, "from_not_allowed"] += 1
            return False
        if spec is None:
            return self._reject(key, name, peer, Offence.INVALID)
        if len(msg.data) > spec.max_bytes:
            return self._reject(key, name, peer, Offence.OVERSIZED)
        try:
            with self._work.measure(GOSSIP_DECODE):
                value = spec.decode(msg.data)
        except spec.ignores as exc:
            log.debug("ignored %s message from %s: %s", spec.name, peer, exc)
            self._counters[name, "ignored"] += 1
            self._remember_refused(key)
            return False
        except spec.rejects as exc:
            log.info("rejected %s message from %s: %s", spec.name, peer, exc)
            return self._reject(key, name, peer, Offence.INVALID)
        except Exception:
            # A decoder bug must not take the library's pubsub service down (it
            # would stop silently); reject the message and say so loudly.
            log.exception("decoder for %s failed on a message from %s", spec.name, peer)
            return self._reject(key, name, peer, None)
        if spec.admit is not None:
            verdict = spec.admit(peer, str(ID(msg.from_id)), value)
            if verdict is not True:
                offence = verdict if isinstance(verdict, Offence) else None
                return self._reject(key, name, peer, offence)
        self._scores.process_valid(peer)
        self._stash[msg.from_id + msg.seqno] = value
        while len(self._stash) > DECODED_STASH:
            self._stash.popitem(last=False)
        return True

    def _reject(self, key: bytes, topic: str, peer: str, offence: Offence | None) -> bool:
        self._counters[topic, "rejected"] += 1
        self._remember_refused(key)
        if offence is not None:
            self._door.penalize(peer, offence)
        return False

    def _remember_refused(self, key: bytes) -> None:
        self._rejected[key] = None
        while len(self._rejected) > REJECTED_MEMORY:
            self._rejected.popitem(last=False)

    async def _pump(self, topic: Topic, subscription: Any) -> None:
        """Drains the library's 32-slot subscription at once into our larger inbox."""
        send = self._inboxes[topic.name][0]
        own = self._host.get_id().to_bytes()
        while True:
            msg = await subscription.get()
            key = msg.from_id + msg.seqno
            value = self._stash.pop(key, None)
            if msg.from_id == own:
                continue
            if value is None:  # pushed out of the stash: check again
                try:
                    value = topic.decode(msg.data)
                except Exception as exc:  # validated before; now stale (or a decoder bug)
                    log.debug("%s message dropped before delivery: %s", topic.name, exc)
                    self._counters[topic.name, "dropped"] += 1
                    continue
            try:
                send.send_nowait(Delivery(topic.name, str(ID(msg.from_id)), value))
                self._counters[topic.name, "delivered"] += 1
            except trio.WouldBlock:
                self._counters[topic.name, "dropped"] += 1
