"""A peer's GossipSub stream carries whole RPCs even when the library writes to it from
two tasks at once; bytes on it that do not parse cost that stream, never the host nor
the peer's subscriptions; a reconnection is heard even when it overtakes the cleanup
of the connection it replaces."""

from __future__ import annotations

import trio
from libp2p.peer.id import ID
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub_notifee import PubsubNotifee
from libp2p.utils.varint import encode_varint_prefixed

from node.p2p import P2PNode, Topic, open_p2p
from node.p2p.connections import disconnect_quietly
from tests.node.p2p.support import (
    config,
    count_dead_links_closed,
    decode_note,
    note,
    peer_id_of,
    receive,
)
from tests.node.p2p.test_host import free_port

LARGE = 3 << 20
"""Far beyond yamux's initial 256 KiB window: the write waits for window updates."""
BIG_TOPICS = [Topic("big", LARGE + 1024, decode_note)]


def unsubscribed_rpc(data: bytes) -> rpc_pb2.RPC:
    """An RPC the receiver parses and then skips: its topic is nobody's."""
    return rpc_pb2.RPC(publish=[rpc_pb2.Message(topicIDs=["nobody"], data=data)])


async def test_a_small_rpc_written_during_a_large_one_is_not_spliced_into_it() -> None:
    async with (
        open_p2p(config("a"), BIG_TOPICS) as a,
        open_p2p(config("b"), BIG_TOPICS) as b,
    ):
        await a.connect(b.listen_addrs()[0])
        await a.wait_for_mesh("big", 1)
        await b.wait_for_mesh("big", 1)
        stream = a._pubsub.peers[ID.from_base58(b.peer_id)]
        window = stream.muxed_stream.send_window
        async with trio.open_nursery() as nursery:
            # GossipSub's send_recent_messages racing the sending loop: the small RPC
            # is written while the large one is under way
            nursery.start_soon(a._pubsub.write_msg, stream, unsubscribed_rpc(b"x" * LARGE))
            while stream.muxed_stream.send_window == window:
                await trio.sleep(0)
            nursery.start_soon(a._pubsub.write_msg, stream, unsubscribed_rpc(b"y"))
        await a.publish("big", note("after both"))
        assert await receive(b, "big") == (a.peer_id, "after both")
        assert b.counters["gossip", "stream_failed"] == 0


async def test_an_unparsable_rpc_drops_the_stream_and_the_link_comes_back() -> None:
    a_port = free_port()
    a_addr = f"/ip4/127.0.0.1/tcp/{a_port}/p2p/{peer_id_of('a')}"
    async with open_p2p(config("b", persistent_peers=(a_addr,)), BIG_TOPICS) as b:
        a_cfg = config("a", listen_port=a_port, persistent_peers=(b.listen_addrs()[0],))
        async with open_p2p(a_cfg, BIG_TOPICS) as a:
            await a.wait_for_mesh("big", 1)
            await b.wait_for_mesh("big", 1)
            to_a = b._pubsub.peers[ID.from_base58(a.peer_id)]
            await to_a.write(encode_varint_prefixed(b"\xff" * 8))
            with trio.fail_after(10):
                while a.counters["gossip", "stream_failed"] == 0:
                    await trio.sleep(0.02)
            # protobuf framing is signed by nobody: an honest library produced it above
            assert a.scores.get_score(b.peer_id) == 0
            await _wait_until_heard(b, a, within_s=4)
            await _wait_until_heard(a, b, within_s=4)
            # Both sides kept the other's subscriptions: no link went deaf, none was closed.
            assert count_dead_links_closed(a, b) == [0, 0]


async def _wait_until_heard(sender: P2PNode, receiver: P2PNode, within_s: float) -> None:
    """Publishes from `sender` until `receiver` gets it, for less than the link watch's
    `link_stall_s`: a deaf link would otherwise be healed by a closed connection."""
    with trio.fail_after(within_s):
        while True:
            await sender.publish("big", note("still here"))
            with trio.move_on_after(0.5):
                assert await receive(receiver, "big") == (sender.peer_id, "still here")
                return


async def test_a_reconnection_that_overtakes_the_old_connections_cleanup_is_heard() -> None:
    a_port = free_port()
    async with open_p2p(config("b"), BIG_TOPICS) as b:
        a_cfg = config("a", listen_port=a_port, persistent_peers=(b.listen_addrs()[0],))
        async with open_p2p(a_cfg, BIG_TOPICS) as a:
            await a.wait_for_mesh("big", 1)
            await b.wait_for_mesh("big", 1)
            # a's GRAFT may still be queued behind the mesh: written to the dropped stream
            # it would make the library forget b before the redial, with nothing left to
            # overtake. A message heard each way flushes both queues.
            await _wait_until_heard(a, b, within_s=4)
            await _wait_until_heard(b, a, within_s=4)
            a_network = a._host.get_network()
            notifee = next(n for n in a_network.notifees if isinstance(n, PubsubNotifee))
            # a's pubsub hears of the dropped connection only after a has redialled
            held_send, held = trio.open_memory_channel[ID](8)
            notifee.dead_peers_queue, library_queue = held_send, notifee.dead_peers_queue
            old = a_network.get_connections(ID.from_base58(b.peer_id))[0]
            await disconnect_quietly(b._host, ID.from_base58(a.peer_id))
            # until the new connection's genesis handshake and its gossip stream are done:
            # a new connection alone let the held notice in first on a loaded machine
            with trio.fail_after(10):
                while a.counters["gossip", "stale_stream_dropped"] == 0:
                    await trio.sleep(0.02)
            assert [c for c in a_network.get_connections(ID.from_base58(b.peer_id))
                    if c is not old and not c.is_closed]  # fmt: skip
            notifee.dead_peers_queue = library_queue
            held_send.close()
            async for late in held:
                await library_queue.send(late)
            await _wait_until_heard(b, a, within_s=4)
            await _wait_until_heard(a, b, within_s=4)
            assert a.counters["gossip", "stale_stream_dropped"] == 1
            assert count_dead_links_closed(a, b) == [0, 0]
