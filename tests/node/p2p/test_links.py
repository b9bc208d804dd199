"""A peer's gossip link must heal, and a ban must never stop the node (real hosts, 127.0.0.1).

Both reproduce py-libp2p 0.8.1 failures seen under load: see node/p2p/links.py.
"""

from __future__ import annotations

import itertools

import trio
from libp2p.peer.id import ID
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.rpc_queue import RpcQueue

from node.p2p import Offence, ScoreParams, open_p2p
from node.p2p.links import MIN_SEND_RATE, LinkWatch
from tests.node.p2p.support import (
    TOPICS,
    break_gossip_link,
    config,
    count_dead_links_closed,
    line,
    note,
    receive,
)

FAST_REDIAL = {"backoff_base_s": 0.05, "backoff_cap_s": 0.2, "link_stall_s": 1.0}


async def test_a_peer_whose_gossip_stream_broke_hears_again_on_the_same_connection() -> None:
    """a's write to b fails while the connection stays up; py-libp2p re-opens a stream and
    would have forgotten b's subscriptions (b deaf to a until the connection dropped)."""
    async with open_p2p(config("a", link_stall_s=1.0), TOPICS) as a:
        b_cfg = config("b", persistent_peers=(a.listen_addrs()[0],), **FAST_REDIAL)
        async with open_p2p(b_cfg, TOPICS) as b:
            await a.wait_for_mesh("tx", 1)
            await b.wait_for_mesh("tx", 1)
            await a.publish("tx", note("before"))
            assert await receive(b, "tx") == (a.peer_id, "before")
            await break_gossip_link(a, b.peer_id)
            with trio.fail_after(20):
                for i in itertools.count():
                    await a.publish("tx", note(f"after {i}"))
                    with trio.move_on_after(0.2):
                        delivery = await b.messages("tx").receive()
                        assert delivery.value.startswith("after ")  # type: ignore[attr-defined]
                        break
            await trio.sleep(2 * a.config.link_stall_s)  # a deaf link is closed by then
            assert count_dead_links_closed(a, b) == [0, 0]
            assert len(a.connected_peers()) == 1


async def test_banning_a_peer_we_are_gossiping_to_does_not_stop_the_node() -> None:
    """b bans a while b's writes to a are in flight; the node keeps relaying a - b - c."""
    async with line("a", "b", "c", scores=ScoreParams(ban_at=-50, ban_s=60)) as (a, b, c):
        async with trio.open_nursery() as nursery:

            async def chatter() -> None:
                for i in itertools.count():
                    await b.publish("tx", note(f"chatter {i}"))
                    await trio.sleep(0)

            nursery.start_soon(chatter)
            await receive(a, "tx")
            b.penalize(a.peer_id, Offence.OVERSIZED)
            assert b.is_banned(a.peer_id)
            with trio.fail_after(10):
                while a.peer_id in b.connected_peers():
                    await b.watch.changed.wait()
            nursery.cancel_scope.cancel()
        while True:  # drain c's inbox of the chatter
            try:
                c.messages("tx").receive_nowait()
            except trio.WouldBlock:
                break
        await b.publish("tx", note("still running"))
        with trio.fail_after(10):
            while (await receive(c, "tx"))[1] != "still running":
                pass
        await c.publish("prices", note("and relaying"))
        assert await receive(b, "prices") == (c.peer_id, "and relaying")


class Pubsub:
    """The three tables of py-libp2p's Pubsub that LinkWatch reads."""

    def __init__(self, peer: ID, stream: object) -> None:
        self.peers = {peer: stream}
        self.peer_queues = {peer: RpcQueue()}
        self.peer_topics = {"tx": {peer}}
        self.writing: dict[ID, int] = {}
        self.registering: dict[ID, int] = {}


class Stream:
    """An outbound gossip stream; LinkWatch tells streams apart by identity only."""


async def test_a_queue_that_stops_draining_is_a_dead_link_and_a_draining_one_is_not() -> None:
    peer = ID(b"\x00\x01")
    pubsub = Pubsub(peer, Stream())
    watch = LinkWatch(pubsub, stall_s=3.0)
    queue = pubsub.peer_queues[peer]
    for _ in range(3):
        queue.push(rpc_pb2.RPC())
    assert watch.find_dead_links({peer}, now=0.0) == []
    await queue.pop()  # the sending loop makes progress: nothing is stuck yet
    assert watch.find_dead_links({peer}, now=1.0) == []
    for now in (2.0, 3.0, 4.0):  # stuck since 2.0, but not yet for 3 s
        assert watch.find_dead_links({peer}, now=now) == []
    assert [p for p, _ in watch.find_dead_links({peer}, now=5.0)] == [peer]


async def test_a_queue_behind_a_large_write_gets_time_for_its_bytes() -> None:
    peer = ID(b"\x00\x01")
    pubsub = Pubsub(peer, Stream())
    watch = LinkWatch(pubsub, stall_s=3.0)
    pubsub.peer_queues[peer].push(rpc_pb2.RPC())
    pubsub.writing[peer] = 4 * MIN_SEND_RATE  # a large RPC still flowing: 3 + 4 s allowed
    assert watch.find_dead_links({peer}, now=0.0) == []  # first sight of the head
    for now in (1.0, 3.0, 5.0, 7.0):  # the same head since 1.0
        assert watch.find_dead_links({peer}, now=now) == []
    assert [p for p, _ in watch.find_dead_links({peer}, now=8.0)] == [peer]


async def test_a_peer_known_in_no_topic_is_a_dead_link_and_a_replaced_stream_is_not() -> None:
    peer = ID(b"\x00\x01")
    pubsub = Pubsub(peer, Stream())
    watch = LinkWatch(pubsub, stall_s=3.0)
    assert watch.find_dead_links({peer}, now=0.0) == []
    pubsub.peers[peer] = Stream()  # re-opened by the library on the same connection
    assert watch.find_dead_links({peer}, now=0.5) == []
    pubsub.peer_topics["tx"].clear()
    for now in (1.0, 2.0, 3.0):
        assert watch.find_dead_links({peer}, now=now) == []
    ((_, reason),) = watch.find_dead_links({peer}, now=4.0)
    assert "no subscription" in reason
    assert watch.find_dead_links(set(), now=5.0) == []


async def test_a_connected_peer_never_given_a_gossip_stream_is_a_dead_link() -> None:
    peer = ID(b"\x00\x01")
    pubsub = Pubsub(peer, Stream())
    del pubsub.peers[peer]  # py-libp2p gave up registering it (unexpected error)
    watch = LinkWatch(pubsub, stall_s=3.0)
    assert watch.find_dead_links({peer}, now=0.0) == []
    assert watch.find_dead_links({peer}, now=2.0) == []
    ((_, reason),) = watch.find_dead_links({peer}, now=3.0)
    assert "no gossip stream" in reason


async def test_a_gossip_stream_still_being_opened_is_no_dead_link_however_slow() -> None:
    peer = ID(b"\x00\x01")
    pubsub = Pubsub(peer, Stream())
    del pubsub.peers[peer]
    pubsub.registering[peer] = 1  # a loaded peer answers the stream's negotiation slowly
    watch = LinkWatch(pubsub, stall_s=3.0)
    for now in (0.0, 2.0, 4.0, 6.0, 8.0):
        assert watch.find_dead_links({peer}, now=now) == []
    del pubsub.registering[peer]  # the attempt ended without a stream: the clock starts
    for now in (9.0, 10.0, 11.0):
        assert watch.find_dead_links({peer}, now=now) == []
    ((_, reason),) = watch.find_dead_links({peer}, now=12.0)
    assert "no gossip stream to the peer for 3.0s" in reason


async def test_a_symptom_seen_once_after_the_process_itself_stalled_is_not_yet_lasting() -> None:
    peer = ID(b"\x00\x01")
    pubsub = Pubsub(peer, Stream())
    del pubsub.peers[peer]
    watch = LinkWatch(pubsub, stall_s=3.0)
    assert watch.find_dead_links({peer}, now=0.0) == []
    assert watch.find_dead_links({peer}, now=10.0) == []  # we did not run for 10 s
    pubsub.peers[peer] = Stream()  # the backlog, once run, registers it
    assert watch.find_dead_links({peer}, now=10.5) == []
