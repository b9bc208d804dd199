"""Dead gossip links: find peers py-libp2p has gone deaf to, so their connection can be closed.

Root cause (py-libp2p 0.8.1, libp2p/pubsub/pubsub.py): when a write to a peer's
GossipSub stream fails (`Pubsub.write_msg` catches StreamClosed/StreamReset,
`Pubsub.handle_sending_messages` anything else; a yamux write that waits 5 s for
a window update fails the same way, `YamuxStream.write`), `Pubsub._handle_dead_peer`
drops the stream and its queue, forgets the peer's subscriptions
(`_forget_all_subscriptions`) and, the connection being up, opens a new outbound
stream (`_schedule_peer_stream_retry`). The peer announced its subscriptions once,
in the hello on ITS stream, which is still open; it never announces them again. So
it stays in `Pubsub.peers` with a fresh queue but in no topic and no mesh, and hears
nothing from us until the connection itself drops.

The fix here is to drop that connection: both libraries then forget each other
cleanly, and the redial of persistent peers (ours or theirs, with backoff) opens a
fresh connection on which both hellos, and so both subscriptions, are sent again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from libp2p.peer.id import ID

MIN_SEND_RATE = 256 * 1024
"""Bytes a second the slowest live peer still takes; slower is a dead link."""

MIN_SIGHTINGS = 3
"""A symptom counts only once seen this often: after the process itself stalled for
`stall_s`, the first check runs before the backlog that would clear it."""


@dataclass
class _Symptom:
    since: float
    sightings: int = 1

    def is_lasting(self, now: float, stall_s: float) -> bool:
        return self.sightings >= MIN_SIGHTINGS and now - self.since >= stall_s


@dataclass
class _Link:
    """A peer's outbound gossip stream as first seen, its queue's oldest entry at the
    last check, and the symptoms seen on it so far."""

    stream: Any
    head: object | None
    stalled: _Symptom | None = None
    unsubscribed: _Symptom | None = None


def _observe(symptom: _Symptom | None, present: bool, now: float) -> _Symptom | None:
    if not present:
        return None
    if symptom is None:
        return _Symptom(now)
    symptom.sightings += 1
    return symptom


def get_queue_head(queue: Any) -> object | None:
    """The RPC the peer's sending loop takes next (None when empty or absent).

    Reads py-libp2p 0.8.1 `RpcQueue._queue` (a `PriorityQueue` of two deques,
    priority first): the queue has no public way to tell "draining" from "stuck".
    """
    inner = getattr(queue, "_queue", None)
    for lane in (getattr(inner, "_priority", ()), getattr(inner, "_non_priority", ())):
        if lane:
            return lane[0]
    return None


def is_on_live_connection(stream: Any, live: Sequence[Any]) -> bool:
    """Whether `stream` runs on one of `live` (the peer's current muxed connections)."""
    muxed = getattr(stream, "muxed_conn", None)
    return muxed is not None and not muxed.is_closed and any(muxed is conn for conn in live)


class LinkWatch:
    """Remembers each connected peer's gossip stream and reports the links that died.

    A link is dead when, on the same live connection, the library dropped or replaced
    the peer's outbound gossip stream; when it has had none for `stall_s` (its
    registration gives up on unexpected errors); when it knows no subscription of the
    peer for `stall_s` (what that replacement leaves behind, also when it happened
    before we first looked; every node of ours subscribes to at least one topic); or
    when the peer's queue has not sent its oldest entry for `stall_s`, plus the time the
    writes under way to the peer take at `MIN_SEND_RATE` (a write blocked under a peer
    that stopped reading).
    """

    def __init__(self, pubsub: Any, stall_s: float) -> None:
        self._pubsub = pubsub
        self._stall_s = stall_s
        self._links: dict[ID, _Link] = {}
        self._unregistered: dict[ID, _Symptom] = {}

    def find_dead_links(
        self, connections: Mapping[ID, Sequence[Any]], now: float
    ) -> list[tuple[ID, str]]:
        """(peer, reason) for every connected peer whose gossip link died since the last call.

        `connections` maps each connected peer to its current muxed connections.
        """
        for table in (self._links, self._unregistered):
            for gone in [p for p in table if p not in connections]:
                del table[gone]
        dead = []
        for peer, live in connections.items():
            reason = self._check(peer, live, now)
            if reason is not None:
                dead.append((peer, reason))
                self._links.pop(peer, None)
                self._unregistered.pop(peer, None)
        return dead

    def _check(self, peer: ID, live: Sequence[Any], now: float) -> str | None:
        stream = self._pubsub.peers.get(peer)
        link = self._links.get(peer)
        if (
            link is not None
            and stream is not link.stream
            and is_on_live_connection(link.stream, live)
        ):
            return "gossip stream dropped or re-opened on a live connection"
        if stream is None:
            self._links.pop(peer, None)  # not registered yet, or its connection closed
            unregistered = self._unregistered.setdefault(peer, _Symptom(now, sightings=0))
            unregistered.sightings += 1
            if unregistered.is_lasting(now, self._stall_s):
                return f"no gossip stream to the peer for {now - unregistered.since:.1f}s"
            return None
        self._unregistered.pop(peer, None)
        head = get_queue_head(self._pubsub.peer_queues.get(peer))
        if link is None or stream is not link.stream:
            link = self._links[peer] = _Link(stream, head=None)
        link.unsubscribed = _observe(link.unsubscribed, not self._is_subscribed(peer), now)
        if link.unsubscribed is not None and link.unsubscribed.is_lasting(now, self._stall_s):
            return f"no subscription of the peer known for {now - link.unsubscribed.since:.1f}s"
        stuck = head is not None and head is link.head
        link.head = head
        link.stalled = _observe(link.stalled, stuck, now)
        # The head may wait behind large writes still flowing (a 3 MiB block to a loaded
        # peer takes longer than `stall_s`): closing that connection would make every
        # retry start over. Such writes get time for their bytes at MIN_SEND_RATE.
        allowed_s = self._stall_s + self._pubsub.writing.get(peer, 0) / MIN_SEND_RATE
        if link.stalled is not None and link.stalled.is_lasting(now, allowed_s):
            return f"outbound queue stalled for {now - link.stalled.since:.1f}s"
        return None

    def _is_subscribed(self, peer: ID) -> bool:
        return any(peer in peers for peers in self._pubsub.peer_topics.values())
