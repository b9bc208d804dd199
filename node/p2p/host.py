"""The libp2p host of a node: opened with its topics and protocols (`open_p2p`), its
persistent peers kept connected and its links watched (`P2PNode`).

py-libp2p is patched and the host built in node/p2p/library.py; who may talk to the host
is node/p2p/door.py's to say, the genesis handshake every new connection starts with
node/p2p/handshake.py's, gossip node/p2p/gossip.py's (over the library's pubsub state,
repaired: node/p2p/pubsub.py) and request streams node/p2p/requests.py's. Here
(docs/architecture.md lists the measured pitfalls worked around): message sequence
numbers start from the nanosecond clock, failed dials are retried by us with backoff, a
peer's connection is closed when py-libp2p has gone deaf to it (node/p2p/links.py) or
probes find it silent (node/p2p/probes.py), so that the redial restores it, and the host
is closed explicitly so peers notice at once.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import multiaddr
import trio
from libp2p.abc import INetConn, INetStream
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.pubsub.gossipsub import PROTOCOL_ID, PROTOCOL_ID_V11
from libp2p.tools.anyio_service import background_trio_service

from node.clock import wall_clock_ms
from node.p2p.clique_links import MAX_LINKS_BYTES, decode_links, encode_links
from node.p2p.clique_links import PROTOCOL as CLIQUE_LINKS_PROTOCOL
from node.p2p.connections import (
    ConnectionWatch,
    close_host,
    close_peer,
    disconnect_quietly,
    get_live_connections,
)
from node.p2p.door import Door
from node.p2p.errors import P2PError, RequestFailed
from node.p2p.genesis import (
    GENESIS_PROTOCOL,
    OTHER_GENESIS_REDIAL_S,
    GenesisGate,
    OtherGenesisPeers,
)
from node.p2p.gossip import Gossip, Topic
from node.p2p.handshake import GenesisHandshake
from node.p2p.library import TcpNoAnswer, build_host, describe_dial_failure, get_dial_cause
from node.p2p.links import LinkWatch
from node.p2p.peer_links import LIBP2P, PeerLinks
from node.p2p.probes import (
    PROBE_BYTES,
    PROBE_PROTOCOL,
    PROBE_TIMEOUT_S,
    UNANSWERED_TO_CLOSE,
    QuietLinks,
    answer_probe,
)
from node.p2p.pubsub import Pubsub
from node.p2p.requests import Requests
from node.p2p.router import Router
from node.p2p.scoring import PeerScores, ScoreParams, compute_backoff_s
from node.worktime import WorkTime
from records.codec import DecodeError

log = logging.getLogger(__name__)

# meshsub 1.2 is not offered: py-libp2p 0.8.1 answers every received message with an
# IDONTWANT to each mesh peer, each carrying the sender's signed peer record, rebuilt
# (gossipsub.emit_control_message -> peerstore.env_to_send_in_RPC) and signature-checked
# by the receiver (pubsub.utils.maybe_consume_signed_record). Measured here with four
# hosts (tests/node/p2p/stress.py, 20 notes/s each): 4.0 -> 2.25 CPU-s for the same run,
# p50 latency at load 9 from 30-1600 ms to 10-17 ms. go-libp2p sends IDONTWANT only
# for messages above 1 KiB; duplicates of our batches cost less than this.
GOSSIP_PROTOCOLS = [PROTOCOL_ID_V11, PROTOCOL_ID]


@dataclass(frozen=True)
class HostConfig:
    """`key_seed` is the 32-byte Ed25519 seed of the node identity (peer id)."""

    key_seed: bytes
    listen_host: str = "127.0.0.1"
    listen_port: int = 0
    persistent_peers: tuple[str, ...] = ()
    heartbeat_s: int = 1
    muxer: str = "yamux"
    mesh_degree: int = 6
    publish_queue_high: int = 16
    publish_wait_s: float = 0.5
    """Longest a publish waits for a long peer queue: one stuck peer must not stall all."""
    link_check_s: float = 0.5
    link_stall_s: float = 5.0
    """A peer whose outbound gossip queue has not moved this long is disconnected."""
    backoff_base_s: float = 0.2
    backoff_cap_s: float = 5.0
    unanswered_backoff_cap_s: float = 1.0
    """The backoff's cap after dials that no host answered (`TcpNoAnswer`): each costs
    the peer nothing but a SYN, and while a link is down the next one is what finds it
    back."""
    request_timeout_s: float = 10.0
    scores: ScoreParams = field(default_factory=ScoreParams)
    allowed_peers: frozenset[str] | None = None
    """Peer ids this host talks to at start (`P2PNode.set_allowed_peers` replaces them); a
    connection with anyone else is closed after the Noise handshake, unanswered and
    unscored. None: everyone (the library's own tests)."""
    genesis_hash: bytes | None = None
    """SHA-256 of this node's genesis file: a peer whose handshake names another is refused
    (node/p2p/genesis.py). None: no handshake (the library's own tests)."""

    def is_allowed(self, peer: str) -> bool:
        return self.allowed_peers is None or peer in self.allowed_peers


class P2PNode:
    """A running host; obtained from `open_p2p`, valid until its context exits.

    Its collaborators, each with the state of its own: who may talk to it (node/p2p/door.py,
    bans and scores included), the genesis handshake (node/p2p/handshake.py), gossip
    (node/p2p/gossip.py) and request streams (node/p2p/requests.py). Itself it keeps the
    connections: persistent peers redialled, links watched and probed, the clique told
    which of it this node is linked to.
    """

    def __init__(
        self,
        config: HostConfig,
        host: Any,
        pubsub: Pubsub,
        router: Router,
        topics: Sequence[Topic],
        nursery: trio.Nursery,
        counters: Counter[tuple[str, str]],
        work: WorkTime,
        gate: GenesisGate,
    ) -> None:
        self.config = config
        self.work = work
        self.sent_bytes = pubsub.sent_bytes
        """Bytes written to peers: gossip by topic (node/p2p/pubsub.py), requests and
        responses by protocol."""
        self._host = host
        self._pubsub = pubsub
        self._router = router
        self._nursery = nursery
        self.scores = PeerScores(config.scores)
        # (topic, outcome) -> count; outcomes: published, delivered, rejected, dropped
        self.counters = counters
        self.watch = ConnectionWatch(self._welcome)
        self._links = LinkWatch(pubsub, config.link_stall_s)
        self._quiet = QuietLinks()
        self.peer_links = PeerLinks(wall_clock_ms)
        """Each persistent peer's link (connected, since when, the last dial's error)."""
        self.peer_id = str(host.get_id())
        self.other_genesis = OtherGenesisPeers()
        """Peers refused for another genesis, here and (on CometBFT) by CometBFT."""
        self._door = Door(
            host, config.allowed_peers, gate, self.scores, self.watch, nursery, counters
        )
        self._handshake = GenesisHandshake(
            host, self._door, self.other_genesis, self.watch, counters
        )
        self._gossip = Gossip(
            host, pubsub, topics, self._door, self.scores, self._quiet,
            config.publish_wait_s, config.publish_queue_high, counters, work,
        )  # fmt: skip
        self._requests = Requests(
            host, self._door, self._quiet, config.request_timeout_s, self.sent_bytes, counters
        )
        pubsub.admits = lambda peer: self._door.admits(str(peer))
        # what the rest of the node asks of the host, answered by its collaborators
        self.is_allowed = self._door.is_allowed
        self.set_allowed_peers = self._door.set_allowed_peers
        self.is_banned = self._door.is_banned
        self.penalize = self._door.penalize
        self.connected_peers = self._door.get_connected
        self.get_topic = self._gossip.get_topic
        self.messages = self._gossip.messages
        self.publish = self._gossip.publish
        self.is_congested = self._gossip.is_congested
        self.set_request_handler = self._requests.set_handler
        self.request = self._requests.request
        self.ask = self._requests.ask

    def _welcome(self, conn: INetConn) -> None:
        """A new connection: closed at once if its peer may not talk to us, else its
        genesis handshake begins."""
        if not self._door.refuses(conn) and self._door.gate.ours is not None:
            self._nursery.start_soon(self._handshake.shake_hands, conn)

    # -- connections -------------------------------------------------------------

    def listen_addrs(self) -> list[str]:
        """Dialable multiaddrs of this node, each ending in /p2p/<peer id>."""
        return [f"{addr}/p2p/{self.peer_id}" for addr in self._host.get_transport_addrs()]

    @property
    def allowed_peers(self) -> frozenset[str] | None:
        return self._door.allowed_peers

    def set_clique(self, peers: frozenset[str] | None) -> None:
        """The nodes that all connect to each other (the validators'), whose messages on
        direct topics are relayed only to those not linked to their origin
        (node/p2p/clique_links.py); None: relay everything."""
        self._router.clique = peers
        self._router.links.clique = peers or frozenset()

    async def tell_clique_links(self) -> None:
        """Tells each connected clique peer which of the clique this node is linked to,
        when that changes or the peer is new to it (node/p2p/clique_links.py); runs
        forever."""
        telling: set[str] = set()
        while True:
            await trio.sleep(self.config.link_check_s)
            live, due = self._router.links.get_due(self.peer_id, self.connected_peers())
            for peer in set(due) - telling:
                telling.add(peer)
                self._nursery.start_soon(self._tell_links, peer, live, telling)

    async def _tell_links(self, peer: str, live: frozenset[str], telling: set[str]) -> None:
        links = self._router.links
        try:
            said = await self.ask(peer, CLIQUE_LINKS_PROTOCOL, encode_links(live),
                                  MAX_LINKS_BYTES, MAX_LINKS_BYTES, decode_links)  # fmt: skip
            links.note_said(peer, said)
            links.told[peer] = live
        except DecodeError as exc:
            log.info("clique links from %s refused: %s", peer, exc)
        except RequestFailed:
            pass  # told at the next look, if it is still connected
        finally:
            telling.discard(peer)

    async def _answer_links(self, peer: str, data: bytes) -> bytes:
        links = self._router.links
        links.note_said(peer, decode_links(data))
        return encode_links(links.get_live(self.peer_id, self.connected_peers()))

    def get_gossip_stream(self, peer: str) -> INetStream | None:
        """The stream this node gossips to `peer` on, if the library holds one."""
        return self._pubsub.peers.get(ID.from_base58(peer))

    def get_mesh_peers(self, topic: str) -> list[str]:
        """Peers this node relays `topic` to directly (its GossipSub mesh)."""
        return sorted(str(p) for p in self._router.mesh.get(self._gossip.get_topic(topic).name, ()))

    async def wait_for_mesh(self, topic: str, count: int) -> None:
        """Returns once `count` peers are in this node's mesh for `topic`."""
        while len(self.get_mesh_peers(topic)) < count:
            changed = self.watch.changed
            with trio.move_on_after(0.02):
                await changed.wait()

    async def connect(self, addr: str) -> str:
        """Dials `addr` (a multiaddr with /p2p/), and no other address of the peer; returns
        the peer id. Raises RequestFailed.

        The library dials every address its peer store holds for a peer, and the signed
        peer record each gossip RPC carries adds the peer's own listen addresses there: a
        redial after a link broke would go wherever the peer listens, around the address
        its operator gave (a sentry, a tunnel, a proxy), and, if that one refused, reach
        it anyway by the other. A persistent peer is reached as configured, as CometBFT's
        `persistent_peers` are with its peer exchange off."""
        info = info_from_p2p_addr(multiaddr.Multiaddr(addr))
        self._host.get_peerstore().clear_addrs(info.peer_id)
        self._host.get_network().unblock_peer(info.peer_id)
        if self._host.get_network().get_connections(info.peer_id) and not get_live_connections(
            self._host, info.peer_id
        ):
            # Closed but still registered: the library would take it for a connection.
            self.counters["connections", "stale_dropped"] += 1
            await disconnect_quietly(self._host, info.peer_id)
        try:
            await self._host.connect(info)
        except Exception as exc:  # py-libp2p raises many unrelated types for one failed dial
            raise RequestFailed(str(info.peer_id), "dial", describe_dial_failure(exc)) from exc
        return str(info.peer_id)

    async def keep_connected(self, addr: str) -> None:
        """Redials `addr` whenever it is not connected, backing off after failures; runs
        forever. Not while the peer is banned or not allowed (a validator governance
        removed: dialled again once it is allowed again).

        A connection that closes before it has lasted `backoff_cap_s` counts as a failed
        dial: a peer that bans us closes each connection after the handshake, and on a
        loaded machine that close can land after the first link check, which must not
        reset the backoff (the ban would cost both sides a handshake every link check).
        """
        peer = str(info_from_p2p_addr(multiaddr.Multiaddr(addr)).peer_id)
        failures = 0
        while True:
            connected = peer in self.connected_peers()
            # either side's dial: two validators are each other's persistent peers
            self.peer_links.record_link(LIBP2P, peer, connected)
            if self._door.is_banned(peer) or connected or not self.is_allowed(peer):
                await self._wait_for_change()
                continue
            cap_s = self.config.backoff_cap_s
            try:
                await self.connect(addr)
                if not await self._door.gate.wait(peer):
                    theirs = self._door.gate.get_other_genesis(peer)
                    if theirs is not None:
                        reason = f"it runs another genesis ({theirs.hex()[:16]}...)"
                        self.peer_links.record_failure(LIBP2P, peer, reason, logged=True)
                        log.debug("redial %s in %.0fs: another genesis", peer,
                                  OTHER_GENESIS_REDIAL_S)  # fmt: skip
                        await trio.sleep(OTHER_GENESIS_REDIAL_S)
                        continue
                    # A connection no handshake spoke on (two dials crossed, and the one
                    # both spoke on closed) would never be asked again: a new one is.
                    await close_peer(self._host, ID.from_base58(peer))
                    raise RequestFailed(peer, GENESIS_PROTOCOL, "no genesis handshake")
                self.peer_links.record_link(LIBP2P, peer, True)
                opened = trio.current_time()
                while peer in self.connected_peers():
                    await self._wait_for_change()
                lasted_s = trio.current_time() - opened
                if lasted_s >= self.config.backoff_cap_s:
                    failures = 0
                    continue
                reason = f"it closed the connection after {lasted_s:.1f}s (it may have banned us)"
            except RequestFailed as exc:
                reason = exc.reason
                if isinstance(get_dial_cause(exc), TcpNoAnswer):
                    cap_s = self.config.unanswered_backoff_cap_s
            self.peer_links.record_failure(LIBP2P, peer, reason)
            delay = compute_backoff_s(failures, self.config.backoff_base_s, cap_s)
            failures += 1
            log.debug("redial %s in %.2fs: %s", peer, delay, reason)
            await trio.sleep(delay)

    async def _wait_for_change(self) -> None:
        """Until a connection comes or goes, or one link check: a connection can close
        without a disconnect notification (see node/p2p/connections.py `get_live_connections`)."""
        changed = self.watch.changed
        with trio.move_on_after(self.config.link_check_s):
            await changed.wait()

    async def probe_quiet_links(self) -> None:
        """Probes each admitted peer heard nothing from lately (node/p2p/probes.py);
        runs forever."""
        while True:
            await trio.sleep(self.config.link_check_s)
            connected = [str(p) for p in self._door.get_admitted()]
            for peer in self._quiet.get_due(connected, trio.current_time()):
                self._quiet.probing.add(peer)
                self._nursery.start_soon(self._probe, peer)

    async def _probe(self, peer: str) -> None:
        """One probe of `peer`; the connection closed when it makes the link dead."""
        probed_at = trio.current_time()
        try:
            with trio.move_on_after(PROBE_TIMEOUT_S) as waiting:
                try:
                    await self.request(peer, PROBE_PROTOCOL, os.urandom(PROBE_BYTES),
                                       PROBE_BYTES, PROBE_BYTES)  # fmt: skip
                except RequestFailed:
                    pass  # answered, if with a refusal: the link carries bytes both ways
            if not waiting.cancelled_caught:
                self._quiet.note_heard(peer, trio.current_time())
            elif self._quiet.is_dead(peer, probed_at):
                log.warning("closing the connection to %s: %d probes unanswered for %.0fs",
                            peer, UNANSWERED_TO_CLOSE, PROBE_TIMEOUT_S)  # fmt: skip
                self.counters["links", "closed_unanswered"] += 1
                await close_peer(self._host, ID.from_base58(peer))
        finally:
            self._quiet.probing.discard(peer)

    async def watch_links(self) -> None:
        """Closes the connection of a peer whose gossip link died; runs forever.

        The redial of persistent peers (ours or the peer's) then opens a fresh
        connection, on which both sides announce their subscriptions again.
        """
        while True:
            await trio.sleep(self.config.link_check_s)
            connected = self._door.get_admitted()
            for peer, reason in self._links.find_dead_links(connected, trio.current_time()):
                log.warning("closing the connection to %s: %s", peer, reason)
                self.counters["links", "closed_dead"] += 1
                await close_peer(self._host, peer)


@asynccontextmanager
async def open_p2p(
    config: HostConfig, topics: Sequence[Topic], work: WorkTime | None = None
) -> AsyncIterator[P2PNode]:
    """Runs a host subscribed to `topics`, dialling the persistent peers, until the block
    exits; `work` hears the time its first-hop checks take."""
    host = build_host(config.key_seed, config.muxer)
    gossipsub = Router(
        direct_topics=frozenset(t.name for t in topics if t.direct),
        protocols=GOSSIP_PROTOCOLS,
        degree=config.mesh_degree,
        degree_low=max(1, config.mesh_degree - 2),
        degree_high=config.mesh_degree + 4,
        heartbeat_interval=config.heartbeat_s,
        heartbeat_initial_delay=0.1,
        spam_protection_enabled=False,
        eclipse_protection_enabled=False,
    )
    biggest = max((t.max_bytes for t in topics), default=1 << 20)
    counters: Counter[tuple[str, str]] = Counter()
    gate = GenesisGate(config.genesis_hash)
    pubsub = Pubsub(
        host,
        gossipsub,
        max_inbound_rpc_size=biggest + 64 * 1024,
        counters=counters,
        admits=lambda peer: config.is_allowed(str(peer)),
        wait_for_genesis=lambda peer: gate.wait(str(peer)),
    )
    # Sequence numbers from the second clock repeat after a fast restart; peers
    # would drop our first messages as already seen.
    pubsub.counter = time.time_ns()
    listen = multiaddr.Multiaddr(f"/ip4/{config.listen_host}/tcp/{config.listen_port}")
    closing = False
    body_error: BaseException | None = None
    try:
        async with host.run([listen]), trio.open_nursery() as nursery:
            async with background_trio_service(pubsub), background_trio_service(gossipsub):
                await pubsub.wait_until_ready()
                node = P2PNode(
                    config, host, pubsub, gossipsub, topics, nursery, counters,
                    WorkTime() if work is None else work, gate,
                )  # fmt: skip
                host.get_network().register_notifee(node.watch)
                await node._gossip.subscribe(nursery)
                for addr in config.persistent_peers:
                    peer = str(info_from_p2p_addr(multiaddr.Multiaddr(addr)).peer_id)
                    node.peer_links.add(LIBP2P, peer, addr)
                    nursery.start_soon(node.keep_connected, addr)
                nursery.start_soon(node.watch_links)
                node.set_request_handler(PROBE_PROTOCOL, answer_probe, PROBE_BYTES)
                nursery.start_soon(node.probe_quiet_links)
                node.set_request_handler(CLIQUE_LINKS_PROTOCOL, node._answer_links, MAX_LINKS_BYTES)
                nursery.start_soon(node.tell_clique_links)
                try:
                    yield node
                    closing = True
                except BaseException as exc:
                    body_error, closing = exc, True
                    raise
                finally:
                    # Connections go first: a pubsub service stopped under live
                    # streams makes the library fail with "nursery is closed".
                    nursery.cancel_scope.cancel()
                    await close_host(host)
        if body_error is not None and not isinstance(body_error, trio.Cancelled):
            # The library's service teardown awaits under our cancelled scope; the
            # Cancelled it gets there replaces the caller's own error, which the
            # scope then swallows. The caller's failure is the one to report.
            raise body_error
        if not closing:
            # A library service that stops cancels our block silently; say so.
            raise P2PError("a py-libp2p service stopped while the host was in use")
    except* RuntimeError as group:
        # Messages still arriving while the library stops its services; nothing is lost
        # that a closing host could have handled. The same error while running is a bug.
        if not (closing and all(_is_teardown_race(exc) for exc in group.exceptions)):
            raise
        log.debug("py-libp2p teardown race ignored: %s", group)
    finally:
        await close_host(host)


def _is_teardown_race(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_teardown_race(e) for e in exc.exceptions)
    return isinstance(exc, RuntimeError) and "closed to new arrivals" in str(exc)
