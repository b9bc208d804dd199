"""Dead gossip links: find peers py-libp2p has gone deaf to, so their connection can be closed.

A link is deaf when the library holds no gossip stream to a connected peer, knows none
of its subscriptions, or has stopped draining its outbound queue. The library's known
causes of the first two are repaired in node/p2p/pubsub.py (forgotten subscriptions
after a failed write, a stream left on a dead connection after a fast reconnect); this
watch is the net under whatever else leaves a peer deaf on a live connection, and a
peer that stopped reading. Dropping that connection makes both libraries forget each
other cleanly, and the redial of persistent peers (ours or theirs, with backoff) opens
a fresh connection on which both hellos, and so both subscriptions, are sent again.
"""

from __future__ import annotations

from collections.abc import Collection
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
            head: object = lane[0]
            return head
    return None


class LinkWatch:
    """Remembers each connected peer's gossip stream and reports the links that died.

    A link is dead when the library has had no outbound gossip stream to the peer, nor
    any attempt to open one under way, for `stall_s` (its registration gives up on
    unexpected errors); when it knows no subscription of the peer for `stall_s` (every
    node of ours subscribes to at least one topic); or when the peer's queue has not
    sent its oldest entry for `stall_s`, plus the time the writes under way to the peer
    take at `MIN_SEND_RATE` (a write blocked under a peer that stopped reading). A
    stream replaced on the same connection is no symptom: node/p2p/pubsub.py keeps the
    peer's subscriptions.
    """

    def __init__(self, pubsub: Any, stall_s: float) -> None:
        self._pubsub = pubsub
        self._stall_s = stall_s
        self._links: dict[ID, _Link] = {}
        self._unregistered: dict[ID, _Symptom] = {}

    def find_dead_links(self, connected: Collection[ID], now: float) -> list[tuple[ID, str]]:
        """(peer, reason) for every connected peer whose gossip link died since the last call."""
        for table in (self._links, self._unregistered):
            for gone in [p for p in table if p not in connected]:
                del table[gone]
        dead = []
        for peer in connected:
            reason = self._check(peer, now)
            if reason is not None:
                dead.append((peer, reason))
                self._links.pop(peer, None)
                self._unregistered.pop(peer, None)
        return dead

    def _check(self, peer: ID, now: float) -> str | None:
        stream = self._pubsub.peers.get(peer)
        link = self._links.get(peer)
        if stream is None:
            self._links.pop(peer, None)  # not registered yet, or its connection closed
            if self._pubsub.registering.get(peer):
                # Its stream is being opened: under load that took 4.8 s past the genesis
                # handshake (longer than `stall_s`), and closing the connection then made
                # the redial start over, as slowly, again and again. An attempt ends (its
                # negotiation is bounded); the clock starts once none is under way.
                self._unregistered.pop(peer, None)
                return None
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
