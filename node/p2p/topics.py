"""The node's GossipSub topics and the glue between them and the consensus driver.

Every topic decodes with a versioned schema at the first hop: a message that
does not decode is never relayed, and its forwarder is scored down by the p2p
layer.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from clearing.tx import decode_tx
from consensus.messages import Message, decode_message
from lightclient.codec import DecodeError
from node.driver import Driver
from node.limits import MAX_CONSENSUS_GOSSIP_BYTES, MAX_TX_GOSSIP_BYTES
from node.p2p import P2PNode, Topic

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
    """A transaction (a venue's trade batch is one) travels as its own encoding."""
    decode_tx(data)
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


def open_publisher(p2p: P2PNode, topic: str, nursery: trio.Nursery) -> Callable[[bytes], None]:
    """A non-blocking publish (as the consensus Transport asks): a task drains a queue.

    A message already waiting in the queue is not queued again. The engine re-sends a
    stuck height's proposals and votes every second; on a node slower than that (a
    starved CPU) each re-send queued a copy of all of them, fresh votes waited behind
    the copies, rounds timed out, and every new round added more to re-send."""
    send, receive = trio.open_memory_channel[bytes](PUBLISH_QUEUE)
    waiting: set[bytes] = set()

    async def drain() -> None:
        async for data in receive:
            waiting.discard(data)
            await p2p.publish(topic, data)

    nursery.start_soon(drain)

    def publish(data: bytes) -> None:
        if data in waiting:
            p2p.counters[topic, "already_queued"] += 1
            return
        try:
            send.send_nowait(data)
            waiting.add(data)
        except trio.WouldBlock:
            p2p.counters[topic, "dropped"] += 1

    return publish


async def feed_driver(
    p2p: P2PNode, driver: Driver, on_height: Callable[[int], None] | None = None
) -> None:
    """Hands validated consensus messages from peers to the driver; `on_height` learns the
    height each message is for (how far the peers are)."""
    async for delivery in p2p.messages(CONSENSUS):
        assert isinstance(delivery.value, Message)
        if on_height is not None:
            on_height(delivery.value.height)
        driver.deliver(delivery.value, delivery.sender)
