"""The node's GossipSub topics, their decoders, and the queue that publishes on them.

Every topic decodes with a versioned schema at the first hop: a message that
does not decode is never relayed, and its forwarder is scored down by the p2p
layer.
"""

from __future__ import annotations

from collections import deque

import trio

from consensus.messages import Message, decode_message
from node.decoded_txs import decode_once
from node.limits import MAX_CONSENSUS_GOSSIP_BYTES, MAX_TX_GOSSIP_BYTES
from node.p2p import P2PNode, Topic
from records.codec import DecodeError

CONSENSUS = "consensus"
TX = "tx"
PRICES = "prices"
BRIDGE = "bridge"
PUBLISH_QUEUE = 1024


def decode_consensus(data: bytes) -> Message:
    """Proposals (full or compact) and votes, the only consensus messages: sync and the
    transactions a compact proposal names travel over request streams."""
    return decode_message(data)


def decode_tx_gossip(data: bytes) -> bytes:
    """A transaction (a venue's trade batch is one) travels as its own encoding; decoded
    once, for the mempool's check and the block to find."""
    decode_once(data)
    return data


def get_topic(name: str) -> Topic:
    return next(t for t in get_topics() if t.name == name)


def get_topics() -> list[Topic]:
    return [
        Topic(
            CONSENSUS,
            MAX_CONSENSUS_GOSSIP_BYTES,
            decode_consensus,
            (DecodeError,),
            direct=True,
        ),
        Topic(
            TX,
            MAX_TX_GOSSIP_BYTES,
            decode_tx_gossip,
            (DecodeError, ValueError),
            inbox=4096,
            direct=True,
        ),
    ]


class Publisher:
    """The consensus transport over one topic (`consensus.transport.Transport`): both calls
    queue and return at once; one task (`run`) publishes, fresh messages first.

    A re-send (the engine re-gossips a stuck round's live rounds) waits behind every fresh
    message and is dropped, not sent, while a peer's queue is long: re-sends of a stuck
    height's older rounds must not delay the proposal or vote that could end it (debug
    logs of starved nodes showed proposals leaving seconds after they were signed). A
    message already waiting is not queued again: each re-send would otherwise add a copy
    of all of them."""

    def __init__(self, p2p: P2PNode, topic: str) -> None:
        self._p2p = p2p
        self._topic = topic
        self._fresh: deque[bytes] = deque()
        self._resends: deque[bytes] = deque()
        self._waiting: set[bytes] = set()
        self._queued = trio.Event()

    def broadcast(self, data: bytes) -> None:
        if data in self._waiting:
            if data not in self._resends:
                self._p2p.counters[self._topic, "already_queued"] += 1
                return
            self._resends.remove(data)  # a fresh send of what waited as a re-send goes first
        self._queue(self._fresh, data)

    def rebroadcast(self, data: bytes) -> None:
        if data in self._waiting:
            self._p2p.counters[self._topic, "already_queued"] += 1
            return
        self._queue(self._resends, data)

    def _queue(self, queue: deque[bytes], data: bytes) -> None:
        if len(self._fresh) + len(self._resends) >= PUBLISH_QUEUE:
            self._p2p.counters[self._topic, "dropped"] += 1
            return
        queue.append(data)
        self._waiting.add(data)
        self._queued.set()

    async def run(self) -> None:
        while True:
            if not (self._fresh or self._resends):
                self._queued = trio.Event()
                await self._queued.wait()
            resend = not self._fresh
            data = (self._resends if resend else self._fresh).popleft()
            self._waiting.discard(data)
            if resend and self._p2p.is_congested():
                self._p2p.counters[self._topic, "resend_skipped"] += 1
                continue
            await self._p2p.publish(self._topic, data)


def open_publisher(p2p: P2PNode, topic: str, nursery: trio.Nursery) -> Publisher:
    """A `Publisher` of `topic`, its task started in `nursery`."""
    publisher = Publisher(p2p, topic)
    nursery.start_soon(publisher.run)
    return publisher
