"""The libp2p host of a node: TCP + Noise + yamux, GossipSub topics, framed request streams.

Everything py-libp2p specific stays in this module and node/p2p/pubsub.py (the
library's pubsub state, repaired; docs/architecture.md lists the measured pitfalls
this code works around): message sequence numbers
start from the nanosecond clock, publishing waits while peer queues are long,
spam protection is off in favour of our own validation and scoring, heartbeat
is 1 s, failed dials are retried by us with backoff, a peer's connection is closed
when py-libp2p has gone deaf to it (node/p2p/links.py) so that the redial restores
it, and the host is closed explicitly so peers notice at once. Every new connection
starts with the genesis handshake (node/p2p/genesis.py): nothing else is exchanged
with a peer until it said it runs our genesis.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import multiaddr
import trio
from libp2p import new_host
from libp2p.abc import INetConn, INetStream, INetwork, INotifee
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.network import swarm as libp2p_swarm
from libp2p.network.config import ConnectionConfig, RetryConfig
from libp2p.network.stream.exceptions import StreamEOF, StreamError
from libp2p.network.swarm import Swarm
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.pubsub.gossipsub import PROTOCOL_ID, PROTOCOL_ID_V11
from libp2p.pubsub.pb import rpc_pb2
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.mplex.mplex import MPLEX_PROTOCOL_ID, Mplex
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux
from libp2p.tools.anyio_service import background_trio_service
from libp2p.transport.exceptions import OpenConnectionError
from libp2p.transport.tcp import tcp as libp2p_tcp

from node.clock import wall_clock_ms
from node.framing import FrameReader, encode_frame
from node.p2p.clique_links import MAX_LINKS_BYTES, decode_links, encode_links
from node.p2p.clique_links import PROTOCOL as CLIQUE_LINKS_PROTOCOL
from node.p2p.errors import FrameError, MessageTooLarge, P2PError, RequestFailed, UnknownTopic
from node.p2p.genesis import (
    GENESIS_PROTOCOL,
    HANDSHAKE_TIMEOUT_S,
    MAX_HELLO_BYTES,
    OTHER_GENESIS_REDIAL_S,
    GenesisGate,
    GenesisHello,
    OtherGenesisPeer,
    OtherGenesisPeers,
)
from node.p2p.links import LinkWatch
from node.p2p.peer_links import LIBP2P, PeerLinks
from node.p2p.peer_records import verify_each_record_once
from node.p2p.probes import (
    PROBE_BYTES,
    PROBE_PROTOCOL,
    PROBE_TIMEOUT_S,
    UNANSWERED_TO_CLOSE,
    QuietLinks,
    answer_probe,
)
from node.p2p.pubsub import Pubsub
from node.p2p.router import Router
from node.p2p.scoring import Offence, PeerScores, ScoreParams, compute_backoff_s
from node.worktime import GOSSIP_DECODE, WorkTime
from records.codec import DecodeError


def route_library_logs() -> None:
    """Sends py-libp2p's records through our handlers, errors only.

    The library turns propagation off and gives some module loggers their own
    INFO level; dial failures are reported by our redial loop instead.
    """
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("libp2p."):
            logging.getLogger(name).setLevel(logging.NOTSET)
    root = logging.getLogger("libp2p")
    root.propagate = True
    root.setLevel(logging.ERROR)
    for noisy in ("libp2p.transport.tcp", "libp2p.host.basic_host"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    swarm = logging.getLogger("libp2p.network.swarm")
    if not any(isinstance(f, _DialFailuresFilter) for f in swarm.filters):
        swarm.addFilter(_DialFailuresFilter())


DIAL_FAILURE_LINES = ("failed to upgrade security for peer", "fail to upgrade mux for peer")


class _DialFailuresFilter(logging.Filter):
    """Drops the library's error line for a dial whose handshake failed: the failure
    reaches our redial as an exception, and a persistent peer that stays unreachable is
    reported there (`PeerLinks`); a peer restarting fails a few handshakes, which is no
    error (the library logged each at error level, every redial)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(DIAL_FAILURE_LINES)


log = logging.getLogger(__name__)

# meshsub 1.2 is not offered: py-libp2p 0.8.1 answers every received message with an
# IDONTWANT to each mesh peer, each carrying the sender's signed peer record, rebuilt
# (gossipsub.emit_control_message -> peerstore.env_to_send_in_RPC) and signature-checked
# by the receiver (pubsub.utils.maybe_consume_signed_record). Measured here with four
# hosts (tests/node/p2p/stress.py, 20 notes/s each): 4.0 -> 2.25 CPU-s for the same run,
# p50 latency at load 9 from 30-1600 ms to 10-17 ms. go-libp2p sends IDONTWANT only
# for messages above 1 KiB; duplicates of our batches cost less than this.
GOSSIP_PROTOCOLS = [PROTOCOL_ID_V11, PROTOCOL_ID]
DECODED_STASH = 4096
"""Decoded values waiting between validation and delivery (bounded: a full inbox drops)."""
REJECTED_MEMORY = 16384
"""Ids of refused messages remembered, so their re-deliveries cost nothing."""
STRANGERS_LOGGED = 4096
"""Refused unknown peers remembered, so each is logged once, not once per attempt."""
STREAM_CLOSE_S = 1.0
"""How long a request's stream may take to close: on a link that stopped delivering the
close may never finish, and a request must not outlive its caller by more than this."""


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


RequestHandler = Callable[[str, bytes], Awaitable[bytes]]


@dataclass(frozen=True)
class _Protocol:
    handler: RequestHandler
    max_request_bytes: int


class _ConnectionWatch(INotifee):
    """Wakes the redial loops when a connection comes or goes; hands each new one to
    `on_connected` (the node refuses banned peers there)."""

    def __init__(self, on_connected: Callable[[INetConn], None]) -> None:
        self.changed = trio.Event()
        self.on_connected = on_connected

    def _notify(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        self.on_connected(conn)
        self._notify()

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        self._notify()

    async def listen(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        return None

    async def listen_close(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        return None


def _stream_reader(stream: INetStream) -> FrameReader:
    async def read(n: int) -> bytes:
        try:
            return bytes(await stream.read(n))
        except StreamEOF:
            return b""

    return FrameReader(read)


class P2PNode:
    """A running host; obtained from `open_p2p`, valid until its context exits."""

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
        self._topics = {t.name: t for t in topics}
        self._inboxes: dict[
            str, tuple[trio.MemorySendChannel[Delivery], trio.MemoryReceiveChannel[Delivery]]
        ] = {t.name: trio.open_memory_channel[Delivery](t.inbox) for t in topics}
        self._stash: OrderedDict[bytes, object] = OrderedDict()
        self._rejected: OrderedDict[bytes, None] = OrderedDict()
        self._protocols: dict[str, _Protocol] = {}
        self._banned: set[str] = set()
        self._refused: Counter[str] = Counter()
        """Connections refused per banned peer, reported when its ban ends."""
        self._strangers: OrderedDict[str, None] = OrderedDict()
        """Peers outside `allowed_peers` refused so far (bounded), each logged once."""
        self._gate = gate
        self.other_genesis = OtherGenesisPeers()
        """Peers refused for another genesis, here and (on CometBFT) by CometBFT."""
        self._lagging: set[Any] = set()
        """Peers whose long queue made a publish wait its whole `publish_wait_s`: they
        hold no publish back until their queue has drained."""
        self.scores = PeerScores(config.scores)
        # (topic, outcome) -> count; outcomes: published, delivered, rejected, dropped
        self.counters = counters
        self.watch = _ConnectionWatch(self._refuse_unwelcome)
        self._links = LinkWatch(pubsub, config.link_stall_s)
        self._quiet = QuietLinks()
        self.peer_links = PeerLinks(wall_clock_ms)
        """Each persistent peer's link (connected, since when, the last dial's error)."""
        self.peer_id = str(host.get_id())
        self.allowed_peers = config.allowed_peers
        pubsub.admits = lambda peer: self.is_allowed(str(peer)) and str(peer) not in self._banned
        if gate.ours is not None:
            host.set_stream_handler(TProtocol(GENESIS_PROTOCOL), self._answer_handshake)

    # -- identity and peers -------------------------------------------------

    def listen_addrs(self) -> list[str]:
        """Dialable multiaddrs of this node, each ending in /p2p/<peer id>."""
        return [f"{addr}/p2p/{self.peer_id}" for addr in self._host.get_transport_addrs()]

    def is_allowed(self, peer: str) -> bool:
        return self.allowed_peers is None or peer in self.allowed_peers

    def set_allowed_peers(self, peers: frozenset[str] | None) -> None:
        """From now on only `peers` (None: everyone) talk to this host, as the validator set
        changes: the connections of a peer no longer allowed are closed (said once), and
        one allowed again is welcome at its next dial."""
        self.allowed_peers = peers
        for peer in peers or ():
            self._strangers.pop(peer, None)
        for peer in self._host.get_connected_peers():
            if self.is_allowed(str(peer)) or str(peer) in self._strangers:
                continue
            log.info("closing the connections of %s: no longer a validator or observer", peer)
            self._remember_stranger(str(peer))
            self.counters["connections", "closed_not_allowed"] += 1
            self._nursery.start_soon(self._close_peer, peer)
        self.watch._notify()

    async def _close_peer(self, peer: ID) -> None:
        await self._abort_connections(peer)
        await self._disconnect_quietly(peer)

    def connected_peers(self) -> list[str]:
        """Allowed peers of our genesis with a connection that is not closed (see
        `_live_connections`)."""
        return sorted(
            str(p)
            for p in self._host.get_connected_peers()
            if self.is_allowed(str(p)) and self._gate.is_admitted(str(p))
            and self._live_connections(p)
        )  # fmt: skip

    def _live_connections(self, peer: ID) -> list[INetConn]:
        """`peer`'s connections that are not closed.

        py-libp2p can keep a connection the other side closed (a refused one, a ban)
        registered, closed and shutting down, for seconds after the close; it still
        counts as connected there, and `host.connect` returns at once on it without
        dialling, so a request right after fails with "No valid connections".
        """
        return [c for c in self._host.get_network().get_connections(peer) if not c.is_closed]

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
            answer = await self.request(
                peer, CLIQUE_LINKS_PROTOCOL, encode_links(live), MAX_LINKS_BYTES, MAX_LINKS_BYTES
            )
            links.note_said(peer, decode_links(answer))
            links.told[peer] = live
        except DecodeError as exc:
            log.info("clique links from %s refused: %s", peer, exc)
            self.penalize(peer, Offence.BAD_RESPONSE)
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
        return sorted(str(p) for p in self._router.mesh.get(self._topic(topic).name, ()))

    async def wait_for_mesh(self, topic: str, count: int) -> None:
        """Returns once `count` peers are in this node's mesh for `topic`."""
        while len(self.get_mesh_peers(topic)) < count:
            changed = self.watch.changed
            with trio.move_on_after(0.02):
                await changed.wait()

    def is_banned(self, peer: str) -> bool:
        return peer in self._banned

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
        if self._host.get_network().get_connections(info.peer_id) and not self._live_connections(
            info.peer_id
        ):
            # Closed but still registered: the library would take it for a connection.
            self.counters["connections", "stale_dropped"] += 1
            await self._disconnect_quietly(info.peer_id)
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
            if peer in self._banned or connected or not self.is_allowed(peer):
                await self._wait_for_change()
                continue
            cap_s = self.config.backoff_cap_s
            try:
                await self.connect(addr)
                if not await self._gate.wait(peer):
                    theirs = self._gate.get_other_genesis(peer)
                    if theirs is not None:
                        reason = f"it runs another genesis ({theirs.hex()[:16]}...)"
                        self.peer_links.record_failure(LIBP2P, peer, reason, logged=True)
                        log.debug("redial %s in %.0fs: another genesis", peer,
                                  OTHER_GENESIS_REDIAL_S)  # fmt: skip
                        await trio.sleep(OTHER_GENESIS_REDIAL_S)
                        continue
                    # A connection no handshake spoke on (two dials crossed, and the one
                    # both spoke on closed) would never be asked again: a new one is.
                    await self._close_peer(ID.from_base58(peer))
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
        without a disconnect notification (see `_live_connections`)."""
        changed = self.watch.changed
        with trio.move_on_after(self.config.link_check_s):
            await changed.wait()

    def _get_admitted_peers(self) -> list[ID]:
        """Connected peers past the genesis handshake and not banned: whose links the
        link checks and the probes watch."""
        return [
            p for p in self._host.get_connected_peers()
            if str(p) not in self._banned and self._gate.is_admitted(str(p))
        ]  # fmt: skip

    async def probe_quiet_links(self) -> None:
        """Probes each admitted peer heard nothing from lately (node/p2p/probes.py);
        runs forever."""
        while True:
            await trio.sleep(self.config.link_check_s)
            connected = [str(p) for p in self._get_admitted_peers()]
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
                await self._abort_connections(ID.from_base58(peer))
                await self._disconnect_quietly(ID.from_base58(peer))
        finally:
            self._quiet.probing.discard(peer)

    async def watch_links(self) -> None:
        """Closes the connection of a peer whose gossip link died; runs forever.

        The redial of persistent peers (ours or the peer's) then opens a fresh
        connection, on which both sides announce their subscriptions again.
        """
        while True:
            await trio.sleep(self.config.link_check_s)
            connected = self._get_admitted_peers()
            for peer, reason in self._links.find_dead_links(connected, trio.current_time()):
                log.warning("closing the connection to %s: %s", peer, reason)
                self.counters["links", "closed_dead"] += 1
                await self._abort_connections(peer)
                await self._disconnect_quietly(peer)

    async def _abort_connections(self, peer: ID) -> None:
        """Closes the TCP transport under every connection to `peer`.

        py-libp2p's close first writes a yamux GO_AWAY under the lock a blocked writer
        holds: to a frozen peer it never returns, and cancelling it leaves the
        connection marked closed yet still registered. A closed transport fails the
        blocked writes at once, and the library's close then completes.
        """
        for conn in self._host.get_network().get_connections(peer):
            with trio.move_on_after(1):
                try:
                    await conn.muxed_conn.secured_conn.close()
                except Exception as exc:  # the library raises several types here
                    log.debug("closing the transport to %s failed: %s", peer, exc)

    async def _disconnect_quietly(self, peer: ID) -> None:
        with trio.move_on_after(5):
            try:
                await self._host.disconnect(peer)
            except Exception as exc:  # the library raises several types for a closing conn
                log.info("closing the connection to %s failed: %s", peer, exc)

    # -- scoring --------------------------------------------------------------

    def penalize(self, peer: str, offence: Offence) -> None:
        """Scores `peer` down; at the floor it is disconnected and refused for `ban_s`.

        The ban is ours alone (`_validate` drops the peer's gossip, `_refuse_unwelcome`
        its connections), never `Pubsub.add_to_blacklist`: in py-libp2p 0.8.1 that
        schedules `Pubsub._teardown_if_connected`, which deletes `peers[peer]` after
        awaiting a stream reset; a write to the peer failing meanwhile has already
        deleted it (`_handle_dead_peer`), the KeyError ends the pubsub service, and
        with it the node. Closing the connection instead runs the library's own
        consistent cleanup.
        """
        if peer == self.peer_id:
            return
        banned = self.scores.process_offence(peer, offence)
        score = self.scores.get_score(peer)
        log.info("peer %s offence %s: -%d, score %d", peer, offence.name, offence.penalty, score)
        if not banned:
            return
        self._banned.add(peer)
        self.counters["peers", "banned"] += 1
        until = datetime.now(UTC) + timedelta(seconds=self.config.scores.ban_s)
        log.warning(
            "banning peer %s for %.0fs until %s: offence %s took its score to %d (ban at %d)",
            peer, self.config.scores.ban_s, until.isoformat(timespec="seconds"),
            offence.name, score, self.config.scores.ban_at,
        )  # fmt: skip
        self._nursery.start_soon(self._serve_ban, peer)

    def _refuse_unwelcome(self, conn: INetConn) -> None:
        """A connection (it dialled us, or we it) with a banned peer or one outside
        `allowed_peers` is closed at once.

        The identity is known only after the Noise handshake, so this is the earliest
        point; until the close lands, the peer's gossip is dropped (`_validate`, and
        node/p2p/pubsub.py opens no gossip stream to a peer not allowed) and request
        streams from it are closed unanswered. A peer not allowed has done nothing
        wrong: it is counted, logged once, never scored.
        """
        peer = str(conn.muxed_conn.peer_id)
        if not self.is_allowed(peer):
            self.counters["connections", "refused_not_allowed"] += 1
            if peer not in self._strangers:
                log.info("refusing connections from %s: not a validator or observer", peer)
                self._remember_stranger(peer)
            self._nursery.start_soon(self._close_quietly, conn)
        elif peer in self._banned:
            log.info("refusing a connection from banned peer %s", peer)
            self.counters["connections", "refused"] += 1
            self._refused[peer] += 1
            self._nursery.start_soon(self._close_quietly, conn)
        elif self._gate.ours is not None:
            self._nursery.start_soon(self._shake_hands, conn)

    # -- the genesis handshake (node/p2p/genesis.py) ------------------------------

    async def _shake_hands(self, conn: INetConn) -> None:
        """Our side of a new connection's genesis handshake, then the verdict of either
        side's: the peer admitted, refused for another genesis, or (no hash within
        HANDSHAKE_TIMEOUT_S) its connection closed."""
        peer_id = conn.muxed_conn.peer_id
        peer = str(peer_id)
        with trio.move_on_after(HANDSHAKE_TIMEOUT_S):
            try:
                await self._say_genesis(peer_id)
            except Exception as exc:  # dial, negotiation, stream and decode errors alike
                log.debug("genesis handshake with %s: %s: %s", peer, type(exc).__name__, exc)
        if await self._gate.wait(peer):
            self.watch._notify()
            return
        # not the hash of this connection's handshake: the peer may have said it on another
        # connection (two dials crossing), which it closed since
        theirs = self._gate.get_other_genesis(peer)
        if theirs is None:
            if not conn.is_closed:
                log.info("closing a connection to %s: no genesis handshake", peer)
                self.counters["connections", "genesis_handshake_failed"] += 1
                await self._close_quietly(conn)
            return
        ours = self._gate.ours
        assert ours is not None  # a handshake runs only with a genesis of ours
        addresses = ", ".join(str(a) for a in conn.get_transport_addresses())
        self.other_genesis.refuse(OtherGenesisPeer(
            "libp2p", peer, addresses or "an unknown address", f"genesis 0x{theirs.hex()}",
            f"genesis 0x{ours.hex()}",
        ))  # fmt: skip
        await self._close_peer(peer_id)

    async def _say_genesis(self, peer: ID) -> None:
        """Sends our hello on a new stream and learns the peer's from its answer."""
        ours = self._gate.ours
        assert ours is not None
        stream = await self._host.new_stream(peer, [TProtocol(GENESIS_PROTOCOL)])
        try:
            await stream.write(encode_frame(GenesisHello(ours).encode(), MAX_HELLO_BYTES))
            answer = await _stream_reader(stream).read_frame(MAX_HELLO_BYTES)
        finally:
            await stream.close()
        if answer is None:
            raise FrameError("the peer closed the handshake without a hello", 0, 1)
        theirs = GenesisHello.decode(answer).genesis_hash
        self._gate.learn(str(peer), stream.muxed_conn, theirs)

    async def _answer_handshake(self, stream: INetStream) -> None:
        """The peer's side of the handshake: its hello learnt before ours is written, so
        that a peer that read our answer finds its own hash known here."""
        ours = self._gate.ours
        assert ours is not None
        peer = str(stream.muxed_conn.peer_id)
        try:
            if self.is_allowed(peer) and peer not in self._banned:
                hello = await _stream_reader(stream).read_frame(MAX_HELLO_BYTES)
                if hello is not None:
                    theirs = GenesisHello.decode(hello).genesis_hash
                    self._gate.learn(peer, stream.muxed_conn, theirs)
                    await stream.write(encode_frame(GenesisHello(ours).encode(), MAX_HELLO_BYTES))
        except (MessageTooLarge, FrameError, StreamError, ValueError) as exc:
            log.debug("genesis handshake from %s: %s", peer, exc)
        finally:
            await stream.close()

    def _remember_stranger(self, peer: str) -> None:
        self._strangers[peer] = None
        while len(self._strangers) > STRANGERS_LOGGED:
            self._strangers.popitem(last=False)

    async def _close_quietly(self, conn: INetConn) -> None:
        with trio.move_on_after(5):
            try:
                await conn.close()
            except Exception as exc:  # the library raises several types for a closing conn
                log.debug("closing a refused connection failed: %s", exc)

    async def _serve_ban(self, peer: str) -> None:
        ends = trio.current_time() + self.config.scores.ban_s
        await self._disconnect_quietly(ID.from_base58(peer))
        await trio.sleep_until(ends)
        self._banned.discard(peer)
        self.scores.forget(peer)
        log.warning(
            "ban of peer %s ended; %d of its connections were refused meanwhile",
            peer, self._refused.pop(peer, 0),
        )  # fmt: skip
        self.watch._notify()

    # -- gossip ---------------------------------------------------------------

    def _topic(self, name: str) -> Topic:
        topic = self._topics.get(name)
        if topic is None:
            raise UnknownTopic(name, tuple(self._topics))
        return topic

    def get_topic(self, name: str) -> Topic:
        """The topic this node serves as `name` (its admit holds first-hop state to read)."""
        return self._topic(name)

    def messages(self, topic: str) -> trio.MemoryReceiveChannel[Delivery]:
        """Validated messages of other nodes on `topic` (own publications are not echoed)."""
        return self._inboxes[self._topic(topic).name][1]

    async def publish(self, topic: str, data: bytes) -> None:
        """Gossips `data`; waits while a peer queue is long (py-libp2p drops past 32), but
        at most `publish_wait_s`: a peer whose queue does not drain (py-libp2p ends a
        peer's sending loop at a failed write yet keeps queueing for it) then misses the
        message, instead of every peer missing every message.

        Such a peer then lags, and holds no publish back until its queue is empty: a
        slow reader (a starved full node) would otherwise cost every message of ours
        `publish_wait_s`, and the validators' consensus would move at its pace."""
        spec = self._topic(topic)
        if len(data) > spec.max_bytes:
            raise MessageTooLarge(f"message on {topic}", len(data), spec.max_bytes)
        with trio.move_on_after(self.config.publish_wait_s) as waited:
            while long := self._get_long_queues():
                await trio.sleep(0.002)
        if waited.cancelled_caught:
            self._lagging |= long
            self.counters[topic, "publish_wait_expired"] += 1
        await self._pubsub.publish(topic, data)
        self.counters[topic, "published"] += 1

    def is_congested(self) -> bool:
        """Whether a publish now would wait for a long peer queue (see `publish`)."""
        return bool(self._get_long_queues())

    def _get_long_queues(self) -> set[Any]:
        """Peers a publish waits for: a long queue, not lagging (a drained one no longer
        lags; a disconnected one is forgotten)."""
        queues = self._pubsub.peer_queues
        self._lagging = {p for p in self._lagging if p in queues and len(queues[p]) > 0}
        high = self.config.publish_queue_high
        return {p for p, q in queues.items() if len(q) > high and p not in self._lagging}

    def _validate(self, forwarder: ID, msg: rpc_pb2.Message) -> bool:
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
            self.counters[name, "rejected_again"] += 1
            return False
        if peer in self._banned:
            # Not remembered: an honest forwarder may relay the same message later.
            self.counters[name, "from_banned"] += 1
            return False
        if not self.is_allowed(peer):
            self.counters[name, "from_not_allowed"] += 1
            return False
        if spec is None:
            return self._reject(key, name, peer, Offence.INVALID)
        if len(msg.data) > spec.max_bytes:
            return self._reject(key, name, peer, Offence.OVERSIZED)
        try:
            with self.work.measure(GOSSIP_DECODE):
                value = spec.decode(msg.data)
        except spec.ignores as exc:
            log.debug("ignored %s message from %s: %s", spec.name, peer, exc)
            self.counters[name, "ignored"] += 1
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
        self.scores.process_valid(peer)
        self._stash[msg.from_id + msg.seqno] = value
        while len(self._stash) > DECODED_STASH:
            self._stash.popitem(last=False)
        return True

    def _reject(self, key: bytes, topic: str, peer: str, offence: Offence | None) -> bool:
        self.counters[topic, "rejected"] += 1
        self._remember_refused(key)
        if offence is not None:
            self.penalize(peer, offence)
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
                    self.counters[topic.name, "dropped"] += 1
                    continue
            try:
                send.send_nowait(Delivery(topic.name, str(ID(msg.from_id)), value))
                self.counters[topic.name, "delivered"] += 1
            except trio.WouldBlock:
                self.counters[topic.name, "dropped"] += 1

    # -- request / response ---------------------------------------------------

    def set_request_handler(
        self, protocol: str, handler: RequestHandler, max_request_bytes: int
    ) -> None:
        """Serves `protocol`: one framed request in, one framed response out per stream."""
        self._protocols[protocol] = _Protocol(handler, max_request_bytes)
        self._host.set_stream_handler(TProtocol(protocol), self._serve_stream)

    async def _serve_stream(self, stream: INetStream) -> None:
        protocol = self._protocols[str(stream.get_protocol())]
        peer = str(stream.muxed_conn.peer_id)
        self._quiet.note_heard(peer, trio.current_time())
        if peer in self._banned or not self.is_allowed(peer) or not await self._gate.wait(peer):
            self.counters["requests", "refused"] += 1
            await stream.close()
            return
        try:
            request = await _stream_reader(stream).read_frame(protocol.max_request_bytes)
            if request is None:
                return
            response = await protocol.handler(peer, request)
            await stream.write(len(response).to_bytes(4, "big") + response)
            self.sent_bytes[str(stream.get_protocol())] += 4 + len(response)
        except (MessageTooLarge, ValueError) as exc:
            # Handlers raise ValueError subclasses (typed decode errors) for bad requests.
            log.info("bad request from %s: %s", peer, exc)
            self.penalize(
                peer, Offence.OVERSIZED if isinstance(exc, MessageTooLarge) else Offence.UNDECODABLE
            )
        except (FrameError, StreamError) as exc:
            # The asker went away mid-request (a restart, a closed connection): not malice.
            log.debug("request stream from %s broke: %s", peer, exc)
            self.counters["requests", "broken"] += 1
        finally:
            await stream.close()

    async def request(
        self,
        peer: str,
        protocol: str,
        payload: bytes,
        max_request_bytes: int,
        max_response_bytes: int,
    ) -> bytes:
        """Sends one request and returns the response payload; RequestFailed on any failure.

        Only over a live connection: opening a stream to an unconnected peer would make
        py-libp2p dial it, and a peer that bans us would then be dialled by every request
        (several times a second), bypassing `keep_connected`'s backoff."""
        if peer not in self.connected_peers():
            self.counters["requests", "not_connected"] += 1
            raise RequestFailed(peer, protocol, "not connected (keep_connected redials it)")
        frame = encode_frame(payload, max_request_bytes)
        with trio.move_on_after(self.config.request_timeout_s):
            try:
                stream = await self._host.new_stream(ID.from_base58(peer), [TProtocol(protocol)])
            except Exception as exc:  # dial, negotiation and muxer errors have no common base
                raise RequestFailed(peer, protocol, f"{type(exc).__name__}: {exc}") from exc
            try:
                await stream.write(frame)
                self.sent_bytes[protocol] += len(frame)
                response = await _stream_reader(stream).read_frame(max_response_bytes)
            except MessageTooLarge as exc:
                self.penalize(peer, Offence.OVERSIZED)
                raise RequestFailed(peer, protocol, str(exc)) from exc
            except (FrameError, StreamError) as exc:
                # The server went away mid-answer (a restart, a closed connection): not malice.
                self.counters["requests", "broken"] += 1
                raise RequestFailed(peer, protocol, f"stream broke: {exc}") from exc
            finally:
                # also when the caller cancelled it (a hedged block sync took another
                # peer's answer): the stream must not stay open on the connection
                with trio.move_on_after(STREAM_CLOSE_S, shield=True):
                    await stream.close()
            if response is None:
                raise RequestFailed(peer, protocol, "stream closed without a response")
            return response
        raise RequestFailed(peer, protocol, f"no response within {self.config.request_timeout_s}s")


MUXERS: dict[str, tuple[str, type]] = {
    "yamux": (YAMUX_PROTOCOL_ID, Yamux),
    "mplex": (MPLEX_PROTOCOL_ID, Mplex),
}


async def _open_exclusive_listeners(host: str | None, port: int) -> list[trio.SocketListener]:
    """Plain listeners (SO_REUSEADDR only, as trio's): a port another socket listens on
    is refused, so a second node given the same port cannot start beside the first."""
    return list(await trio.open_tcp_listeners(port, host=host))


def _listen_exclusively() -> None:
    """py-libp2p 0.8.1 listens with SO_REUSEPORT, for NAT hole punching (which we do not
    use): two nodes started at once on one port both listened, and the kernel split the
    inbound connections between them. Its listener opens its sockets with this function."""
    if not hasattr(libp2p_tcp, "_open_reuseport_listeners"):
        raise RuntimeError("py-libp2p's TCP listener changed: revisit _listen_exclusively")
    libp2p_tcp._open_reuseport_listeners = _open_exclusive_listeners


DIAL_ERROR_DEPTH = 16
"""Wrappers a dial's error is looked through for its cause (py-libp2p 0.8.1: six)."""


def describe_dial_failure(exc: BaseException) -> str:
    """What made a dial fail, for an operator: py-libp2p wraps the socket's error (e.g.
    `ConnectionRefusedError: [Errno 111] ...`) four deep, under "unable to connect ...,
    no addresses established a successful connection (with exceptions)"."""
    cause = get_dial_cause(exc)
    return f"{type(cause).__name__}: {cause}"


def get_dial_cause(exc: BaseException) -> BaseException:
    """The innermost error under a failed dial's wrappers."""
    cause = exc
    for _ in range(DIAL_ERROR_DEPTH):
        inner = getattr(cause, "errors", None) or getattr(cause, "exceptions", None)
        found = inner[0] if inner else cause.__cause__
        if found is None:
            break
        cause = found
    return cause


TCP_CONNECT_S = 2.0
"""Longest a dial waits for the peer's host to answer its TCP connection: a round trip
across the world, and one SYN lost and resent after the kernel's first second."""


class TcpNoAnswer(OpenConnectionError):
    """No host answered a dial's TCP connection within `TCP_CONNECT_S`."""


def _bound_tcp_connects() -> None:
    """py-libp2p 0.8.1 waits on a dial's TCP connection as long as the kernel does.
    While a link is down the kernel resends the SYN 1, 3, 7, 15, 31 and 63 s after the
    first, so a dial begun during a partition connected at the first resend after the
    link came back: 7 s after a 60 s split healed (python -m bench partitions), half a
    minute after a longer one. A dial given up after `TCP_CONNECT_S` is redialled with
    a fresh SYN instead (`keep_connected`)."""
    dial = libp2p_tcp.TCP.dial
    if getattr(dial, "bounded", False):
        return

    async def bounded_dial(transport: libp2p_tcp.TCP, maddr: multiaddr.Multiaddr) -> Any:
        with trio.move_on_after(TCP_CONNECT_S):
            return await dial(transport, maddr)
        raise TcpNoAnswer(f"no answer from {maddr} within {TCP_CONNECT_S} s")

    bounded_dial.bounded = True  # type: ignore[attr-defined]
    libp2p_tcp.TCP.dial = bounded_dial  # type: ignore[method-assign, assignment]


def _dial_at_once() -> None:
    """py-libp2p 0.8.1 dials a peer's best address, then waits 250 ms (happy eyeballs)
    for it to fail before trying a second address of another transport, even when the
    dial has succeeded: every connect took 250 ms, not the 6 ms a loopback dial takes.
    It picks at most one address per transport, so a host with TCP alone has no second
    address to wait for."""
    if not hasattr(libp2p_swarm, "_HAPPY_EYEBALLS_DELAY"):
        raise RuntimeError("py-libp2p's dialer changed: revisit _dial_at_once")
    libp2p_swarm._HAPPY_EYEBALLS_DELAY = 0


def _build_host(config: HostConfig) -> Any:
    _listen_exclusively()
    _dial_at_once()
    _bound_tcp_connects()
    verify_each_record_once()
    # py-libp2p's yamux sends a window update after every read by default, and
    # pubsub reads its varint lengths one byte at a time: three times the
    # latency measured here with four hosts. Batch the updates (go-yamux style).
    os.environ.setdefault("PY_YAMUX_RELEASE_ON_READ", "0")
    key_pair = create_new_key_pair(config.key_seed)
    muxer_id, muxer = MUXERS[config.muxer]
    noise = NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)
    host = new_host(
        key_pair=key_pair,
        sec_opt={NOISE_PROTOCOL_ID: noise},
        muxer_opt={TProtocol(muxer_id): muxer},
        # No background dialling of every peer ever seen: persistent peers are ours to redial.
        connection_config=ConnectionConfig(min_connections=0, low_watermark=0),
    )
    route_library_logs()
    # We own redialling (with backoff); the library's own retries would stall a dial for seconds.
    network = host.get_network()
    assert isinstance(network, Swarm), "new_host builds a Swarm"
    network.retry_config = RetryConfig(max_retries=0)
    return host


@asynccontextmanager
async def open_p2p(
    config: HostConfig, topics: Sequence[Topic], work: WorkTime | None = None
) -> AsyncIterator[P2PNode]:
    """Runs a host subscribed to `topics`, dialling the persistent peers, until the block
    exits; `work` hears the time its first-hop checks take."""
    host = _build_host(config)
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
                for topic in topics:
                    pubsub.set_topic_validator(topic.name, node._validate, False)
                    subscription = await pubsub.subscribe(topic.name)
                    nursery.start_soon(node._pump, topic, subscription)
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
                    await _close(host)
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
        await _close(host)


def _is_teardown_race(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_teardown_race(e) for e in exc.exceptions)
    return isinstance(exc, RuntimeError) and "closed to new arrivals" in str(exc)


async def _close(host: Any) -> None:
    """Closes every connection so peers notice at once (leaving `host.run` does not).

    All at once: py-libp2p closes them one after another and sleeps 0.2 s in each close,
    so a node with four peers took 0.8 s to stop."""
    with trio.CancelScope(shield=True), trio.move_on_after(5):
        async with trio.open_nursery() as nursery:
            for connections in list(host.get_network().connections.values()):
                for connection in list(connections):
                    nursery.start_soon(_close_connection, connection)
        await host.close()


async def _close_connection(connection: INetConn) -> None:
    try:
        await connection.close()
    except Exception as exc:  # the library raises several types for a closing conn
        log.debug("closing a connection failed: %s", exc)
