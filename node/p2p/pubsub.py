"""py-libp2p 0.8.1's Pubsub, repaired where it garbles, loses or forgets a peer.

Every repair of the library's pubsub state lives in this class, each naming the
library code it works around, so that an upgrade of py-libp2p is checked in one place:

- One writer at a time per stream. The library writes to a peer's gossip stream from
  its sending loop and, directly, from GossipSub's `send_recent_messages` (every new
  peer) and `flush_pending_messages`; yamux locks each frame, not each write, so a large
  RPC waiting for window updates was interleaved with a small one and the peer read
  garbage.
- A peer's unreadable stream costs that stream only. That garbage (or any peer's)
  raised protobuf's DecodeError out of `Pubsub.stream_handler`, through the
  connection's nursery, and stopped the host: seen as the 3 MiB transaction of
  tests/node/test_limits_processes.py killing a node.
- Subscriptions belong to the stream they were announced on. A failed write to a peer
  runs `_handle_dead_peer`, which also forgets every subscription the peer announced on
  its inbound stream, still open; the peer announces them once per stream and never
  again, so we stopped sending it anything until links.py closed the connection.
- A reconnection is registered even when it overtakes the old connection's cleanup.
  `_handle_new_peer` skips a peer that still has a stream, and the old connection's
  death, handled later by `handle_dead_peer_queue`, does nothing while the new one is
  up: the stream on the dead connection stayed registered, no stream was opened on the
  new one, the peer never heard our subscriptions, and every redial ended the same way
  (tests/node/p2p/test_gossip_streams.py failed 3 of 8 runs on a loaded machine).
- No dial from the gossip layer. The library opens a peer's gossip stream with
  `host.new_stream`, which dials the peer when its connection is gone; a connection
  refused after the handshake (a ban, a peer not allowed) was closed by the time
  `_handle_new_peer` ran, so each refusal set off one more dial, outside the host's
  backoff (node/p2p/host.py `keep_connected` owns redialling): a stream is opened
  only on a connection still open.
- No gossip with a peer the host does not admit (node/p2p/door.py closes its
  connection, but only after the library's `connected` notifee has queued the peer):
  no stream is opened to it, so it hears neither our subscriptions nor any message, and
  its inbound stream is reset unread, so its subscriptions and GRAFTs never reach the
  router. (Not the library's blacklist: it also drops every message a peer published,
  relayed by anyone, and an observer one validator allows may publish through it.)
- No gossip before the genesis handshake (node/p2p/genesis.py): the stream to a peer is
  opened, and the peer's own is read, only once the peer said it runs our genesis; a
  peer of another genesis gets neither.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any
from weakref import WeakKeyDictionary

import trio
from libp2p.abc import INetStream
from libp2p.network.stream.net_stream import StreamState
from libp2p.peer.id import ID
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub as LibraryPubsub

log = logging.getLogger(__name__)

_UNREADABLE = (StreamState.CLOSE_READ, StreamState.CLOSE_BOTH, StreamState.RESET, StreamState.ERROR)


class Pubsub(LibraryPubsub):
    """The library's Pubsub with the repairs listed in this module's docstring."""

    def __init__(
        self,
        *args: Any,
        counters: Counter[tuple[str, str]],
        admits: Callable[[ID], bool],
        wait_for_genesis: Callable[[ID], Awaitable[bool]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.counters = counters
        self.admits = admits
        self.wait_for_genesis = wait_for_genesis
        """Whether a peer runs our genesis, once its handshake says (node/p2p/genesis.py)."""
        self.peer_queues = _SizedQueues(self.max_inbound_rpc_size)
        self._write_locks: WeakKeyDictionary[INetStream, trio.Lock] = WeakKeyDictionary()
        self.sent_bytes: Counter[str] = Counter()
        """Bytes of the RPCs written, by the topic of the message they carry ("control" for
        subscriptions and GossipSub's control messages alone)."""
        self.writing: Counter[ID] = Counter()
        """Bytes of the writes to each peer under way or waiting for the stream (LinkWatch)."""
        self.registering: Counter[ID] = Counter()
        """Attempts under way to open each peer's gossip stream (LinkWatch)."""
        self._inbound: dict[ID, INetStream] = {}
        """Each peer's newest inbound gossip stream: its subscriptions were announced there."""

    async def write_msg(self, stream: INetStream, rpc_msg: rpc_pb2.RPC) -> bool:
        lock = self._write_locks.setdefault(stream, trio.Lock())
        peer, size = stream.muxed_conn.peer_id, rpc_msg.ByteSize()
        self.writing[peer] += size
        try:
            async with lock:
                written = bool(await super().write_msg(stream, rpc_msg))
            if written:
                topics = rpc_msg.publish[0].topicIDs if rpc_msg.publish else ()
                self.sent_bytes[topics[0] if topics else "control"] += size
            return written
        finally:
            self.writing[peer] -= size
            if self.writing[peer] <= 0:
                del self.writing[peer]

    async def stream_handler(self, stream: INetStream) -> None:
        peer = stream.muxed_conn.peer_id
        if not self.admits(peer) or not await self.wait_for_genesis(peer):
            self.counters["gossip", "stream_refused"] += 1
            await _reset_quietly(stream)
            return
        self._inbound[peer] = stream
        try:
            await super().stream_handler(stream)
        except Exception as exc:  # a peer's bytes, never a reason to stop the host
            self._forget_inbound(peer, stream)
            self.counters["gossip", "stream_failed"] += 1
            log.warning("gossip stream from %s dropped: %s: %s", peer, type(exc).__name__, exc)
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await _reset_quietly(stream)
            self._handle_dead_peer(peer)
        finally:
            self._forget_inbound(peer, stream)

    def _forget_inbound(self, peer: ID, stream: INetStream) -> None:
        if self._inbound.get(peer) is stream:
            del self._inbound[peer]

    def _handle_dead_peer(self, peer_id: ID) -> None:
        kept = self._get_announced_topics(peer_id) if self._has_readable_inbound(peer_id) else []
        super()._handle_dead_peer(peer_id)
        for topic in kept:
            self.handle_subscription(peer_id, rpc_pb2.RPC.SubOpts(subscribe=True, topicid=topic))

    def _has_readable_inbound(self, peer: ID) -> bool:
        """Whether the stream `peer` announced its subscriptions on can still carry more.

        Every path that gives up an inbound stream resets it first (the library's and
        `stream_handler` above), so a stream still readable is one the peer keeps using.
        """
        stream = self._inbound.get(peer)
        return (
            stream is not None
            and not stream.muxed_conn.is_closed
            and getattr(stream, "_state", None) not in _UNREADABLE
        )

    def _get_announced_topics(self, peer: ID) -> list[str]:
        return [topic for topic, peers in self.peer_topics.items() if peer in peers]

    async def _handle_new_peer(self, peer_id: ID) -> None:
        self.registering[peer_id] += 1
        try:
            await self._open_gossip_stream(peer_id)
        finally:
            self.registering[peer_id] -= 1
            if self.registering[peer_id] <= 0:
                del self.registering[peer_id]

    async def _open_gossip_stream(self, peer_id: ID) -> None:
        if not self.admits(peer_id) or not self._has_live_connection(peer_id):
            return
        if not await self.wait_for_genesis(peer_id) or not self._has_live_connection(peer_id):
            return
        stream = self.peers.get(peer_id)
        if stream is not None and not self._is_on_live_connection(peer_id, stream):
            log.debug("dropping %s's gossip stream on a closed connection", peer_id)
            self.counters["gossip", "stale_stream_dropped"] += 1
            self._unregister_outbound(peer_id)
        await super()._handle_new_peer(peer_id)

    def _has_live_connection(self, peer: ID) -> bool:
        return any(not c.is_closed for c in self.host.get_network().get_connections(peer))

    def _is_on_live_connection(self, peer: ID, stream: INetStream) -> bool:
        muxed = stream.muxed_conn
        return not muxed.is_closed and any(
            conn.muxed_conn is muxed for conn in self.host.get_network().get_connections(peer)
        )

    def _unregister_outbound(self, peer: ID) -> None:
        """What `_handle_dead_peer` undoes of our side of the peer, and no more: the peer's
        subscriptions may already have come in on the new connection."""
        del self.peers[peer]
        queue = self.peer_queues.pop(peer, None)
        if queue is not None:
            queue.close()
        self.router.remove_peer(peer)


async def _reset_quietly(stream: INetStream) -> None:
    try:
        await stream.reset()
    except Exception as exc:  # already broken: the reset was only to tell the peer
        log.debug("reset of a failed gossip stream: %s", exc)


class _SizedQueues(dict[ID, Any]):
    """py-libp2p 0.8.1 gives each peer's outbound queue a 1 MiB RPC cap of its own and
    silently drops a bigger RPC ("oversized"): a proposal carrying a full block would
    never leave. Each new queue gets the cap our largest topic needs instead."""

    def __init__(self, max_message_size: int) -> None:
        super().__init__()
        self.max_message_size = max_message_size

    def __setitem__(self, peer: ID, queue: Any) -> None:
        queue.max_message_size = self.max_message_size
        super().__setitem__(peer, queue)
